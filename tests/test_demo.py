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
check("fragmented" in oom["diagnosis"], "and the fragmentation the model shows")
equal(rep["host_pinned"]["live_bytes"], 512 << 20, "pinned staging buffer")
text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True, text=True)
check("likely cause: others" in text.stdout, "the text report gives the cause")
finish()
