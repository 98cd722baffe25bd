"""Bad options and hostile surroundings: warn once, keep the default, never change what the client sees."""
import os
import stat
import subprocess
import tempfile

from harness import *

bare = run("transparency", preload=False)

# Each bad value: one warning naming it, the default kept, output unchanged.
bad = {"WSLALLOC_EVENTS": "lots", "WSLALLOC_SAMPLE_MS": "-5",
       "WSLALLOC_RECORD": "maybe", "WSLALLOC_LIVE_SLOTS": "99999999999999",
       "WSLALLOC_KEEP": "some", "WSLALLOC_STACKS": "16Q", "WSLALLOC_STITCH_CHUNK": "-1"}
r = run("transparency", env=bad)
equal(r.out, bare.out, "bad options: output unchanged")
equal(r.rc, bare.rc, "bad options: exit status unchanged")
lines = [l for l in r.err.splitlines() if l.startswith("wslalloc:")]
for name in bad:
    equal(sum(name in l for l in lines), 1, f"one warning for {name}")
rep = r.report()
opts = rep.get("options", {})
equal(opts.get("WSLALLOC_EVENTS"), "262144", "bad WSLALLOC_EVENTS keeps its default")
equal(opts.get("WSLALLOC_SAMPLE_MS"), "100", "bad WSLALLOC_SAMPLE_MS keeps its default")
for name, default in (("WSLALLOC_KEEP", "10"), ("WSLALLOC_STACKS", "16777216"), ("WSLALLOC_STITCH_CHUNK", "0")):
    equal(opts.get(name), default, f"bad {name} keeps its default")

good = run("transparency", env={"WSLALLOC_EVENTS": "4K", "WSLALLOC_SAMPLE_MS": "0"})
equal(good.err, "", "good options: silent")
equal(good.report().get("options", {}).get("WSLALLOC_EVENTS"), "4096", "K suffix")

# No recording wanted: no file, same output.
r = run("transparency", env={"WSLALLOC_RECORD": "0"})
equal(r.out, bare.out, "RECORD=0: output unchanged")
equal(r.recordings(), [], "RECORD=0: no file")

# A directory that cannot be made: one warning, output unchanged.
r = run("transparency", env={"WSLALLOC_DIR": "/proc/wslalloc-cannot"})
equal(r.out, bare.out, "bad dir: output unchanged")
equal(sum(l.startswith("wslalloc:") for l in r.err.splitlines()), 1, "bad dir: one warning")

# The default directory is private and the files are 0600.
xdg = tempfile.mkdtemp()
r = run("transparency", env={"XDG_RUNTIME_DIR": xdg}, rec_dir=os.path.join(xdg, "wslalloc"))
env_dir = os.path.join(xdg, "wslalloc")
files = os.listdir(env_dir) if os.path.isdir(env_dir) else []
equal(len(files), 1, "recording under $XDG_RUNTIME_DIR/wslalloc")
if files:
    equal(stat.S_IMODE(os.stat(env_dir).st_mode), 0o700, "directory mode")
    equal(stat.S_IMODE(os.stat(os.path.join(env_dir, files[0])).st_mode), 0o600, "file mode")

# A file-size limit below the recording: no SIGXFSZ, output unchanged, and the
# recording shrinks to fit or stays in memory.
d = tempfile.mkdtemp()
e = env_for("cuda13", True, {}, d)
p = subprocess.run(["sh", "-c", 'ulimit -f 2048; exec "$0"', os.path.join(CLIENTS, "transparency")],
                   env=e, capture_output=True, text=True)
equal(p.returncode, 0, "RLIMIT_FSIZE: the client was not killed")
equal(p.stdout, bare.out, "RLIMIT_FSIZE: output unchanged")
for f in os.listdir(d):
    check(os.path.getsize(os.path.join(d, f)) <= 2048 * 1024, "RLIMIT_FSIZE: the file fits")
    report_json(os.path.join(d, f))
# A WSLALLOC_DIR the user chose may be a link of the user's own: it is
# followed, with or without a trailing slash, and the directory it leads to
# must be the user's. A link of another user's, or any link where the
# default directory goes (a shared place), is refused, saying so.
real = tempfile.mkdtemp()
link = os.path.join(tempfile.mkdtemp(), "recordings")
os.symlink(real, link)
for chosen in (link, link + "/"):
    r = run("transparency", rec_dir=chosen)
    equal(r.out, bare.out, f"WSLALLOC_DIR={chosen}: output unchanged")
    check("wslalloc:" not in r.err, f"WSLALLOC_DIR={chosen}: no complaint: {r.err}")
    equal(len([f for f in os.listdir(real) if f.endswith(".wsla")]), 1 if chosen == link else 2,
          f"WSLALLOC_DIR={chosen}: the recording is in the directory the link leads to")
