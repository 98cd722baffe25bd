"""wslalloc service: the systemd drop-in, its recordings directory, and ls/report/top finding a service's recordings safely."""
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile

from harness import SHIM, TOOL, check, equal, finish, run, skip

if os.geteuid() != 0:
    skip("needs root: it gives directories to other users")
try:
    NOBODY = pwd.getpwnam("nobody")
    NOGROUP = grp.getgrnam("nogroup")
except KeyError:
    skip("no user nobody or group nogroup here")


def tool(*args, env=None, user=None, groups=()):
    """The tool, as root or as another user (with supplementary groups)."""
    def drop():
        os.setgroups(list(groups))
        os.setgid(OUTSIDER_GID)  # nobody's own group is nogroup: another, unnamed
        os.setuid(user.pw_uid)
    return subprocess.run([TOOL_COPY, *args], capture_output=True, text=True, timeout=120,
                          env=env, preexec_fn=drop if user else None)


OUTSIDER_GID = next(g for g in range(54321, 60000) if g not in {e.gr_gid for e in grp.getgrall()})


def dropin(root, unit):
    with open(os.path.join(root, "etc/systemd/system", unit + ".service.d",
                           "wslalloc.conf")) as f:
        text = f.read()
    env = {}
    for line in text.splitlines():
        if line.startswith('Environment="') and line.endswith('"'):
            k, _, v = line[len('Environment="'):-1].partition("=")
            env[k] = v
    return text, env


# A world-readable place for the tool and the roots, so that nobody can
# run and look into them.
base = tempfile.mkdtemp(prefix="wsla-service-", dir="/tmp")
os.chmod(base, 0o755)
TOOL_COPY = TOOL  # the build tree is readable by all here; checked below
check(os.access(TOOL, os.X_OK), "the tool is executable")
root = os.path.join(base, "root")
os.mkdir(root, 0o755)

# --dry-run prints and changes nothing.
r = tool("service", "ollama", "--root", root, "--dry-run")
equal(r.returncode, 0, f"service --dry-run exit status ({r.stderr})")
check("Environment=\"LD_PRELOAD=" in r.stdout and "systemctl daemon-reload" in r.stdout
      and "systemctl restart ollama" in r.stdout, f"dry run shows the drop-in and the commands: {r.stdout}")
equal(os.listdir(root), [], "--dry-run wrote nothing")

# The drop-in and the directory, for Ollama's service run by user nobody.
r = tool("service", "ollama", "--root", root, "--user", "nobody", "--group", "nogroup",
         "--wsl", "--limit", "16G", "--set", "WSLALLOC_KEEP=50")
equal(r.returncode, 0, f"service ollama exit status ({r.stderr})")
text, env = dropin(root, "ollama")
lib = env.get("LD_PRELOAD", "")
check(os.path.isabs(lib) and os.path.isfile(lib), f"LD_PRELOAD names an existing absolute path: {lib!r}")
check(os.path.isfile(lib) and os.path.samefile(lib, SHIM), f"LD_PRELOAD is the library built here: {lib!r}")
equal(env.get("WSLALLOC_DIR"), "/var/lib/wslalloc/ollama", "the service's WSLALLOC_DIR")
equal({k: env.get(k) for k in ("WSLALLOC_PROFILE", "WSLALLOC_LIMIT", "WSLALLOC_KEEP")},
      {"WSLALLOC_PROFILE": "wsl", "WSLALLOC_LIMIT": "16G", "WSLALLOC_KEEP": "50"},
      "the options in the drop-in")
check("[Service]" in text, "the drop-in has a [Service] section")
recdir = os.path.join(root, "var/lib/wslalloc/ollama")
st = os.lstat(recdir)
equal((st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))),
      (NOBODY.pw_uid, NOGROUP.gr_gid, oct(0o2750)), "the directory's owner, group and mode")
check("systemctl daemon-reload" in r.stdout and "systemctl restart ollama" in r.stdout,
      "it prints the two commands that apply it")
check("Until the restart nothing changes" in r.stdout, "it says what changes for the running service")

# Another unit: its user comes from the unit file's User=.
os.makedirs(os.path.join(root, "lib/systemd/system"))
with open(os.path.join(root, "lib/systemd/system/llama-server.service"), "w") as f:
    f.write("[Unit]\nDescription=llama\n[Service]\nUser=nobody\nExecStart=/usr/bin/llama-server\n")
r = tool("service", "--unit", "llama-server.service", "--root", root, "--group", "nogroup")
equal(r.returncode, 0, f"service --unit llama-server exit status ({r.stderr})")
st = os.lstat(os.path.join(root, "var/lib/wslalloc/llama-server"))
equal(st.st_uid, NOBODY.pw_uid, "the unit file's User= owns the directory")

# A library the service's user cannot reach is told, not silently ignored
# at the service's start.
private = os.path.join(base, "private")
os.mkdir(private, 0o700)
shutil.copy(SHIM, private)
r = tool("service", "private-lib", "--root", root, "--user", "nobody", "--group", "nogroup",
         "--lib", os.path.join(private, os.path.basename(SHIM)))
check(r.returncode == 0 and "user nobody may not be able to read" in r.stderr,
      f"a library nobody cannot read is warned of: {r.stderr!r}")
public = os.path.join(base, "public")
os.mkdir(public, 0o755)
shutil.copy(SHIM, public)
os.chmod(os.path.join(public, os.path.basename(SHIM)), 0o755)
r = tool("service", "public-lib", "--root", root, "--user", "nobody", "--group", "nogroup",
         "--lib", os.path.join(public, os.path.basename(SHIM)))
