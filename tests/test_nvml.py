"""NVML: the memory queries older Ollama sizes itself from are counted and pass through untouched."""
import os

from harness import *

if not os.environ.get("WSLA_SIM_NVML"):
    skip("built without nvml.h")
env = {"LD_LIBRARY_PATH": os.environ["WSLA_SIM_NVML"], "WSLSIM_MEM": "12G"}
bare, shim = same_as_bare("nvml", env=env)
check(f"total={12 << 30}" in bare.out, f"the simulated NVML answers: {bare.out}")
rep = shim.report()
apis = rep.get("by_api", {})
equal(apis.get("nvmlDeviceGetMemoryInfo"), {"calls": 1, "failed": 0, "bytes": 0, "ooms": 0},
      "nvmlDeviceGetMemoryInfo counted")
equal(apis.get("nvmlDeviceGetMemoryInfo_v2"), {"calls": 2, "failed": 1, "bytes": 0, "ooms": 0},
      "nvmlDeviceGetMemoryInfo_v2 counted, its version mismatch a failure")
limited = run("nvml", env={**env, "WSLALLOC_LIMIT": "2G", "WSLALLOC_HEADROOM": "512M"})
check(f"v1=0 total={2 << 30} free={(2 << 30) - (512 << 20)}" in limited.out,
      f"NVML answers shaped by the limit and headroom: {limited.out}")
check(f"v2=0 total={2 << 30} free={(2 << 30) - (512 << 20)}" in limited.out, "and the _v2 answer")
finish()
