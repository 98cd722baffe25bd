"""First aid: a process that dies of an OOM ends its output with what happened and the likely fix; one that copes says nothing."""
from harness import *

env = {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"}
r = run("llm_like", env=env)
tail = r.err[r.err.rfind("CUDA error"):]
check(r.err.rstrip().endswith("explains it)"), f"llm_like: first aid ends the output: {r.err[-300:]!r}")
for words in ("ran out of GPU memory", "cudaMalloc of 1.00 GiB on device 0",
              "8.00 GiB total, 1.00 GiB free", "others and the driver: 1.50 GiB",
              "likely fix: others", "recording: " + r.dir):
    check(words in tail, f"llm_like: first aid says {words!r}")

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
