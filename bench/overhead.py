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


def env(preload):
    e = dict(os.environ, LD_LIBRARY_PATH=LIBS, WSLALLOC_DIR=tempfile.mkdtemp(),
             WSLSIM_MEM="64G")
    e.pop("LD_PRELOAD", None)
    if preload:
        e["LD_PRELOAD"] = SHIM
    return e


def instructions(preload, pairs, live):
    out = tempfile.mktemp()
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    BENCH, str(pairs), "1", str(live)], env=env(preload),
                   capture_output=True, check=True)
    text = open(out).read()
    os.unlink(out)
    return int(re.search(r"^summary: (\d+)", text, re.M).group(1))


def per_pair(preload, live):
    """Marginal instructions per pair: two loop lengths, start-up cancels."""
    lo, hi = 2000, 12000
    return (instructions(preload, hi, live) - instructions(preload, lo, live)) / (hi - lo)


def wall(preload, threads, live, pairs):
    runs = []
    for _ in range(3 if args.quick else 7):
        r = subprocess.run([BENCH, str(pairs), str(threads), str(live)], env=env(preload),
                           capture_output=True, text=True, check=True)
        runs.append(float(r.stdout))
    return statistics.median(runs)


def cpu_seconds(cmd, environ):
    """User+system CPU time of cmd and every process it starts."""
    before = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    subprocess.run(cmd, env=environ, capture_output=True, check=True)
    after = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaptrack_comparison():
    """CPU time per traced pair: libwslalloc on cudaMalloc+cudaFree against
    heaptrack on malloc+free, each less its own bare loop, in one run."""
    import shutil as sh
    heaptrack, loop = sh.which("heaptrack"), os.environ.get("WSLA_MALLOC_LOOP")
    print("\n## CPU time per traced pair against heaptrack (median of 3, ns)")
    if not heaptrack or not loop:
        print("heaptrack is not installed (Debian: apt-get install heaptrack): skipped")
        return
    n = 1_000_000
    plain = dict(os.environ)
    plain.pop("LD_PRELOAD", None)
    rows = []
    for name, bare_cmd, traced_cmd, bare_env, traced_env in (
            ("libwslalloc, cudaMalloc+cudaFree", [BENCH, str(n), "1", "10"], [BENCH, str(n), "1", "10"],
             env(False), env(True)),
            ("heaptrack, malloc+free", [loop, str(n)],
             [heaptrack, "-o", os.path.join(tempfile.mkdtemp(), "ht"), loop, str(n)], plain, plain)):
        bare = statistics.median(cpu_seconds(bare_cmd, bare_env) for _ in range(3))
        traced = statistics.median(cpu_seconds(traced_cmd, traced_env) for _ in range(3))
        rows.append((name, bare, traced))
    print("| tracer | bare | traced | added per pair |")
    print("|---|---:|---:|---:|")
    for name, bare, traced in rows:
        print(f"| {name} | {bare / n * 1e9:.0f} | {traced / n * 1e9:.0f} | {(traced - bare) / n * 1e9:.0f} |")
    ours, theirs = rows[0][2] - rows[0][1], rows[1][2] - rows[1][1]
    print(f"\nlibwslalloc adds {ours / theirs:.2f} of heaptrack's CPU time per traced pair "
          f"(target: at most 0.33), over {n} pairs, counting all of heaptrack's processes.")


print(f"# libwslalloc overhead per cudaMalloc+cudaFree pair (simulated runtime)")
if args.only_heaptrack:
    heaptrack_comparison()
    sys.exit(0)
if not args.no_callgrind:
    print("\n## Instructions per pair (callgrind, marginal over 10000 pairs)")
    print("| live allocations | bare | with shim | added by the shim |")
    print("|---:|---:|---:|---:|")
    for live in (10, 10000, 100000):
        b, s = per_pair(False, live), per_pair(True, live)
        print(f"| {live} | {b:.0f} | {s:.0f} | {s - b:.0f} |", flush=True)

print("\n## Wall time per pair (median, ns; 2 cores here, so 4 and 8 threads share them)")
print("| threads | live | bare | with shim | added |")
print("|---:|---:|---:|---:|---:|")
for threads, live in ((1, 10), (2, 10), (4, 10), (8, 10), (1, 100000)):
    pairs = 200000 // threads
    b, s = wall(False, threads, live, pairs), wall(True, threads, live, pairs)
    print(f"| {threads} | {live} | {b:.0f} | {s:.0f} | {s - b:.0f} |", flush=True)

heaptrack_comparison()
