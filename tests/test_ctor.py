"""Recursion safety: lookups and allocations from a library constructor, where the shim starts inside the loader."""
from harness import *

MiB = 1 << 20
for client in ("ctor/ctor_linked", "ctor/ctor_dlopen"):
    bare, shim = same_as_bare(client)
    check("lookup=0 cudaMalloc=0 cuMemAlloc=0" in bare.out, f"{client}: ran ({bare.out.strip()})")
    rep = shim.report()
    apis = rep.get("by_api", {})
    equal(apis.get("cudaMalloc", {}).get("calls"), 1, f"{client}: cudaMalloc once")
    equal(apis.get("cuMemAlloc_v2", {}).get("calls"), 1, f"{client}: cuMemAlloc_v2 once")
    equal(rep.get("devices", [{}])[0].get("live_bytes"), 6 * MiB, f"{client}: live bytes")
finish()
