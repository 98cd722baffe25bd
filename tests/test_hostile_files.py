"""Hostile files and directories: a FIFO, a huge sparse file, many recordings, another user's folder, a planted link; each refused at once or read within bounded time and memory."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

from harness import *

MiB = 1 << 20
base = tempfile.mkdtemp()
r = run("crash", ["exit"])
good = r.recordings()[0]
known = report_json(good)


# Runs argv, and writes its exit status, seconds and peak resident memory
# to the file named first.  A fresh interpreter between the test and the
# tool: a child's peak memory counts from its parent's (fork copies the
# parent's high-water mark), and this one is small.
MEASURE = """
import json, os, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
p.returncode = 0
json.dump([os.waitstatus_to_exitcode(status), time.monotonic() - t0, ru.ru_maxrss * 1024],
          open(sys.argv[1], "w"))
"""


def measured(args, env=None, timeout=60):
    """Runs the tool; its exit status, stdout, stderr, seconds and peak
    resident memory (bytes)."""
    fd, result = tempfile.mkstemp()
    os.close(fd)
    p = subprocess.Popen([sys.executable, "-c", MEASURE, result, TOOL, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)  # the tool too, blocked as it may be
        p.communicate()
        check(False, f"{args}: still running after {timeout} s")
        return -1, "", "", timeout, 0
    rc, secs, rss = json.load(open(result))
    return rc, out, err, secs, rss


# The measure's own floor: a bound below it could not fail.
_, _, _, _, floor = measured(["ls", "--help"])
print(f"floor: {floor / MiB:.0f} MiB")
check(floor < 24 * MiB, f"the measure's floor is low: {floor / MiB:.0f} MiB")


# --- A FIFO returns at once, with one line that says what it is. ---
fifo = os.path.join(base, "f.wsla")
os.mkfifo(fifo)
fifo_csv = os.path.join(base, "f.csv")
os.mkfifo(fifo_csv)
for args in (["report", fifo], ["report", "--json", fifo], ["replay", fifo], ["replay", fifo_csv],
             ["export", "--format", "csv", fifo, "-o", os.path.join(base, "x.csv")],
             ["plot", fifo, "-o", os.path.join(base, "x.svg")]):
    rc, out, err, secs, _ = measured(args, timeout=10)
    check(secs < 5, f"{args}: returned at once ({secs:.1f} s)")
    equal(rc, 1, f"{args}: exit status")
    lines = err.strip().splitlines()
    check(len(lines) == 1 and "a FIFO" in err, f"{args}: one line naming the FIFO: {err!r}")

# In the recordings directory, a FIFO named *.wsla is skipped with a note.
fdir = os.path.join(base, "fifo-dir")
os.mkdir(fdir, 0o700)
shutil.copy(good, fdir)
os.mkfifo(os.path.join(fdir, "zz.99.wsla"))
env = {"WSLALLOC_DIR": fdir}
rc, out, err, secs, _ = measured(["report", "--json"], env, timeout=10)
equal(rc, 0, f"report with a FIFO in the folder: status ({err})")

def same(rep, what):
    """The report of good, wherever the copy lies."""
    equal({k: v for k, v in rep.items() if k != "recording"},
          {k: v for k, v in known.items() if k != "recording"}, what)


if rc == 0:
    same(json.loads(out), "report with a FIFO in the folder: the real recording's report")
check("skipping" in err and "a FIFO" in err, f"report: the FIFO is skipped with a note: {err!r}")
rc, out, err, secs, _ = measured(["ls", "--json"], env, timeout=10)
equal(rc, 0, "ls with a FIFO: status")
equal(len(json.loads(out)) if rc == 0 else -1, 1, "ls with a FIFO: the one recording")
check("a FIFO" in err, f"ls: the FIFO is skipped with a note: {err!r}")
for args in (["top", "-n", "1"], ["metrics", "--all"]):
    rc, out, err, secs, _ = measured(args, env, timeout=10)
    equal(rc, 0, f"{args} with a FIFO: status")
    check(secs < 5, f"{args} with a FIFO: returned at once ({secs:.1f} s)")

# --- A recording padded to 6 GiB with a sparse tail: read within what its
# header claims, in bounded time and memory, with the same figures. ---
sparse = os.path.join(base, "sparse.wsla")
shutil.copy(good, sparse)
os.truncate(sparse, 6 << 30)
rc, out, err, secs, rss = measured(["report", "--json", sparse], timeout=60)
equal(rc, 0, f"sparse: status ({err})")
check(secs < 10, f"sparse: {secs:.1f} s, within 10 s")
check(rss < 512 * MiB, f"sparse: {rss / MiB:.0f} MiB resident, within 512 MiB")
if rc == 0:
    same(json.loads(out), "sparse: the same report as the recording unpadded")
print(f"sparse 6 GiB: {secs:.2f} s, {rss / MiB:.0f} MiB")

# A header claiming a 1 GiB ring of a 1 GiB sparse file, and more events
# than it holds: nothing valid in it, and still bounded.
claim = os.path.join(base, "claim.wsla")
data = bytearray(open(good, "rb").read())
ring_off = int.from_bytes(data[64:72], "little")
ring_cap = 1 << 24  # 16 Mi events, 1 GiB
data[112:120] = ring_cap.to_bytes(8, "little")
data[16:24] = (ring_off + ring_cap * 64).to_bytes(8, "little")  # file_size
counters_off = int.from_bytes(data[32:40], "little")
data[counters_off:counters_off + 8] = (1 << 40).to_bytes(8, "little")  # events_claimed
with open(claim, "wb") as f:
    f.write(data[:ring_off])
del data
os.truncate(claim, ring_off + ring_cap * 64)
rc, out, err, secs, rss = measured(["report", "--json", claim], timeout=60)
equal(rc, 0, f"claimed ring: status ({err})")
check(secs < 10, f"claimed ring: {secs:.1f} s, within 10 s")
check(rss < 512 * MiB, f"claimed ring: {rss / MiB:.0f} MiB resident, within 512 MiB")
print(f"1 GiB claimed ring: {secs:.2f} s, {rss / MiB:.0f} MiB")

# --- ls, top and metrics over many large recordings read headers and
# counters (and the slots they show), never the events. ---
many = os.path.join(base, "many")
os.mkdir(many, 0o700)
big = run("crash", ["exit"], env={"WSLALLOC_EVENTS": str(1 << 20)}).recordings()[0]
big_size = os.path.getsize(big)
check(big_size >= 64 * MiB, f"a 1 Mi-event recording is large: {big_size} bytes")
for i in range(16):  # sparse copies: their rings are read as zeros, at full cost
    subprocess.run(["cp", "--sparse=always", big, os.path.join(many, f"crash.{1000 + i}.wsla")],
                   check=True)
env = {"WSLALLOC_DIR": many}
rc, out, err, secs, rss = measured(["ls", "--json"], env)
equal(rc, 0, f"ls over many: status ({err})")
equal(len(json.loads(out)) if rc == 0 else -1, 16, "ls over many: all of them")
check(rss < 32 * MiB, f"ls over 16 recordings of {big_size >> 20} MiB: {rss / MiB:.0f} MiB resident")
print(f"ls over 16 x {big_size >> 20} MiB: {secs:.2f} s, {rss / MiB:.0f} MiB")
for args in (["top", "-n", "1"], ["metrics", "--all"]):
    rc, out, err, secs, rss = measured(args, env)
    equal(rc, 0, f"{args} over many: status ({err})")
    check(rss < 64 * MiB, f"{args} over 16 recordings: {rss / MiB:.0f} MiB resident")
    print(f"{args} over 16 x {big_size >> 20} MiB: {secs:.2f} s, {rss / MiB:.0f} MiB")

# --- Another user's folder at the default place is refused, and says why;
# so are another user's recording and a link in the caller's own. ---
if os.geteuid() == 0:
    xdg = os.path.join(base, "xdg")
    os.mkdir(xdg)
    planted = os.path.join(xdg, "wslalloc")
    os.mkdir(planted, 0o700)
    shutil.copy(good, planted)
    os.chown(planted, 12345, 12345)
    for f in os.listdir(planted):
        os.chown(os.path.join(planted, f), 12345, 12345)
    env = {"XDG_RUNTIME_DIR": xdg, "WSLALLOC_DIR": ""}
    for args in (["report"], ["ls"]):
        rc, out, err, secs, _ = measured(args, env)
        equal(rc, 1, f"{args} in another user's folder: refused")
        equal(out, "", f"{args} in another user's folder: nothing shown")
        check("owned by uid 12345" in err and len(err.strip().splitlines()) == 1,
              f"{args}: one line saying whose it is: {err!r}")
    rc, out, err, secs, _ = measured(["metrics", "--all"], env)
    check("owned by uid 12345" in err, f"metrics: says why it shows nothing: {err!r}")
    equal(rc, 1, "metrics: a refused folder is an error, as for ls")
    check("wslalloc_device_peak_bytes{" not in out, "metrics: no series from another user's folder")

    # The caller's own folder holding another user's recording and a link.
    os.chown(planted, 0, 0)
    mine = os.path.join(base, "elsewhere.wsla")
    shutil.copy(good, mine)
    os.symlink(mine, os.path.join(planted, "link.1.wsla"))
    rc, out, err, secs, _ = measured(["ls", "--json"], env)
    equal(rc, 0, "ls in the caller's folder: status")
    equal(json.loads(out) if rc == 0 else None, [], "ls: another user's recording and a link are not listed")
    check("owned by uid 12345, not by this user" in err and "a symbolic link" in err,
          f"ls: says why each is skipped: {err!r}")
    rc, out, err, secs, _ = measured(["report"], env)
    equal(rc, 1, "report: no recording of the caller's")
    check("no recordings" in err, f"report: {err!r}")

    # The default folder as a link is refused; a folder the user names
    # through a link of the user's own is followed.
    xdg2 = os.path.join(base, "xdg2")
    os.mkdir(xdg2)
    os.symlink(fdir, os.path.join(xdg2, "wslalloc"))
    rc, out, err, secs, _ = measured(["ls"], {"XDG_RUNTIME_DIR": xdg2, "WSLALLOC_DIR": ""})
    equal(rc, 1, "a linked default folder: refused")
    check("symbolic link" in err, f"a linked default folder: says so: {err!r}")
    link = os.path.join(base, "my-link")
    os.symlink(fdir, link)
    rc, out, err, secs, _ = measured(["ls", "--json"], {"WSLALLOC_DIR": link})
    equal(len(json.loads(out)) if rc == 0 else -1, 1, f"a linked folder of the user's choice: read ({err})")

    # A group- or world-writable default folder is refused.
    os.chmod(planted, 0o777)
    rc, out, err, secs, _ = measured(["ls"], env)
    equal(rc, 1, "a world-writable default folder: refused")
    check("others may write" in err, f"a world-writable default folder: says so: {err!r}")
else:
    print("not root: the other-user checks need chown; skipped")

# --- metrics -o never writes through a link planted at a temporary name. ---
mdir = os.path.join(base, "metrics")
os.mkdir(mdir)
victim = os.path.join(mdir, "victim")
with open(victim, "w") as f:
    f.write("untouched\n")
target = os.path.join(mdir, "wslalloc.prom")
# The tool's pid is known before it runs: a wrapper execs it on a word.
w = subprocess.Popen([sys.executable, "-c",
                      "import os,sys; sys.stdin.readline(); os.execv(sys.argv[1], sys.argv[1:])",
                      TOOL, "metrics", "--all", "-o", target],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     env={**os.environ, "WSLALLOC_DIR": r.dir})
planted_link = f"{target}.{w.pid}.tmp"
os.symlink(victim, planted_link)
out, err = w.communicate("go\n", timeout=60)
equal(w.returncode, 0, f"metrics -o: status ({err})")
equal(open(victim).read(), "untouched\n", "metrics -o: the planted link's target is not written")
check(os.path.islink(planted_link), "metrics -o: the planted link is left as it was")
body = open(target).read() if os.path.exists(target) else ""
check("wslalloc_device_peak_bytes{" in body, "metrics -o: the series are in the file")
check(not os.path.islink(target), "metrics -o: the file is a file")
if os.path.exists(target):
    equal(stat.S_IMODE(os.stat(target).st_mode), 0o644, "metrics -o: readable by node_exporter")
left = [f for f in os.listdir(mdir) if f not in ("victim", "wslalloc.prom", os.path.basename(planted_link))]
equal(left, [], "metrics -o: no temporary file left behind")

# --- metrics -o never replaces what is not a regular file: a device is
# written into (as /dev/null would be), a FIFO is refused. ---
fifo_target = os.path.join(mdir, "fifo.prom")
os.mkfifo(fifo_target)
rc, out, err, secs, _ = measured(["metrics", "--all", "-o", fifo_target], {"WSLALLOC_DIR": r.dir})
equal(rc, 1, f"metrics -o FIFO: refused ({err!r})")
check("not a regular file" in err and stat.S_ISFIFO(os.lstat(fifo_target).st_mode),
      f"metrics -o FIFO: says why and leaves the FIFO: {err!r}")
if os.geteuid() == 0:
    dev_target = os.path.join(mdir, "null.prom")
    os.mknod(dev_target, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    rc, out, err, secs, _ = measured(["metrics", "--all", "-o", dev_target], {"WSLALLOC_DIR": r.dir})
    equal(rc, 0, f"metrics -o a character device: written into ({err!r})")
    check(stat.S_ISCHR(os.lstat(dev_target).st_mode), "metrics -o a character device: still one")

# --- metrics --all never writes one series twice: recordings with the same
# pid and program (a pid reused, every container's pid 1) give the newest's.
dup = tempfile.mkdtemp()
srcs = [os.path.join(r.dir, f) for f in os.listdir(r.dir) if f.endswith(".wsla")]
for k in range(3):
    shutil.copy(srcs[0], os.path.join(dup, f"copy{k}.wsla"))
rc, out, err, secs, _ = measured(["metrics", "--all"], {"WSLALLOC_DIR": dup})
samples = [l.rsplit(" ", 1)[0] for l in out.splitlines() if l and not l.startswith("#")]
equal(rc, 0, f"metrics --all over copies: status ({err!r})")
equal(len(samples), len(set(samples)), f"metrics --all: each series once: {samples}")
check(any(l.startswith("wslalloc_device_live_bytes{") for l in samples), "metrics --all: the series are there")

# --- a folder of junk is said in a few lines, not one per file. ---
junk = tempfile.mkdtemp()
for k in range(40):
    os.mkfifo(os.path.join(junk, f"j{k}.wsla"))
rc, out, err, secs, _ = measured(["ls"], {"WSLALLOC_DIR": junk})
lines = err.splitlines()
check(len(lines) == 11 and "skipping 30 more files" in lines[-1], f"ls over 40 FIFOs: 11 lines: {lines}")

finish()
