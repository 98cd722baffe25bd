"""A plugin backend closed and loaded again, its runtime now at another address, runs as without the library, and both rounds are recorded."""
from harness import *

MiB = 1 << 20
want = ("round 1: backend_run=0\nruntime unloaded: yes\n"
        "round 2: backend_run=0\nruntime moved: yes\n")
bare, shim = same_as_bare("backend_reload", runtime="cuda12")
equal((bare.rc, bare.out), (0, want), "bare run: the runtime went and came back elsewhere")
rep = shim.report()
by_api = rep.get("by_api", {})
equal((by_api.get("cudaMalloc", {}).get("calls"), by_api.get("cudaFree", {}).get("calls")),
      (4, 2), "both rounds' calls")
equal(rep.get("devices", [{}])[0].get("live_bytes"), 32 * MiB, "live bytes: 16 MiB from each round")
finish()
