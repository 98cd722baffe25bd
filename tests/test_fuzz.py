"""A short libFuzzer run of the recording reader, seeded from tests/fuzz/corpus: any crash, leak or out-of-bounds read fails it."""
import os
import subprocess
import sys
import tempfile

fuzzer, corpus = sys.argv[1], sys.argv[2]
seeds = sorted(os.listdir(corpus))
if len(seeds) < 3:
    print(f"FAIL: the corpus {corpus} holds {len(seeds)} seeds")
    sys.exit(1)
# New inputs go to a scratch folder listed first; the committed corpus is
# only read.  Runs are counted, not timed, so the test does the same work
# on any machine.
scratch = tempfile.mkdtemp()
runs = os.environ.get("WSLA_FUZZ_RUNS", "30000")
p = subprocess.run([fuzzer, scratch, corpus, f"-runs={runs}", "-max_len=131072",
                    "-rss_limit_mb=2048", "-print_final_stats=1",
                    f"-artifact_prefix={scratch}/"],
                   capture_output=True, text=True, timeout=280)
tail = "\n".join(p.stderr.splitlines()[-25:])
if p.returncode != 0:
    print(tail)
    print(f"FAIL: the fuzzer found a failure (status {p.returncode}); input in {scratch}")
    sys.exit(1)
executed = next((int(l.split(":")[-1]) for l in p.stderr.splitlines()
                 if l.startswith("stat::number_of_executed_units:")), 0)
if executed < int(runs):
    print(tail)
    print(f"FAIL: only {executed} of {runs} inputs ran")
    sys.exit(1)
print(f"ok: {executed} inputs from {len(seeds)} seeds, no failure")
