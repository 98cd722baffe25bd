"""A runtime loaded with dlopen(RTLD_LOCAL) is invisible to RTLD_NEXT, yet must be found and recorded."""
from harness import *

MiB = 1 << 20
bare, shim = same_as_bare("backend_dl", runtime="cuda12")
equal(bare.out.strip(), "backend_run=0", "the backend ran")
rep = shim.report()
equal(rep.get("by_api", {}).get("cudaMalloc", {}).get("calls"), 2, "calls through the local runtime")
equal(rep.get("devices", [{}])[0].get("live_bytes"), 16 * MiB, "live bytes")
sites = [s["site"] for s in rep.get("sites", [])]
check(all(s.startswith("libfakebackend.so+0x") for s in sites), f"sites name the backend: {sites}")
finish()
