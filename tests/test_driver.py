"""The driver API called directly: every allocation and VMM order recorded once, live bytes as the driver counts them."""
import re

from harness import *

MiB = 1 << 20
GRAN = 2 * MiB
bare, shim = same_as_bare("driver", env={"WSLSIM_MAX_RESERVE": "40G"})
equal(bare.rc, 0, "driver client exit status")
check("vmm_supported=1" in shim.out, "VMM support passes through by default")
final_used = int(re.search(r"final_used=(\d+)", shim.out).group(1))
rep = shim.report()
apis = rep.get("by_api", {})
equal(apis.get("cuMemAlloc_v2"), {"calls": 3, "failed": 1, "bytes": 72 * MiB, "ooms": 1},
      "cuMemAlloc_v2")
equal(apis.get("cuMemFree_v2", {}).get("calls"), 2, "cuMemFree_v2 calls")
equal(apis.get("cuMemFree_v2", {}).get("failed"), 1, "cuMemFree_v2 failures")
equal(apis.get("cuMemCreate", {}).get("calls"), 7, "cuMemCreate calls")
equal(apis.get("cuMemCreate", {}).get("bytes"), (4 + 2 + 1 + 1 + 3 + 5) * GRAN, "cuMemCreate bytes")
equal(apis.get("cuMemCreate", {}).get("ooms"), 1, "cuMemCreate OOM")
equal(apis.get("cuMemRelease"), {"calls": 7, "failed": 1, "bytes": 0, "ooms": 0}, "cuMemRelease")
equal(apis.get("cuMemMap", {}).get("calls"), 5, "cuMemMap calls")
equal(apis.get("cuMemUnmap", {}).get("calls"), 3, "cuMemUnmap calls")
equal(apis.get("cuMemAddressReserve"), {"calls": 2, "failed": 1, "bytes": 0, "ooms": 0},
      "reservations: the 64 GiB one refused")
dev = rep["devices"][0]
equal(dev["live_bytes"], final_used, "live bytes = the driver's own used memory")
equal(dev["live_bytes"], 64 * MiB + 5 * GRAN, "live: the cuMemAlloc and the mapped handle")
# 64 MiB live throughout; the largest moment is handle E mapped (10 MiB).
equal(dev["peak_bytes"], 64 * MiB + 5 * GRAN, "peak")
vmm_leaks = [l for l in rep["leaks"] if l["api"] == "cuMemCreate"]
equal(sum(l["bytes"] for l in vmm_leaks), 5 * GRAN, "the mapped handle is a leak, by its site")

# The attribute override: off reports no VMM support; the client sees 0.
off = run("driver", env={"WSLALLOC_VMM": "off"})
check("vmm_supported=0" in off.out, "WSLALLOC_VMM=off hides VMM support")
# auto: VMM is reported only where a 32 GiB reservation succeeds.
auto_refused = run("driver", env={"WSLALLOC_VMM": "auto", "WSLSIM_MAX_RESERVE": "16G"})
check("vmm_supported=0" in auto_refused.out, "auto, reservation refused: no VMM")
auto_ok = run("driver", env={"WSLALLOC_VMM": "auto"})
check("vmm_supported=1" in auto_ok.out, "auto, reservation granted: VMM kept")
equal(auto_ok.report()["vmm"]["reserved_bytes"], (32 + 64) << 30,
      "auto's trial reservation is not the client's: only its own 32 and 64 GiB count")
bad = run("driver", env={"WSLALLOC_VMM": "sometimes"})
check("vmm_supported=1" in bad.out, "a bad WSLALLOC_VMM keeps the default")
check("WSLALLOC_VMM" in bad.err, "and says so")
finish()
