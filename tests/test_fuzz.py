"""A short libFuzzer run of a fuzz target, seeded from tests/fuzz/corpus: any crash, leak, undefined behaviour, out-of-bounds read or hang fails it.

Usage: test_fuzz.py FUZZER CORPUS [--selectors N] [--runs N]
With --selectors, the target's first input byte picks a command: each seed
is given once per selector.  --runs is the inputs run (30000 by default);
WSLA_FUZZ_RUNS overrides it, WSLA_FUZZ_SECONDS runs for a time instead (a
longer local run).
"""
import os
import subprocess
import sys
import tempfile

fuzzer, corpus = sys.argv[1], sys.argv[2]
selectors = int(sys.argv[sys.argv.index("--selectors") + 1]) if "--selectors" in sys.argv else 0
seeds = sorted(os.listdir(corpus))
if len(seeds) < 3:
    print(f"FAIL: the corpus {corpus} holds {len(seeds)} seeds")
    sys.exit(1)
# New inputs go to a scratch folder listed first; the committed corpus is
# only read.  Runs are counted, not timed, so the test does the same work
# on any machine.
scratch = tempfile.mkdtemp()
inputs = [scratch, corpus]
if selectors:
    prefixed = tempfile.mkdtemp()
    for name in seeds:
        blob = open(os.path.join(corpus, name), "rb").read()
        for sel in range(selectors):
            with open(os.path.join(prefixed, f"{sel:02d}-{name}"), "wb") as f:
                f.write(bytes([sel]) + blob)
    inputs = [scratch, prefixed]
default_runs = sys.argv[sys.argv.index("--runs") + 1] if "--runs" in sys.argv else "30000"
runs = os.environ.get("WSLA_FUZZ_RUNS", default_runs)
seconds = os.environ.get("WSLA_FUZZ_SECONDS")
limit = [f"-max_total_time={seconds}"] if seconds else [f"-runs={runs}"]
# UBSan only reports by default: here undefined behaviour is a failure.
env = {**os.environ, "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
       "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":abort_on_error=0"}
p = subprocess.run([fuzzer, *inputs, *limit, "-max_len=131072", "-timeout=30",
                    "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={scratch}/"],
                   capture_output=True, encoding="utf-8", errors="replace", env=env,
                   timeout=int(seconds) + 120 if seconds else 280)
tail = "\n".join(p.stderr.splitlines()[-25:])
if p.returncode != 0:
    print(tail)
    print(f"FAIL: the fuzzer found a failure (status {p.returncode}); input in {scratch}")
    sys.exit(1)
executed = next((int(l.split(":")[-1]) for l in p.stderr.splitlines()
                 if l.startswith("stat::number_of_executed_units:")), 0)
if not seconds and executed < int(runs):
    print(tail)
    print(f"FAIL: only {executed} of {runs} inputs ran")
    sys.exit(1)
print(f"ok: {executed} inputs from {len(seeds)} seeds, no failure")
