"""Lookups: however a client reaches the driver, each allocation is recorded once, under the name it called."""
from harness import *

MiB = 1 << 20

for mode in ("procaddr", "dlsym", "legacy", "entrypoint"):
    bare, shim = same_as_bare("lookup", [mode])
    equal(bare.rc, 0, f"{mode}: exit status")
    check("used=32" in bare.out, f"{mode}: the driver holds 32 MiB")
    rep = shim.report()
    apis = rep.get("by_api", {})
    equal(apis.get("cuMemAlloc_v2", {}).get("calls"), 2, f"{mode}: cuMemAlloc_v2 calls")
    equal(apis.get("cuMemFree_v2", {}).get("calls"), 1, f"{mode}: cuMemFree_v2 calls")
    equal(rep.get("devices", [{}])[0].get("live_bytes"), 32 * MiB, f"{mode}: live bytes")
    check(not any(k.startswith("cuInit") for k in apis), f"{mode}: untracked entry points pass")
    if mode != "dlsym":
        check(rep["lookups"]["wrapped"] >= 3, f"{mode}: lookups answered with wrappers: {rep['lookups']}")

# A runtime over the driver: the runtime's name, once; the driver calls it
# makes underneath are not counted again.
for procaddr in ("0", "1"):
    bare, shim = same_as_bare("transparency", env={"WSLSIM_CUDART_PROCADDR": procaddr})
    rep = shim.report()
    apis = rep.get("by_api", {})
    tag = "runtime via cuGetProcAddress" if procaddr == "1" else "runtime via dlsym"
    equal(apis.get("cudaMalloc", {}).get("calls"), 5, f"{tag}: cudaMalloc calls")
    equal(sorted(k for k in apis if k.startswith("cu") and not k.startswith("cuda")), [],
          f"{tag}: no driver call counted twice")
    pitch = {l.split("=")[0]: int(l.rsplit("pitch=", 1)[1]) for l in bare.out.splitlines()
             if " pitch=" in l}
    equal(rep["devices"][0]["peak_bytes"],
          MiB + 4096 + pitch.get("pitched", 0) * 10 + pitch.get("3d", 0) * 4 * 2 + 3 * MiB + 5 * MiB,
          f"{tag}: peak as without lookups")
    check(rep["lookups"]["wrapped"] >= 10,
          f"{tag}: the runtime's driver entry points are the shim's wrappers: {rep['lookups']}")

# RTLD_NEXT keeps meaning "after the caller" under the shim's dlsym.
bare, shim = same_as_bare("next/next_main")
check("next after next_a is B" in shim.out, f"RTLD_NEXT: {shim.out.strip()}")
finish()
