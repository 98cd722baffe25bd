"""Context switches: every allocation is counted on the device its thread was on, through cudaSetDevice, the driver's context calls and HIP's."""
from harness import *

MiB = 1 << 20


def per_device(r, what):
    rep = r.report()
    devs = {d["index"]: d for d in rep.get("devices", [])}
    return {i: (d["live_bytes"], d["live_allocs"]) for i, d in devs.items()}, rep


TWO = {"WSLSIM_DEVICES": "2", "WSLSIM_MEM": "4G,4G"}

# The runtime: a thread on 0, then 1, then 0; a second thread stays on 0
# throughout.  With sampling off, only the context hooks can tell the
# device changed; with it on (the default), the samples must agree.
for sample in ("0", "100"):
    env = dict(TWO, WSLALLOC_SAMPLE_MS=sample)
    bare, shim = same_as_bare("ctxswitch", ["runtime"], env=env)
    equal(bare.rc, 0, "runtime client exit status")
    devs, rep = per_device(shim, "runtime")
    equal(devs.get(0), ((100 + 1 + 2 + 4 + 16) * MiB, 5),
          f"sample {sample}: device 0 holds the first thread's 100, 4 and 16 MiB and the second's 1 and 2")
    equal(devs.get(1), ((200 + 8) * MiB, 2),
          f"sample {sample}: device 1 holds the 200 and 8 MiB made after cudaSetDevice(1)")
    if sample != "0":
        # Each device's sample names that device: its total is its own.
        equal(sorted(d["total_bytes"] for d in rep.get("devices", [])), [4 << 30, 4 << 30],
              "each device's sample seen")

# The driver API: cuCtxSetCurrent, push and pop, called directly and through
# the pointers cuGetProcAddress hands out.
bare, shim = same_as_bare("ctxswitch", ["driver"], env=dict(TWO, WSLALLOC_SAMPLE_MS="0"))
equal(bare.rc, 0, "driver client exit status")
check("pop-empty 201" in shim.out, "a pop with no context fails as the driver's does")
devs, rep = per_device(shim, "driver")
equal(devs.get(0), ((8 + 32 + 128 + 2 + 1) * MiB, 5), "driver: device 0's allocations")
equal(devs.get(1), ((16 + 64 + 256) * MiB, 3), "driver: device 1's allocations")

# A switch no hook sees (as NVIDIA's runtime makes through its private
# table): the first sample due afterwards asks the driver and corrects the
# device, for that allocation and the next.
r = run("ctxswitch", ["hidden"], env=dict(TWO, WSLALLOC_SAMPLE_MS="20"))
equal(r.rc, 0, "hidden-switch client exit status")
devs, _ = per_device(r, "hidden")
equal(devs.get(0), (8 * MiB, 1), "hidden switch: device 0 keeps only the allocation before it")
equal(devs.get(1), ((16 + 32) * MiB, 2), "hidden switch: corrected at the sample that fell due")

# The same with sampling off and a device limit set: the limit's check,
# slow anyway, asks the driver and corrects the device.
r = run("ctxswitch", ["hidden"], env=dict(TWO, WSLALLOC_SAMPLE_MS="0", WSLALLOC_LIMIT="3G"))
equal(r.rc, 0, "hidden-switch client exit status, with a limit")
devs, _ = per_device(r, "hidden, limit")
equal(devs.get(0), (8 * MiB, 1), "hidden switch, limit: device 0 keeps only the allocation before it")
equal(devs.get(1), ((16 + 32) * MiB, 2), "hidden switch, limit: corrected at the limit's check")

# HIP, where the simulated runtime has it: hipSetDevice, HIP's context
# stack and hipCtxSetCurrent.
if SIM.get("hip") and SIM["hip"][0] and os.path.exists(os.path.join(CLIENTS, "hip_ctxswitch")):
    bare, shim = same_as_bare("hip_ctxswitch", runtime="hip", env=dict(TWO, WSLALLOC_SAMPLE_MS="0"))
    equal(bare.rc, 0, "HIP client exit status")
    devs, _ = per_device(shim, "hip")
    equal(devs.get(0), ((100 + 1 + 2 + 4 + 16 + 32) * MiB, 6), "HIP: device 0's allocations")
    equal(devs.get(1), ((200 + 8) * MiB, 2), "HIP: device 1's allocations")
finish()
