"""Overhead of libwslalloc per cudaMalloc+cudaFree pair: callgrind instructions, wall time at 1 and 8 threads, and CPU time against heaptrack."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile

from benchenv import BENCH, MALLOC_LOOP, SHIM, env, need, plain

SECTIONS = ("callgrind", "wall", "heaptrack")
ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
ap.add_argument("--reps", type=int, help="repetitions of each timed measurement (default 7)")
ap.add_argument("--only", action="append", choices=SECTIONS,
                help="run only this section (may be given more than once)")
args = ap.parse_args()
REPS = args.reps or (3 if args.quick else 7)
ONLY = args.only or SECTIONS
need(SHIM, BENCH)


def load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def spread(xs, scale=1.0, unit=""):
    """median [least, most]: every timed figure is given with its spread."""
    m, lo, hi = (f(xs) * scale for f in (statistics.median, min, max))
    return f"{m:.0f}{unit} [{lo:.0f}, {hi:.0f}]"


# ---------------------------------------------------------------- callgrind

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


def callgrind_section():
    print("\n## Instructions per pair (callgrind, marginal over 10000 pairs)")
    print("| live allocations | bare | with shim | added by the shim |")
    print("|---:|---:|---:|---:|")
    # Every live allocation is in the recording's live table (the last row
    # with the table sized for them: WSLALLOC_LIVE_SLOTS is the most live
    # allocations expected, 65536 by default).
    for live, extra in ((10, None), (100000, None), (100000, {"WSLALLOC_LIVE_SLOTS": "100000"})):
        b, s = per_pair(False, live, extra), per_pair(True, live, extra)
        label = f"{live}" + (" (WSLALLOC_LIVE_SLOTS=100000)" if extra else "")
        print(f"| {label} | {b:.0f} | {s:.0f} | {s - b:.0f} |", flush=True)


# ---------------------------------------------------------------- wall time

def wall_section():
    """Wall time per pair as pair_bench measures it (its threads' loops, not
    the process's start), bare and with the shim in alternation, so that a
    change of load in the middle falls on both; 'added' is the median of the
    differences of each bare/shim couple."""
    pairs = 1_000_000  # in all, shared among the threads
    print(f"\n## Wall time per pair (ns; {pairs} pairs in all, 10 live; median "
          f"[least, most] of {REPS}, bare and shim alternated)")
    print(f"({load()}, {os.cpu_count()} cores)\n")
    print("| threads | bare | with shim | added |")
    print("|---:|---:|---:|---:|")
    for threads in (1, 8):
        got = {False: [], True: []}
        for r in range(REPS):
            for preload in ((False, True) if r % 2 == 0 else (True, False)):
                out = subprocess.run([BENCH, str(pairs // threads), str(threads), "10"],
                                     env=env(preload), capture_output=True, text=True, check=True)
                got[preload].append(float(out.stdout))
        added = [s - b for b, s in zip(got[False], got[True])]
        print(f"| {threads} | {spread(got[False])} | {spread(got[True])} | {spread(added)} |",
              flush=True)
    print(f"({load()})")


# ---------------------------------------------------------------- heaptrack

def become_subreaper():
    """Descendants whose parent exits without waiting for them come to this
    process instead of init, so that cpu_seconds can wait for them and count
    them."""
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("bench: prctl(PR_SET_CHILD_SUBREAPER) failed: orphans would go uncounted")


def cpu_seconds(cmd, environ):
    """User+system CPU seconds of cmd and of every process under it: wait4
    gives the command's own with every descendant it waited for (heaptrack's
    script waits for its pipeline, so the interpreter and the compressor are
    in it); one orphaned on the way comes to this process, a subreaper, and
    is waited for and added here."""
    p = subprocess.Popen(cmd, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    total = ru.ru_utime + ru.ru_stime
    while True:
        try:
            _, _, ru = os.wait4(-1, 0)
        except ChildProcessError:
            break
        total += ru.ru_utime + ru.ru_stime
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited with {p.returncode}")
    return total


def heaptrack_section():
    """CPU time per traced pair: libwslalloc on cudaMalloc+cudaFree against
    heaptrack on malloc+free, each the marginal cost of more pairs.

    Every command runs at two loop lengths; the difference of its CPU times
    over the difference of the pairs is the cost of a pair, so what a run
    costs once (heaptrack's shell script, its interpreter's start, resolving
    symbols and compressing at the end; the shim's recording set-up) cancels.
    The commands run in alternation, rotating their order, each repetition a
    full set at both lengths, and each figure is the median over the
    repetitions of that repetition's own difference, so a change of load
    falls on every command alike.  heaptrack --raw (the collector and the
    compressor, no heaptrack_interpret) is measured too: it is what counting
    only the traced process and its compressor would give."""
    heaptrack = shutil.which("heaptrack")
    lo, hi = 1_000_000, 5_000_000
    print(f"\n## CPU time per traced pair against heaptrack (ns; marginal over {hi - lo} "
          f"pairs; median [least, most] of {REPS}, every command alternated)")
    if not heaptrack or not os.path.exists(MALLOC_LOOP):
        print("heaptrack is not installed (Debian: apt-get install heaptrack): skipped")
        return
    become_subreaper()
    print(f"({load()}, {os.cpu_count()} cores)\n")

    def ht(*opts):
        return lambda n: [heaptrack, *opts, "-o", os.path.join(tempfile.mkdtemp(), "ht"),
                          MALLOC_LOOP, str(n)]

    runs = {  # name: (command for n pairs, its environment)
        "cudaMalloc+cudaFree, bare": (lambda n: [BENCH, str(n), "1", "10"], lambda: env(False)),
        "cudaMalloc+cudaFree, libwslalloc": (lambda n: [BENCH, str(n), "1", "10"], lambda: env(True)),
        "malloc+free, bare": (lambda n: [MALLOC_LOOP, str(n)], plain),
        "malloc+free, heaptrack": (ht(), plain),
        "malloc+free, heaptrack --raw": (ht("--raw"), plain),
    }
    cpu = {name: {lo: [], hi: []} for name in runs}
    names = list(runs)
    for r in range(REPS):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in ((lo, hi) if r % 2 == 0 else (hi, lo)):
            for name in order:
                cmd, environ = runs[name]
                cpu[name][n].append(cpu_seconds(cmd(n), environ()))
    slope = {k: [(b - a) / (hi - lo) for a, b in zip(v[lo], v[hi])] for k, v in cpu.items()}
    once = {k: [a - s * lo for a, s in zip(cpu[k][lo], slope[k])] for k in cpu}

    print("| run | CPU per pair | CPU once per run (ms) |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {spread(slope[name], 1e9)} | {spread(once[name], 1e3)} |")

    def minus(a, b):
        return [x - y for x, y in zip(slope[a], slope[b])]

    ours = minus("cudaMalloc+cudaFree, libwslalloc", "cudaMalloc+cudaFree, bare")
    theirs = minus("malloc+free, heaptrack", "malloc+free, bare")
    raw = minus("malloc+free, heaptrack --raw", "malloc+free, bare")

    def one_length(a, b, n):  # the method before: traced less bare at one length, start-up in it
        return [(x - y) / n for x, y in zip(cpu[a][n], cpu[b][n])]

    print(f"\n| tracer | added per pair | one length, start-up in it: at {lo} | at {hi} |")
    print("|---|---:|---:|---:|")
    for label, marginal, a, b in (
            ("libwslalloc", ours, "cudaMalloc+cudaFree, libwslalloc", "cudaMalloc+cudaFree, bare"),
            ("heaptrack (every process)", theirs, "malloc+free, heaptrack", "malloc+free, bare"),
            ("heaptrack --raw (no interpreter)", raw, "malloc+free, heaptrack --raw",
             "malloc+free, bare")):
        print(f"| {label} | {spread(marginal, 1e9)} | {spread(one_length(a, b, lo), 1e9)} "
              f"| {spread(one_length(a, b, hi), 1e9)} |")
    ratio = [o / t for o, t in zip(ours, theirs)]
    ratio_raw = [o / t for o, t in zip(ours, raw)]
    print(f"\nlibwslalloc adds {statistics.median(ratio):.2f} [{min(ratio):.2f}, {max(ratio):.2f}] "
          f"of heaptrack's CPU time per traced pair (target: at most 0.33), counting every "
          f"process of both; {statistics.median(ratio_raw):.2f} "
          f"[{min(ratio_raw):.2f}, {max(ratio_raw):.2f}] against heaptrack without its interpreter.")
    print(f"({load()})")


print("# libwslalloc overhead per cudaMalloc+cudaFree pair (simulated runtime)")
for section in SECTIONS:
    if section in ONLY:
        globals()[f"{section}_section"]()
