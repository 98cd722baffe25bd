"""Exports: the library exports the intercepted calls and nothing else."""
import re
import subprocess

from harness import *

allowed = set()
with open(os.environ["WSLA_EXPORTS_MAP"]) as f:
    text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
body = text.split("global:")[1].split("local:")[0]
allowed = {s.strip() for s in body.split(";") if s.strip()}

out = subprocess.run(["nm", "-D", "--defined-only", SHIM], capture_output=True,
                     text=True, check=True).stdout
exported = {l.split()[-1] for l in out.splitlines() if l.split()[1] in "TWiDB"}
extra = exported - allowed
equal(sorted(extra), [], "symbols exported beyond the intercepted calls")
want = {s for s in allowed
        if (not s.startswith("hip") or os.environ.get("WSLA_SIM_HIP"))
        and (not s.startswith("nvml") or os.environ.get("WSLA_SIM_NVML"))}
equal(sorted(want - exported), [], "hooks missing from the exports")
check({"dlsym", "cuGetProcAddress_v2", "cuMemCreate", "cudaGetDriverEntryPoint"} <= exported,
      "the lookup and VMM hooks are exported")
out = subprocess.run(["readelf", "--dyn-syms", "-W", SHIM], capture_output=True,
                     text=True, check=True).stdout
check("cudaMalloc@" not in out, "hooks are unversioned, so versioned references bind to them")
needed = subprocess.run(["readelf", "-d", SHIM], capture_output=True, text=True).stdout
for lib in ("libcudart", "libcuda.so", "libamdhip64"):
    check(lib not in needed, f"the library does not link {lib}")
finish()
