"""Overhead of libwslalloc per cudaMalloc+cudaFree pair: callgrind instructions and wall time, shim against no shim."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import atexit
import shutil
import tempfile

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--quick", action="store_true", help="fewer repetitions")
ap.add_argument("--no-callgrind", action="store_true")
ap.add_argument("--only-heaptrack", action="store_true", help="only the comparison with heaptrack")
args = ap.parse_args()

# Recordings made here go with the run.
tempfile.tempdir = tempfile.mkdtemp(prefix="wsla-bench-")
atexit.register(shutil.rmtree, tempfile.tempdir, ignore_errors=True)

SHIM = os.environ["WSLA_SHIM"]
BENCH = os.environ["WSLA_PAIR_BENCH"]
LIBS = os.environ["WSLA_SIM_LIBS"]


def env(preload, extra=None):
    e = dict(os.environ, LD_LIBRARY_PATH=LIBS, WSLALLOC_DIR=tempfile.mkdtemp(),
             WSLSIM_MEM="64G", **(extra or {}))
    e.pop("LD_PRELOAD", None)
    if preload:
        e["LD_PRELOAD"] = SHIM
    return e


def instructions(preload, pairs, live, extra=None):
    out = tempfile.mktemp()
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    BENCH, str(pairs), "1", str(live)], env=env(preload, extra),
                   capture_output=True, check=True)
    text = open(out).read()
    os.unlink(out)
    return int(re.search(r"^summary: (\d+)", text, re.M).group(1))


def per_pair(preload, live, extra=None):
    """Marginal instructions per pair: two loop lengths, start-up cancels."""
    lo, hi = 2000, 12000
    return (instructions(preload, hi, live, extra) -
            instructions(preload, lo, live, extra)) / (hi - lo)


def wall(preload, threads, live, pairs):
    runs = []
    for _ in range(3 if args.quick else 7):
        r = subprocess.run([BENCH, str(pairs), str(threads), str(live)], env=env(preload),
                           capture_output=True, text=True, check=True)
        runs.append(float(r.stdout))
    return statistics.median(runs)


def become_subreaper():
    """Descendants whose parent exits without waiting for them (heaptrack's
    script does not always reap its interpreter) come to this process, which
    reaps them, so that their CPU time is counted too."""
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def cpu_seconds(cmd, environ):
    """User+system CPU time of cmd and every process it starts."""
    before = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    subprocess.run(cmd, env=environ, capture_output=True, check=True)
    while True:  # every orphaned descendant, once it has ended
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    after = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaptrack_comparison():
    """CPU time per traced pair: libwslalloc on cudaMalloc+cudaFree against
    heaptrack on malloc+free, each the marginal cost of more pairs.

    Each command runs at two loop lengths; the difference of their CPU times
    over the difference of their pairs is the cost of a pair, so whatever a
    run costs once (the shell script heaptrack is, its interpreter's start,
    resolving symbols and compressing at the end; the shim's recording set-up)
    cancels.  CPU time is user+system of every process the command starts and
    waits for (for heaptrack: the script, the traced loop with its preloaded
    collector, heaptrack_interpret and the compressor it pipes into)."""
    import shutil as sh
    heaptrack, loop = sh.which("heaptrack"), os.environ.get("WSLA_MALLOC_LOOP")
    reps = 3 if args.quick else 5
    lo, hi = 500_000, 2_500_000
    print(f"\n## CPU time per traced pair against heaptrack (marginal over {hi - lo} pairs, "
          f"median of {reps}, ns)")
    if not heaptrack or not loop:
        print("heaptrack is not installed (Debian: apt-get install heaptrack): skipped")
        return
    plain = dict(os.environ)
    plain.pop("LD_PRELOAD", None)
    become_subreaper()

    def median_cpu(cmd_for, environ_for, n):
        return statistics.median(cpu_seconds(cmd_for(n), environ_for()) for _ in range(reps))

    def cost(cmd_for, environ_for):
        """(seconds per pair, seconds a run costs once)"""
        a, b = median_cpu(cmd_for, environ_for, lo), median_cpu(cmd_for, environ_for, hi)
        slope = (b - a) / (hi - lo)
        return slope, a - slope * lo

    rows = []
    for name, bare_cmd, traced_cmd, bare_env, traced_env in (
            ("libwslalloc, cudaMalloc+cudaFree",
             lambda n: [BENCH, str(n), "1", "10"], lambda n: [BENCH, str(n), "1", "10"],
             lambda: env(False), lambda: env(True)),
            ("heaptrack, malloc+free", lambda n: [loop, str(n)],
             lambda n: [heaptrack, "-o", os.path.join(tempfile.mkdtemp(), "ht"), loop, str(n)],
             lambda: plain, lambda: plain)):
        rows.append((name, cost(bare_cmd, bare_env), cost(traced_cmd, traced_env)))
    print("| tracer | bare per pair | traced per pair | added per pair | added once per run |")
    print("|---|---:|---:|---:|---:|")
    for name, (bs, bf), (ts, tf) in rows:
        print(f"| {name} | {bs * 1e9:.0f} ns | {ts * 1e9:.0f} ns | {(ts - bs) * 1e9:.0f} ns "
              f"| {(tf - bf) * 1e3:.0f} ms |")
    ours = rows[0][2][0] - rows[0][1][0]
    theirs = rows[1][2][0] - rows[1][1][0]
    print(f"\nlibwslalloc adds {ours / theirs:.2f} of heaptrack's CPU time per traced pair "
          f"(target: at most 0.33), marginal over {hi - lo} pairs, counting all of "
          f"heaptrack's processes.")


print(f"# libwslalloc overhead per cudaMalloc+cudaFree pair (simulated runtime)")
if args.only_heaptrack:
    heaptrack_comparison()
    sys.exit(0)
if not args.no_callgrind:
    print("\n## Instructions per pair (callgrind, marginal over 10000 pairs)")
    print("| live allocations | bare | with shim | added by the shim |")
    print("|---:|---:|---:|---:|")
    # Every live allocation is in the recording's live table (the last row
    # with the table sized for them: WSLALLOC_LIVE_SLOTS is the most live
    # allocations expected, 65536 by default).
    for live, extra in ((10, None), (10000, None), (100000, None),
                        (100000, {"WSLALLOC_LIVE_SLOTS": "100000"})):
        b, s = per_pair(False, live, extra), per_pair(True, live, extra)
        label = f"{live}" + (" (WSLALLOC_LIVE_SLOTS=100000)" if extra else "")
        print(f"| {label} | {b:.0f} | {s:.0f} | {s - b:.0f} |", flush=True)

print("\n## Wall time per pair (median, ns; 2 cores here, so 4 and 8 threads share them)")
print("| threads | live | bare | with shim | added |")
print("|---:|---:|---:|---:|---:|")
for threads, live in ((1, 10), (2, 10), (4, 10), (8, 10), (1, 100000)):
    pairs = 200000 // threads
    b, s = wall(False, threads, live, pairs), wall(True, threads, live, pairs)
    print(f"| {threads} | {live} | {b:.0f} | {s:.0f} | {s - b:.0f} |", flush=True)

heaptrack_comparison()
