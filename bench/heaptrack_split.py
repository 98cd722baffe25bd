"""heaptrack's CPU time per traced malloc+free pair, process by process: its pipeline started by hand as its script starts it, each process waited for alone."""
import argparse
import os
import shutil
import statistics
import tempfile

from benchenv import MALLOC_LOOP, need, plain

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
need(MALLOC_LOOP)

heaptrack = shutil.which("heaptrack")
if not heaptrack:
    raise SystemExit("heaptrack is not installed (Debian: apt-get install heaptrack)")
# Where heaptrack's script looks for them, relative to itself.
LIBDIR = os.path.join(os.path.dirname(os.path.realpath(heaptrack)), "..", "lib", "heaptrack")
INTERPRETER = os.path.realpath(os.path.join(LIBDIR, "libexec", "heaptrack_interpret"))
PRELOAD = os.path.realpath(os.path.join(LIBDIR, "libheaptrack_preload.so"))
COMPRESSOR = shutil.which("zstd") and ["zstd", "-c"] or ["gzip", "-c"]  # the script's choice


def spawn(argv, stdin, stdout, environ):
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin, 0)
            os.dup2(stdout, 1)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            os.closerange(3, 1024)
            os.execvpe(argv[0], argv, environ)
        finally:
            os._exit(127)
    return pid


def once(n):
    """CPU seconds (user+system) of each process of one traced run of n pairs:
    interpreter < fifo | compressor > file, and the loop with the collector
    preloaded writing into the fifo, as heaptrack's script does."""
    d = tempfile.mkdtemp()
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    environ = plain()
    devnull = os.open(os.devnull, os.O_RDWR)
    out = os.open(os.path.join(d, "out"), os.O_WRONLY | os.O_CREAT, 0o600)
    r, w = os.pipe()
    # The fifo is opened by the interpreter's side in the child (it blocks
    # until the collector opens it for writing).
    pid_i = os.fork()
    if pid_i == 0:
        try:
            os.dup2(os.open(fifo, os.O_RDONLY), 0)
            os.dup2(w, 1)
            os.dup2(devnull, 2)
            os.closerange(3, 1024)
            os.execve(INTERPRETER, [INTERPRETER], environ)
        finally:
            os._exit(127)
    pid_c = spawn(COMPRESSOR, r, out, environ)
    os.close(r)
    os.close(w)
    pid_l = spawn([MALLOC_LOOP, str(n)], devnull, devnull,
                  dict(environ, LD_PRELOAD=PRELOAD, DUMP_HEAPTRACK_OUTPUT=fifo))
    os.close(out)
    os.close(devnull)
    got = {}
    for pid, name in ((pid_l, "traced loop with the collector"),
                      (pid_i, "heaptrack_interpret"), (pid_c, COMPRESSOR[0])):
        _, status, ru = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"bench: {name} exited with {os.waitstatus_to_exitcode(status)}")
        got[name] = (ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw)
    shutil.rmtree(d, ignore_errors=True)
    return got


lo, hi = 1_000_000, 5_000_000
runs = {lo: [], hi: []}
for r in range(args.reps):
    for n in ((lo, hi) if r % 2 == 0 else (hi, lo)):
        runs[n].append(once(n))
print(f"## heaptrack's CPU per traced malloc+free pair by process (marginal over {hi - lo} "
      f"pairs, median [least, most] of {args.reps})")
print("(load average {:.2f} {:.2f} {:.2f}, {} cores)\n".format(*os.getloadavg(), os.cpu_count()))
print("| process | CPU per pair (ns) | CPU once per run (ms) | context switches per 1000 pairs |")
print("|---|---:|---:|---:|")
total = [0.0] * args.reps
for name in runs[lo][0]:
    per = [(b[name][0] - a[name][0]) / (hi - lo) for a, b in zip(runs[lo], runs[hi])]
    once_ = [a[name][0] - p * lo for a, p in zip(runs[lo], per)]
    csw = [(b[name][1] - a[name][1]) / (hi - lo) * 1000 for a, b in zip(runs[lo], runs[hi])]
    total = [t + p for t, p in zip(total, per)]
    print(f"| {name} | {statistics.median(per) * 1e9:.0f} [{min(per) * 1e9:.0f}, "
          f"{max(per) * 1e9:.0f}] | {statistics.median(once_) * 1e3:.0f} | "
          f"{statistics.median(csw):.1f} |")
print(f"| all three | {statistics.median(total) * 1e9:.0f} [{min(total) * 1e9:.0f}, "
      f"{max(total) * 1e9:.0f}] | | |")
