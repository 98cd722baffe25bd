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


print(f"# libwslalloc overhead per cudaMalloc+cudaFree pair (simulated runtime)")
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
