"""The README's demo: a llama.cpp-like load meets a browser taking 1.5 GiB, aborts, and the report says why."""
import json
import re
import subprocess

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
# The call site by name and line, from the client's symbols and DWARF.
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients", "llm_like.c")).read().splitlines()
line = 1 + next(i for i, l in enumerate(src) if "cudaMalloc(&p, size)" in l)
check(re.fullmatch(rf"must\+0x[0-9a-f]+ at llm_like\.c:{line}", oom.get("function", "")) is not None,
      f"the OOM's function and line: {oom.get('function')}, want must at llm_like.c:{line}")
# The stack at the failure: the site, then who called it, to main.
stack = [f.get("function", f["site"]) for f in oom.get("stack", [])]
check(len(stack) >= 3 and stack[0] == oom.get("function") and
      stack[1].startswith("ggml_gallocr_reserve_n+0x") and stack[2].startswith("main+0x"),
      f"the OOM's stack: must, the compute buffer's reserve, main: {stack}")
main_line = 1 + next(i for i, l in enumerate(src) if "compute = ggml_gallocr_reserve_n(ctx" in l)
equal((oom["phase"] or {}).get("what"), "llama.cpp was allocating a compute buffer", "the phase")
# What the memory was for, from the large allocations' stacks: the three
# purposes with their peaks and what is live at the end, each told apart
# although all come from the one cudaMalloc call in must().
purposes = {p["label"]: (p["peak_live_bytes"], p["live_bytes"], p["allocs"]) for p in rep["purposes"]}
equal(purposes, {"llama.cpp: model weights": (4608 << 20, 4608 << 20, 32),
                 "llama.cpp: KV cache": (1 * GiB, 1 * GiB, 1),
                 "llama.cpp: compute buffers": (512 << 20, 0, 3)}, "the memory by what it was for")
equal({p["label"]: p["at_joint_peak_bytes"] for p in rep["purposes"]},
      {"llama.cpp: model weights": 4608 << 20, "llama.cpp: KV cache": 1 * GiB,
       "llama.cpp: compute buffers": 512 << 20}, "what made up their joint peak, the device's 6 GiB")
equal([s["purpose"] for s in rep["stacks"]][:2], ["llama.cpp: model weights", "llama.cpp: KV cache"],
      "the stacks, largest peak first")
check(all(s["frames"][0].get("function", "").startswith("must+") for s in rep["stacks"]),
      "every stack starts at the allocating call")
# Perfetto draws each purpose as a series of its own.
trace = subprocess.run([TOOL, "export", "--format", "perfetto", "-o", "-", r.recordings()[0]],
                       capture_output=True, text=True)
series = {}
for ev in json.loads(trace.stdout)["traceEvents"]:
    if ev.get("ph") == "C" and "llama.cpp" in ev["name"]:
        series.setdefault(ev["name"], []).append(ev["args"]["bytes"])
equal({k: (max(v), v[-1]) for k, v in series.items()},
      {"device 0: llama.cpp: model weights": (4608 << 20, 4608 << 20),
       "device 0: llama.cpp: KV cache": (1 * GiB, 1 * GiB),
       "device 0: llama.cpp: compute buffers": (512 << 20, 0)}, "perfetto: a series per purpose")
pin = next(s for s in rep["sites"] if s["bytes"] == 512 << 20 and s["live_bytes"] == 0)
check(pin.get("function", "").startswith("main+0x"), f"the staging buffer's site is in main: {pin}")
weights = next(s for s in rep["sites"] if s.get("function", "").startswith("must+"))
equal(weights["peak_live_bytes"], 6 * GiB, "the site's peak of live device memory, replayed")
equal(rep["sites"][0], weights, "sites sorted by that peak")
equal(pin["peak_live_bytes"], 0, "pinned host memory is not device memory")
# The 20 events before the failure, the last of them first freed then
# sampled: the client's own pattern, in order, ending just before the OOM.
before = oom["events_before"]
equal(len(before), 20, "20 events before the OOM")
check(all(a["time"] <= b["time"] for a, b in zip(before, before[1:])), "in time order")
check(before[-1]["time"] <= oom["time"], "all before the failure")
equal([e["type"] for e in before[-4:]], ["free", "alloc", "sample", "free"], "the last four, by type")
equal((before[-2]["free_bytes"], before[-2]["total_bytes"]), (2 * GiB, 8 * GiB), "the sample's view")
equal((before[-1]["api"], before[-1]["size"]), ("cudaFree", 512 << 20), "the free just before")
equal(sum(1 for e in before if e["type"] == "alloc" and e["size"] == 144 << 20), 10, "the layers' allocations")
# The machine it ran on, as the report needs it to advise.
env = rep["environment"]
equal(env["kernel"], os.uname().release, "environment: the kernel")
equal(env["wsl2"], "microsoft" in os.uname().release.lower() or "icrosoft" in open("/proc/version").read(),
      "environment: WSL2 or not")
