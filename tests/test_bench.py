"""wslalloc bench on the simulated GPU: latency with and without the library in one run, the largest block, fragmentation, the pinned ceiling; no GPU, said so."""
import json
import os
import subprocess
import tempfile

from harness import *

GiB, MiB = 1 << 30, 1 << 20
env = env_for("cuda13", False, {"WSLSIM_MEM": "8G", "WSLSIM_PINNED_MAX": "6G"})
out = os.path.join(tempfile.mkdtemp(), "bench.json")
leftovers = lambda: {f for f in os.listdir("/tmp") if f.startswith("wslalloc-bench-")}
before = leftovers()
p = subprocess.run([TOOL, "bench", "--pinned", "--iterations", "50", "--json", out], capture_output=True,
                   text=True, timeout=300, env=env)
equal(p.returncode, 0, f"bench: status ({p.stderr})")
j = json.load(open(out))
equal((j["bare_without_library"], j["shim_with_library"]), (True, True), "one run bare, one with the library")
equal((j["total_bytes"], j["free_bytes"], j["largest_block_bytes"]), (8 * GiB, 8 * GiB, 8 * GiB),
      "an empty 8 GiB card: all of it in one block")
equal([x["size"] for x in j["latency"]], [4096, MiB, 64 * MiB, 256 * MiB], "four size classes")
check(all(x["bare_us"] > 0 and x["shim_us"] > 0 for x in j["latency"]), "latency measured both ways")
# 115 blocks of 64 MiB fill 90% of 8 GiB; 57 freed leave 64 MiB holes and
# the 832 MiB tail: the simulator places first-fit, as a real driver may.
f = j["fragmentation"]
equal(f["blocks"], 115, "fragmentation: 64 MiB blocks over 90% of free memory")
equal(f["free_bytes"], 8 * GiB - 58 * 64 * MiB, "fragmentation: free after every other one is freed")
equal(f["largest_block_bytes"], 8 * GiB - 115 * 64 * MiB, "fragmentation: the largest block is the tail")
equal(leftovers() - before, set(), "the library's run leaves no folder behind")
equal(j["runtime"], "CUDA", "the CUDA runtime, found first")
# The GPU measured, by the driver's name for it (the simulator's
# cuDeviceGetName says "wslsim GPU <index>").
equal(j["gpu"], {"index": 0, "name": "wslsim GPU 0", "total_bytes": 8 * GiB}, "the GPU measured")
check(p.stdout.startswith("GPU 0: wslsim GPU 0, on the CUDA runtime\nGPU memory: 8.00 GiB total"),
      f"the table names the GPU: {p.stdout}")
equal(j["pinned_bytes"], 6 * GiB, "the pinned ceiling (WSL2 caps it)")
check("cudaMalloc+cudaFree, median of 50 pairs" in p.stdout and "fragmentation 81%" in p.stdout,
      f"the table: {p.stdout}")

# Without --pinned nothing pinned is probed.
q = subprocess.run([TOOL, "bench", "--iterations", "10", "--json", "-"], capture_output=True, text=True,
                   timeout=300, env=env)
# --json -: stdout is the JSON alone, the table goes to stderr.
try:
    qj = json.loads(q.stdout)
except ValueError:
    qj = {}
    check(False, f"bench --json -: stdout parses as JSON: {q.stdout!r}")
equal((q.returncode, qj.get("pinned_bytes", "absent")), (0, None), "no pinned probe unless asked")
check("cudaMalloc+cudaFree, median of 10 pairs" in q.stderr, f"--json -: the table on stderr: {q.stderr}")

# HIP, as on an AMD machine.
if os.environ.get("WSLA_SIM_HIP"):
    h = subprocess.run([TOOL, "bench", "--runtime", "hip", "--iterations", "10", "--json", "-"],
                       capture_output=True, text=True, timeout=300,
                       env=env_for("hip", False, {"WSLSIM_MEM": "4G"}))
    hj = json.loads(h.stdout)
    equal((h.returncode, hj["runtime"], hj["total_bytes"], hj["shim_with_library"]), (0, "HIP", 4 * GiB, True),
          "HIP: measured, with and without the library")
    equal(hj["gpu"], {"index": 0, "name": "wslsim GPU 0", "total_bytes": 4 * GiB}, "HIP: the GPU measured")

# No GPU: said so, status 1.
bare = {k: v for k, v in env.items() if k != "LD_LIBRARY_PATH"}
n = subprocess.run([TOOL, "bench"], capture_output=True, text=True, timeout=120, env=bare)
check(n.returncode == 1 and "no GPU to measure" in n.stderr, f"no GPU: {n.returncode} {n.stderr.strip()}")
# A runtime without a driver: the error by its name, and the fix.
nd = subprocess.run([TOOL, "bench"], capture_output=True, text=True, timeout=120,
                    env={**bare, "LD_LIBRARY_PATH": os.environ["WSLA_SIM_CUDA13"]})
check(nd.returncode == 1 and "cudaMemGetInfo failed with cudaErrorInsufficientDriver (35): "
      "no CUDA driver reachable" in nd.stderr, f"no driver: {nd.returncode} {nd.stderr.strip()}")
for args, words in ((["--iterations", "5"], "10 to 100000"), (["extra"], "no arguments")):
    b = subprocess.run([TOOL, "bench", *args], capture_output=True, text=True, env=env)
    check(b.returncode == 2 and words in b.stderr, f"bench {args}: refused ({b.stderr.strip()})")
finish()