if os.geteuid() == 0:
    theirs = os.path.join(tempfile.mkdtemp(), "theirs")
    os.symlink(real, theirs)
    os.lchown(theirs, 65534, 65534)
    before = sorted(os.listdir(real))
    r = run("transparency", rec_dir=theirs)
    equal(r.out, bare.out, "a link of another user's: output unchanged")
    equal(sorted(os.listdir(real)), before, "a link of another user's: nothing written through it")
    check(f"wslalloc: {theirs} is a symbolic link of another user's; recording in memory only" in r.err,
          f"a link of another user's is refused, saying so: {r.err}")
xdg = tempfile.mkdtemp()
os.symlink(real, os.path.join(xdg, "wslalloc"))
e = env_for("cuda13", True, {"XDG_RUNTIME_DIR": xdg})
e.pop("WSLALLOC_DIR", None)
before = sorted(os.listdir(real))
p = subprocess.run([os.path.join(CLIENTS, "transparency")], env=e, capture_output=True, text=True)
equal(p.stdout, bare.out, "a link in the default place: output unchanged")
check(f"wslalloc: {xdg}/wslalloc is a symbolic link, refused in a shared place" in p.stderr,
      f"a link in the default place is refused, saying so: {p.stderr}")
equal(sorted(os.listdir(real)), before, "a link in the default place: nothing written where it leads")
# A WSLALLOC_DIR too long to use is never replaced by the default folder
# (shared by all of the user's processes): the library records in memory
# only, saying why once, and the tools refuse rather than list the default.
xdg = tempfile.mkdtemp()
long_dir = os.path.join(tempfile.mkdtemp(), "d" * 600)
r = run("transparency", env={"XDG_RUNTIME_DIR": xdg}, rec_dir=long_dir)
equal(r.out, bare.out, "a too-long WSLALLOC_DIR: output unchanged")
warns = [l for l in r.err.splitlines() if l.startswith("wslalloc:")]
equal(warns, [f"wslalloc: WSLALLOC_DIR is longer than 511 bytes ({len(long_dir)} bytes); recording in "
              "memory only; set it to a shorter path"], "a too-long WSLALLOC_DIR: one warning saying why")
equal(os.listdir(xdg), [], "a too-long WSLALLOC_DIR: nothing in the default folder")
os.makedirs(os.path.join(xdg, "wslalloc"), mode=0o700)
run("transparency", rec_dir=os.path.join(xdg, "wslalloc"))  # something the default folder would list
te = {**os.environ, "XDG_RUNTIME_DIR": xdg, "WSLALLOC_DIR": long_dir}
for cmd in (["ls"], ["top", "-n", "1"], ["metrics"], ["report"], ["plot", "-o", os.path.join(xdg, "p.svg")],
            ["run", "--", os.path.join(CLIENTS, "transparency")]):
    q = subprocess.run([TOOL, *cmd], capture_output=True, text=True, env=te, timeout=60)
    equal((q.returncode, q.stdout, q.stderr),
          (1, "", f"wslalloc {cmd[0]}: WSLALLOC_DIR is longer than 511 bytes ({len(long_dir)} bytes); "
                  "the library records nothing there; set it to a shorter path\n"),
          f"wslalloc {cmd[0]}: refuses a too-long WSLALLOC_DIR in one line")
q = subprocess.run([TOOL, "doctor"], capture_output=True, text=True, env=te, timeout=60)
check(q.returncode == 1 and f"[fail] recordings: WSLALLOC_DIR is longer than 511 bytes ({len(long_dir)} bytes)"
      in q.stdout and os.path.join(xdg, "wslalloc") not in q.stdout,
      f"doctor: a too-long WSLALLOC_DIR fails, the default folder not looked at: {q.stdout}")
# A control character in an echoed value is escaped: a newline in it must
# not start a line of its own that could pass for a message of the shim's.
r = run("transparency", env={"WSLALLOC_LIMIT": "16G\nWSLALLOC_X", "WSLALLOC_EVENTS": "4K\t\x1b[31m"})
equal(r.out, bare.out, "control characters in values: output unchanged")
equal(sorted(r.err.splitlines()),
      ['wslalloc: WSLALLOC_EVENTS="4K\\t\\x1b[31m" is not a count from 1024 to 67108864 (K and M allowed); '
       'keeping the default, 262144',
       'wslalloc: WSLALLOC_LIMIT="16G\\nWSLALLOC_X" is not a size (bytes, or with K/M/G/T, powers of 1024); '
       'keeping the default, 0'], f"control characters in values: escaped, one line each: {r.err!r}")
d = tempfile.mkdtemp()
r = run("transparency", rec_dir=os.path.join("/proc", "no\nwslalloc: all is well"))
equal(r.err.splitlines(), ["wslalloc: cannot open /proc/no\\nwslalloc: all is well (No such file or directory); "
                           "recording in memory only"], f"a newline in a path: escaped: {r.err!r}")
finish()
