"""A recording made in another pid namespace (a container) reports correctly outside it: its pid marked as the container's, and whether it runs judged by namespace, never by a pid that means another process here."""
import json
import os
import subprocess
import tempfile
import time

from harness import CLIENTS, TOOL, check, env_for, equal, finish, skip

if os.geteuid() != 0:
    skip("needs root for unshare --pid")
probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                       capture_output=True, text=True)
if probe.returncode != 0:
    skip(f"unshare --pid does not work here: {probe.stderr.strip()}")

MiB = 1 << 20


def tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"wslalloc {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def in_container(mode, rec_dir):
    """crash MODE as pid 1 of a new pid namespace with its own /proc, as a
    container runs it; the recordings directory is shared with the host."""
    env = env_for("cuda13", True, rec_dir=rec_dir)
    cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
           os.path.join(CLIENTS, "crash"), mode]
    return cmd, env


# A run that ends: crash exit holds 64 + 16 MiB at the end, 112 MiB at peak,
# and exits 3.
rec_dir = tempfile.mkdtemp(prefix="wsla-ctr-")
cmd, env = in_container("exit", rec_dir)
p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
equal(p.returncode, 3, f"the client's status through unshare ({p.stderr})")
recs = [os.path.join(rec_dir, f) for f in os.listdir(rec_dir) if f.endswith(".wsla")]
equal([os.path.basename(r) for r in recs], ["crash.1.wsla"], "one recording, named by the container's pid")
if recs:
    rep = json.loads(tool("report", "--json", recs[0]) or "{}")
    proc = rep.get("process", {})
    equal((proc.get("pid"), proc.get("pid_namespace"), proc.get("end")),
          (1, "other", "exit"), "pid 1 of another namespace, ended by exit")
    dev = (rep.get("devices") or [{}])[0]
    equal((dev.get("live_bytes"), dev.get("peak_bytes")), (80 * MiB, 112 * MiB),
          "its device memory, as the client allocated it")
    text = tool("report", recs[0])
    check("(pid 1 in another pid namespace (container))" in text,
          f"the report marks the pid as the container's: {text.splitlines()[:4]}")

# A run still going: pid 1 here is init, alive and started long before;
# the recording's pid 1 must be judged by its own namespace.
rec_dir2 = tempfile.mkdtemp(prefix="wsla-ctr-")
cmd, env = in_container("kill", rec_dir2)
p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = p.stdout.readline()
equal(line.strip(), "ready", "the client in the container started")
ls_env = {k: v for k, v in os.environ.items() if not k.startswith("WSLALLOC_")}
ls_env["WSLALLOC_DIR"] = rec_dir2


def listed():
    r = subprocess.run([TOOL, "ls", "--json"], capture_output=True, text=True, env=ls_env,
                       timeout=120)
    check(r.returncode == 0, f"ls exited {r.returncode}: {r.stderr}")
    return [(e["pid"], e["pid_namespace"], e["end"]) for e in json.loads(r.stdout or "[]")
            if e["pid_namespace"] == "other"]


equal(listed(), [(1, "other", "running")], "ls outside: the container's pid 1 is running")

# Processes on the host recording into the same directory keep one ended
# recording (WSLALLOC_KEEP=1): the container's, running, is never theirs to
# delete, though pid 1 here (init) started at another time.
for _ in range(2):
    h = subprocess.run([os.path.join(CLIENTS, "crash"), "exit"], capture_output=True,
                       env=env_for("cuda13", True, {"WSLALLOC_KEEP": "1"}, rec_dir2), timeout=120)
    equal(h.returncode, 3, "a host process recording into the shared directory")
check(os.path.exists(os.path.join(rec_dir2, "crash.1.wsla")),
      f"the host's pruning kept the container's running recording: {sorted(os.listdir(rec_dir2))}")
r = subprocess.run([TOOL, "ls"], capture_output=True, text=True, env=ls_env, timeout=120)
check("       1*" in r.stdout and "another pid namespace" in r.stdout,
      f"ls marks the pid as another namespace's: {r.stdout!r}")
p.kill()  # unshare --kill-child takes the client with it
p.communicate(timeout=60)
for _ in range(100):  # the child ends a moment after unshare
    if listed() != [(1, "other", "running")]:
        break
    time.sleep(0.05)
equal(listed(), [(1, "other", "killed")], "ls outside, once the container's process is gone")
finish()
