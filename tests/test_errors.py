"""Failures other than out-of-memory: the report and run name each error as the API's headers do, with its meaning."""
import os
import subprocess

from harness import *

# No driver reachable: the runtime alone on the library path.  The
# simulated runtime, as NVIDIA's does, fails every call with
# cudaErrorInsufficientDriver (35 in driver_types.h), and llm_like aborts.
no_driver = {"LD_LIBRARY_PATH": os.environ["WSLA_SIM_CUDA13"]}
r = run("llm_like", env=no_driver)
check(r.rc != 0 and "cudaErrorInsufficientDriver" in r.err, f"llm_like without a driver fails: {r.err!r}")
rep = r.report()
fails = rep.get("failures", [])
equal([(f["api"], f["code"], f["error"], f["count"]) for f in fails],
      [("cudaMalloc", 35, "cudaErrorInsufficientDriver", 1)], "report --json: the failure named")
check(fails and "/usr/lib/wsl/lib" in fails[0].get("meaning", ""), f"and its meaning: {fails}")
equal(rep.get("failures_without_error"), {"cudaMemGetInfo": 1}, "the query's failure, counted only")
text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True, text=True).stdout
check("  cudaMalloc: cudaErrorInsufficientDriver (35), 1 time, the first at " in text,
      f"report: names the error and its code: {text}")
check("no CUDA driver reachable" in text, "report: what it means")

# wslalloc run names it in its summary.
w = subprocess.run([TOOL, "run", "--dir", r.dir, "--", os.path.join(CLIENTS, "llm_like")],
                   env=env_for("cuda13", False, no_driver), capture_output=True, text=True, timeout=120)
check("cudaMalloc failed 1 time: cudaErrorInsufficientDriver (35)\n    no CUDA driver reachable" in w.stderr,
      f"run: the summary names the failure: {w.stderr!r}")

# The runtime's other errors (the transparency client provokes them).
r = run("transparency")
got = {(f["api"], f["error"], f["code"]) for f in r.report().get("failures", [])}
for want in (("cudaMalloc", "cudaErrorInvalidValue", 1),
             ("cudaHostRegister", "cudaErrorHostMemoryAlreadyRegistered", 712),
             ("cudaHostUnregister", "cudaErrorHostMemoryNotRegistered", 713)):
    check(want in got, f"runtime: {want} in {got}")

# The driver API's names are CUresult's.
r = run("driver", runtime="cuda13")
got = {(f["api"], f["error"], f["code"]) for f in r.report().get("failures", [])}
check(("cuMemFree_v2", "CUDA_ERROR_INVALID_VALUE", 1) in got, f"driver API: {got}")

# HIP's are hipError_t's.
if os.environ.get("WSLA_SIM_HIP"):
    r = run("hip_transparency", runtime="hip")
    got = {(f["api"], f["error"], f["code"]) for f in r.report().get("failures", [])}
    for want in (("hipMalloc", "hipErrorInvalidValue", 1),
                 ("hipHostRegister", "hipErrorHostMemoryAlreadyRegistered", 712)):
        check(want in got, f"HIP: {want} in {got}")

# An out-of-memory failure's error is named too.
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
oom = r.report().get("ooms", [{}])[0]
equal(oom.get("error"), "cudaErrorMemoryAllocation", "the OOM's error (2 in driver_types.h)")
text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True, text=True).stdout
check("), cudaErrorMemoryAllocation (2)\n" in text, "report: the OOM's error by name")
finish()
