"""Several devices: each keeps its own live, peak and total."""
from harness import *

MiB = 1 << 20
bare, shim = same_as_bare("multidev", env={"WSLSIM_DEVICES": "2", "WSLSIM_MEM": "4G,2G"})
rep = shim.report()
devs = {d["index"]: d for d in rep.get("devices", [])}
equal(sorted(devs), [0, 1], "two devices")
if len(devs) == 2:
    equal((devs[0]["live_bytes"], devs[0]["peak_bytes"]), (100 * MiB, 100 * MiB), "device 0")
    equal((devs[1]["live_bytes"], devs[1]["peak_bytes"]), (200 * MiB, 400 * MiB), "device 1")
    equal(devs[1]["live_allocs"], 1, "device 1 allocations")
    equal((devs[0]["total_bytes"], devs[1]["total_bytes"]), (4 << 30, 2 << 30), "totals")
finish()