check(r.returncode == 0 and "may not be able to read" not in r.stderr,
      f"a library in a public directory draws no warning: {r.stderr!r}")

# Odd input: one line and the hint, status 2, nothing written.
for args, what in ((["../etc"], "a unit name with a slash"),
                   (["--unit", "-x"], "a unit name with a leading dash"),
                   (["--set", "WSLALLOC_LIMIT=lots"], "a bad option value"),
                   (["--set", "LD_AUDIT=x"], "a variable that is not an option"),
                   (["--dir", "/var/lib/a b"], "a directory with a space"),
                   (["--set", 'WSLALLOC_DIR=/x"\nExecStartPre=/bin/sh'], "an injected line")):
    r = tool("service", *args, "--root", root)
    lines = r.stderr.splitlines()
    equal((r.returncode, len(lines), lines[-1] if lines else ""),
          (2, 2, "try 'wslalloc service --help'"), f"{what}: {r.stderr!r}")

# --remove takes the drop-in away and keeps the recordings.
r = tool("service", "llama-server", "--root", root, "--remove")
equal(r.returncode, 0, f"--remove exit status ({r.stderr})")
check(not os.path.exists(os.path.join(root, "etc/systemd/system/llama-server.service.d")),
      "--remove removed the drop-in")
check(os.path.isdir(os.path.join(root, "var/lib/wslalloc/llama-server")), "--remove kept the recordings")

# A service's recordings: a service run as root (a unit without User=),
# its directory readable by group nogroup.
r = tool("service", "vllm", "--root", root, "--user", "root", "--group", "nogroup")
equal(r.returncode, 0, f"service vllm exit status ({r.stderr})")
svc_dir = os.path.join(root, "var/lib/wslalloc/vllm")
made = run("crash", ["exit"], rec_dir=svc_dir)
equal(made.rc, 3, "the client's own status")
recs = made.recordings()
equal(len(recs), 1, "one recording in the service's directory")
if recs:
    st = os.lstat(recs[0])
    equal((oct(stat.S_IMODE(st.st_mode)), st.st_gid), (oct(0o640), NOGROUP.gr_gid),
          "a shared directory's recording is 0640, of its group")

own = tempfile.mkdtemp(prefix="own-", dir=base)
os.chmod(own, 0o755)
env = {k: v for k, v in os.environ.items() if not k.startswith("WSLALLOC_")}
env.update(WSLALLOC_SERVICE_ROOT=root, WSLALLOC_DIR=own)
r = tool("ls", "--json", env=env)
equal(r.returncode, 0, f"ls exit status ({r.stderr})")
listed = [e["recording"] for e in json.loads(r.stdout or "[]")]
equal(listed, recs, "ls lists the service's recording besides the user's own (none)")
r = tool("report", "--json", env=env)
equal(r.returncode, 0, f"report exit status ({r.stderr})")
rep = json.loads(r.stdout or "{}")
equal(rep.get("recording"), recs[0] if recs else None, "report takes the service's recording as the newest")

# Hostile entries in the service's directory are not read: a link, a FIFO,
# a file others may read.
if recs:
    os.symlink(recs[0], os.path.join(svc_dir, "link.1.wsla"))
    os.mkfifo(os.path.join(svc_dir, "fifo.2.wsla"), 0o640)
    shutil.copy(recs[0], os.path.join(svc_dir, "open.3.wsla"))
    os.chmod(os.path.join(svc_dir, "open.3.wsla"), 0o644)
    shutil.copy(recs[0], os.path.join(svc_dir, "other.4.wsla"))
    os.chmod(os.path.join(svc_dir, "other.4.wsla"), 0o640)
    os.chown(os.path.join(svc_dir, "other.4.wsla"), NOBODY.pw_uid, NOGROUP.gr_gid)
    r = tool("ls", "--json", env=env)
    listed = [e["recording"] for e in json.loads(r.stdout or "[]")]
    equal(listed, recs, "ls skips a link, a FIFO, a world-readable file and another "
          "owner's in a service directory")
    check("skipping" in r.stderr, f"ls says what it skipped: {r.stderr!r}")
    for n in ("link.1.wsla", "fifo.2.wsla", "open.3.wsla", "other.4.wsla"):
        os.unlink(os.path.join(svc_dir, n))

# A user outside the group is told which group to join; one inside reads it.
# Nobody's own recordings folder is nobody's: the tools, as the library,
# refuse a folder of someone else's.
nobody_own = tempfile.mkdtemp(prefix="nobody-", dir=base)
os.chown(nobody_own, NOBODY.pw_uid, NOGROUP.gr_gid)
r = tool("ls", "--json", env=dict(env, WSLALLOC_DIR=nobody_own), user=NOBODY)
equal(r.returncode, 0, f"ls as nobody exit status ({r.stderr})")
equal(json.loads(r.stdout or "[]"), [], "nobody, outside the group, lists nothing")
check(f"cannot read the service recordings in {svc_dir}: join group nogroup" in r.stderr,
      f"ls names the directory and the group to join: {r.stderr!r}")
r = tool("ls", "--json", env=dict(env, WSLALLOC_DIR=nobody_own), user=NOBODY, groups=(NOGROUP.gr_gid,))
listed = [e["recording"] for e in json.loads(r.stdout or "[]")]
equal(listed, recs, f"a member of the group lists the service's recording ({r.stderr})")

shutil.rmtree(base, ignore_errors=True)
finish()
