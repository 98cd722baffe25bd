"""The README's demo: a llama.cpp-like load meets a browser taking 1.5 GiB, aborts, and the report says why."""
from harness import *

GiB = 1 << 30
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
equal(r.rc, -6, "llm_like aborts as ggml does")
check("CUDA error: out of memory" in r.err, "the client's own error message")
rep = r.report()
equal((rep["process"]["end"], rep["process"]["signal"]), ("signal", 6), "end state")
equal(len(rep["ooms"]), 1, "one OOM")
oom = rep["ooms"][0]
equal(oom["size"], 1 * GiB, "the compute buffer that failed")
equal(oom["foreign_bytes"], 1536 << 20, "the browser's memory, seen as foreign")
equal(oom["own_bytes"], 5632 << 20, "weights and KV cache")
equal(oom["free_bytes"], 1 * GiB, "free memory at the failure")
check(oom["diagnosis"].startswith("others"), f"diagnosis names the others: {oom['diagnosis']}")
# The free GiB is two 512 MiB holes (the browser took the middle): the
# probe finds the larger, and the fragmentation follows.
equal(oom["largest_block_bytes"], 512 << 20, "WSLALLOC_PROBE: the largest block")
equal(oom["fragmentation"], 0.5, "fragmentation = 1 - largest / free")
off = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500", "WSLALLOC_PROBE": "0"})
equal(off.report()["ooms"][0]["largest_block_bytes"], None, "WSLALLOC_PROBE=0: no probe")
check("largest block is 512.0 MiB" in oom["diagnosis"], f"and the fragmentation: {oom['diagnosis']}")
equal(rep["host_pinned"]["live_bytes"], 512 << 20, "pinned staging buffer")
text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True, text=True)
check("likely cause: others" in text.stdout, "the text report gives the cause")
finish()