equal(env["dev_dxg"], os.path.exists("/dev/dxg"), "environment: /dev/dxg")
meminfo = dict(l.split(":", 1) for l in open("/proc/meminfo").read().splitlines())
equal(env["memory_bytes"], int(meminfo["MemTotal"].split()[0]) * 1024, "environment: the machine's memory")
equal(env["cuda_driver_version"], 13000, "environment: the driver's version")
libs = [os.path.basename(x) for x in env["gpu_libraries"]]
equal(libs, ["libcudart.so.13", "libcuda.so.1"], "environment: the GPU libraries it loaded")
unsampled = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500", "WSLALLOC_SAMPLE_MS": "0"})
equal(unsampled.report()["environment"].get("cuda_driver_version"), 13000,
      "with sampling off, the OOM notes the driver")
equal(env["gpus"], [{"index": 0, "name": "wslsim GPU 0", "total_bytes": 8 * GiB}], "environment: the GPU")
text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True, text=True)
check("likely cause: others" in text.stdout, "the text report gives the cause")
check("CUDA driver 13.0" in text.stdout and "GPU 0     wslsim GPU 0, 8.00 GiB" in text.stdout,
      "the text report names the driver and the GPU")
check(f"       in must+" in text.stdout and f"at llm_like.c:{line}" in text.stdout,
      "the text report names the function")
check(re.search(rf"     called by:\n       ggml_gallocr_reserve_n\+0x[0-9a-f]+ at llm_like\.c:\d+ \(llm_like\)\n"
                rf"       main\+0x[0-9a-f]+ at llm_like\.c:{main_line} \(llm_like\)\n     ",
                text.stdout) is not None, f"the text report names the caller, and stops at main: {text.stdout}")
check("Libraries " in text.stdout and "libcudart.so.13" in text.stdout, "the text report names the libraries")
check(re.search(r"What the device memory was for .*\n  llama\.cpp: model weights +peak +4\.50 GiB +live +4\.50 GiB +32 allocations\n",
                text.stdout) is not None, f"the text report's purposes: {text.stdout}")
check("  together at most 6.00 GiB, at 0.4" in text.stdout, f"the text report's joint peak: {text.stdout}")
# A threshold above the weights' 144 MiB leaves them without stacks; 0 keeps none.
high = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500", "WSLALLOC_STACKS": "200M"})
equal(sorted(p["label"] for p in high.report()["purposes"]), ["llama.cpp: KV cache", "llama.cpp: compute buffers"],
      "WSLALLOC_STACKS=200M: only the allocations that large")
none = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500", "WSLALLOC_STACKS": "0"})
equal((none.report()["purposes"], none.report()["stacks"]), ([], []), "WSLALLOC_STACKS=0: no stacks")
check("\nOptions: all at their defaults\n" in text.stdout, "no option changed")
check(re.search(r"^  0 +8\.00 GiB +6\.00 GiB +0\.4\d\d s ", text.stdout, re.M) is not None,
      "the peak and when it happened")
off_text = subprocess.run([TOOL, "report", off.recordings()[0]], capture_output=True, text=True).stdout
check("\nOptions not at their defaults\n  WSLALLOC_PROBE=0\n" in off_text, "the option that was changed")
check("Top call sites by peak live device memory" in text.stdout and "Top call sites by calls" in text.stdout,
      "the text report ranks sites both ways")
check("the 20 events before it:" in text.stdout and "sample    device 0: 2.00 GiB free of 8.00 GiB" in text.stdout,
      "the text report lists the events before the OOM")
finish()
