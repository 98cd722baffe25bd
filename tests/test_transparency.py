"""Transparency: every intercepted call returns, writes and leaves last-error state as without the shim."""
import os
import sys

from harness import *

MiB = 1 << 20
runtime = sys.argv[1]

if runtime == "real-cuda":
    lib = os.environ.get("WSLA_REAL_CUDA_LIB", "")
    if not lib or not os.path.exists(os.path.join(lib, "libcudart.so.13")):
        skip("NVIDIA's libcudart.so.13 is not installed")
if runtime in ("hip", "real-hip") and not os.environ.get("WSLA_SIM_HIP"):
    skip("built without HIP")
if runtime == "real-hip":
    lib = os.environ.get("WSLA_REAL_HIP_LIB", "")
    if not lib or not os.path.exists(os.path.join(lib, "libamdhip64.so.5")):
        skip("Debian's libamdhip64.so.5 is not installed")

client = {"cuda12": "transparency12", "hip": "hip_transparency",
          "real-hip": "hip_transparency"}.get(runtime, "transparency")
bare, shim = same_as_bare(client, runtime=runtime)
equal(bare.rc, 0, f"{client} exit status")
check("wslalloc:" not in shim.err, f"the shim printed nothing: {shim.err!r}")
rep = shim.report()
apis = rep.get("by_api", {})


def pitch_of(label):
    """The pitch the runtime gave the client, from its output: a pitched
    allocation holds pitch x rows, not the width asked for."""
    for line in bare.out.splitlines():
        if line.startswith(label + "=") and " pitch=" in line:
            return int(line.rsplit("pitch=", 1)[1])
    check(False, f"the client printed {label}'s pitch: {bare.out}")
    return 0


if runtime in ("cuda13", "cuda12"):
    equal(apis.get("cudaMalloc"), {"calls": 5, "failed": 2, "bytes": MiB + 4096, "ooms": 1},
          "cudaMalloc counters")
    equal(apis.get("cudaFree", {}).get("calls"), 8, "cudaFree calls")
    equal(apis.get("cudaFree", {}).get("failed"), 2, "cudaFree failures")
    pitched, pitched_3d = pitch_of("pitched") * 10, pitch_of("3d") * 4 * 2
    check(pitched > 10000 and pitched_3d > 300 * 4 * 2, "the simulated runtime pads pitched rows")
    equal(apis.get("cudaMallocPitch", {}).get("bytes"), pitched, "pitch: pitch x rows")
    equal(apis.get("cudaMalloc3D", {}).get("bytes"), pitched_3d, "3D: pitch x rows x depth")
    equal(apis.get("cudaMallocManaged", {}).get("bytes"), 3 * MiB, "managed bytes")
    equal(apis.get("cudaMallocAsync", {}).get("calls"), 1, "async calls")
    equal(apis.get("cudaFreeAsync", {}).get("calls"), 2, "free async calls")
    equal(apis.get("cudaMallocFromPoolAsync", {}).get("bytes"), 5 * MiB, "pool bytes")
    equal(apis.get("cudaHostRegister"), {"calls": 2, "failed": 1, "bytes": 65536, "ooms": 0},
          "register counters")
    equal(apis.get("cudaHostUnregister", {}).get("failed"), 1, "unregister failures")
    equal(apis.get("cudaMemGetInfo"), {"calls": 2, "failed": 1, "bytes": 0, "ooms": 0},
          "meminfo counters")
    dev = rep["devices"][0]
    equal(dev["peak_bytes"], MiB + 4096 + pitched + pitched_3d + 3 * MiB + 5 * MiB, "device peak")
    equal((dev["live_bytes"], dev["live_allocs"]), (0, 0), "nothing live at the end")
    equal(dev["total_bytes"], 8 << 30, "device total from the driver")
    equal(rep["host_pinned"], {"live_bytes": 0, "live_allocs": 0,
                               "peak_bytes": 3 * MiB + 65536}, "pinned host counters")
    equal(len(rep["ooms"]), 1, "one OOM record")
    oom = rep["ooms"][0]
    equal((oom["api"], oom["device"], oom["size"]), ("cudaMalloc", 0, 1 << 40), "OOM request")
    equal((oom["total_bytes"], oom["own_bytes"], oom["view"]), (8 << 30, MiB, "driver"),
          "OOM device view")
    equal(oom["free_bytes"] + oom["own_bytes"] + oom["foreign_bytes"], oom["total_bytes"],
          "free + own + foreign = total")
    check(oom["site"].startswith(client + "+0x"), f"OOM site names the client: {oom['site']}")
    equal(rep["leaks"], [], "no leaks")
    equal(rep["process"]["end"], "exit", "ended by exit")
    equal(rep["totals"]["events_lost"], 0, "no events lost")
elif runtime == "hip":
    equal(apis.get("hipMalloc"), {"calls": 4, "failed": 3, "bytes": MiB, "ooms": 2},
          "hipMalloc counters")
    equal(apis.get("hipFree", {}).get("calls"), 5, "hipFree calls")
    equal(apis.get("hipExtMallocWithFlags", {}).get("bytes"), 2 * MiB, "ext bytes")
    pitched = pitch_of("pitched") * 10
    check(pitched > 10000, "the simulated runtime pads pitched rows")
    equal(apis.get("hipMallocPitch", {}).get("bytes"), pitched, "pitch: pitch x rows")
    equal(apis.get("hipFreeHost", {}).get("calls"), 1, "hipFreeHost calls")
    equal(rep["host_pinned"]["peak_bytes"], 2 * MiB + 65536, "pinned peak")
    dev = rep["devices"][0]
    equal(dev["peak_bytes"], MiB + 2 * MiB + 3 * MiB + pitched + 4 * MiB, "device peak")
    equal(dev["live_bytes"], 0, "nothing live")
    equal(len(rep["ooms"]), 2, "two OOM records")
    for oom in rep["ooms"]:
        equal((oom["total_bytes"], oom["view"]), (8 << 30, "sample"), "HIP OOM view, taken before the call")
else:
    # A real runtime with no GPU: every call fails with the runtime's own
    # code, which passes through and is a failure, never an OOM.
    calls = sum(a["calls"] for a in apis.values())
    failed = sum(a["failed"] for a in apis.values())
    check(calls > 0, "calls were recorded")
    equal(failed, calls, "every call failed")
    equal(rep["totals"]["ooms"], 0, "no failure counted as out-of-memory")
    equal(rep["ooms"], [], "no OOM records")
finish()
