"""First aid: a process that dies of an OOM ends its output with what happened and the likely fix; one that copes says nothing."""
import os
import tempfile

from harness import *

env = {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"}
r = run("llm_like", env=env)
tail = r.err[r.err.rfind("CUDA error"):]
check(r.err.rstrip().endswith("explains it)"), f"llm_like: first aid ends the output: {r.err[-300:]!r}")
for words in ("ran out of GPU memory", "cudaMalloc of 1.00 GiB on device 0",
              "8.00 GiB total, 1.00 GiB free", "others and the driver: 1.50 GiB",
              "likely fix: others", "recording: " + r.dir,
              "of its large allocations: llama.cpp: model weights 4.50 GiB, llama.cpp: KV cache 1.00 GiB\n"):
    check(words in tail, f"llm_like: first aid says {words!r}")

# The same with a live table far too small for the load (32 slots, then a
# second region): the large allocations are summed from both.
small = run("llm_like", env={**env, "WSLALLOC_LIVE_SLOTS": "16"})
check("of its large allocations: llama.cpp: model weights 4.50 GiB, llama.cpp: KV cache 1.00 GiB\n"
      in small.err, f"llm_like, 32 live slots: first aid sums both regions: {small.err[-400:]!r}")

# The hint's command works as given: plain `wslalloc report` reads the
# default directory (here empty), so the command has to name the file, also
# one whose path needs quoting.
import re
import subprocess
bin_dir = tempfile.mkdtemp(prefix="bin-")
os.symlink(TOOL, os.path.join(bin_dir, "wslalloc"))
for folder in ("plain", "it's a folder"):
    rec_dir = os.path.join(tempfile.mkdtemp(), folder)
    os.mkdir(rec_dir)
    hinted = run("llm_like", env=env, rec_dir=rec_dir)
    m = re.search(r"  recording: (.*) \(`(.*)` explains it\)\n", hinted.err)
    if not check(m is not None, f"{folder}: the hint's command: {hinted.err[-200:]!r}"):
        continue
    equal(m.group(1), hinted.recordings()[0], f"{folder}: the hint names the recording")
    shown = subprocess.run(["sh", "-c", m.group(2)], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PATH": bin_dir + ":" + os.environ["PATH"]})
    check(shown.returncode == 0 and f"wslalloc report: {hinted.recordings()[0]}" in shown.stdout,
          f"{folder}: `{m.group(2)}` reports that recording: {shown.returncode} {shown.stderr.strip()}")

# What it was doing, from its stack: the phase and the fix for that phase,
# in the first aid and in the report alike.
for limit, what, fix in (("8G", "a compute buffer", "smaller batches"),
                         ("5G", "its KV cache", "a smaller context"),
                         ("4G", "the model's weights", "fewer layers on the GPU")):
    run_env = {**env, "WSLALLOC_LIMIT": limit} if limit != "8G" else env
    phased = run("llm_like", env=run_env)
    line = next((l for l in phased.err.splitlines() if "it ran out while" in l), "")
    check(f"it ran out while llama.cpp was" in line and what in line and fix in line,
          f"limit {limit}: first aid names the phase, {what}: {line!r}")
    phase = phased.report()["ooms"][0]["phase"] or {}
    check(what in phase.get("what", "") and fix in phase.get("fix", ""),
          f"limit {limit}: the report names the phase: {phase}")
no_phase = run("crash", ["oom-exit"]).report()["ooms"][0]
equal(no_phase["phase"], None, "a stack that tells nothing: no phase")

quiet = run("llm_like", env={**env, "WSLALLOC_QUIET": "1"})
check("wslalloc" not in quiet.err, "WSLALLOC_QUIET=1 silences it")

dies = run("crash", ["oom-exit"])
equal(dies.rc, 1, "uncaught OOM: status 1")
check("ran out of GPU memory" in dies.err and dies.err.rstrip().endswith("explains it)"),
      f"uncaught OOM then exit(1): first aid at the end: {dies.err[-200:]!r}")
copes = run("crash", ["oom-handled"])
check("wslalloc" not in copes.err, "a handled OOM (a success after it): no first aid")
aborts = run("crash", ["oom"])
check("ran out of GPU memory" in aborts.err, "abort after the OOM: first aid")
survives = run("transparency")
check("wslalloc" not in survives.err, "an OOM, then exit 0: no first aid")
finish()
