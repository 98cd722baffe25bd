"""NVIDIA's static runtime: no cudaMalloc to interpose, only lookups, which must reach the shim.

On the simulated driver it stops at start-up, at cuGetExportTable (the
runtime's private channel into the driver, which no simulator provides):
every call then fails with the runtime's own error, passed through."""
import os

from harness import *

if not os.path.exists(os.path.join(CLIENTS, "static_client")):
    skip("libcudart_static.a is not installed")
env = {"LD_LIBRARY_PATH": os.environ["WSLA_SIM_DRIVER"]}
bare, shim = same_as_bare("static_client", env=env)
rep = shim.report()
seen = rep.get("lookups", {}).get("seen", 0)
check(seen >= 20, f"the runtime's start-up lookups reached the shim ({seen})")
check(rep.get("lookups", {}).get("wrapped", 0) >= 1, "and were answered with wrappers where tracked")
equal(rep["totals"]["ooms"], 0, "its start-up error is not an out-of-memory")
finish()
