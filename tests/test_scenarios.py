"""WSL2 scenarios: each dies bare and survives WSLALLOC_PROFILE=wsl; a healthy run ends as it does bare."""
from harness import *

cases = {
    "spike": {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@250-650"},
    "pool": {"WSLSIM_MEM": "4G"},
    "vmm": {"WSLSIM_MEM": "8G", "WSLSIM_MAX_RESERVE": "16G"},
    "fragment": {"WSLSIM_MEM": "4G"},
}
for mode, env in cases.items():
    bare = run("scenario", [mode], preload=False, env=env)
    equal(bare.rc, -6, f"{mode}: aborts bare")
    prof = run("scenario", [mode], env={**env, "WSLALLOC_PROFILE": "wsl"})
    equal(prof.rc, 0, f"{mode}: survives under the profile ({prof.err.strip()[-200:]})")
    check(prof.out.rstrip().endswith("done"), f"{mode}: ran to the end")
    if mode == "vmm":
        check("legacy pool" in prof.out, "vmm: llama.cpp-style start took the legacy pool")

env = {"WSLSIM_MEM": "16G"}
bare = run("scenario", ["healthy"], preload=False, env=env)
prof = run("scenario", ["healthy"], env={**env, "WSLALLOC_PROFILE": "wsl"})
keep = lambda out: [l for l in out.splitlines() if not l.startswith("loaded;")]
equal((prof.rc, keep(prof.out)), (bare.rc, keep(bare.out)), "healthy: ends as it does bare")
check("loaded; 10240 MiB free" in bare.out and "loaded; 9216 MiB free" in prof.out,
      "healthy: only the free memory it is told differs, by the 1 GiB headroom")
finish()
