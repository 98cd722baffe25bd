"""Budgets under many threads: requests in flight at one moment cannot all pass a limit; their OOMs are each recorded whole."""
from harness import *

# Requests in flight at one moment: eight threads ask for 600 MiB at once,
# each allocation taking 50 ms, under a 2 GiB limit. Three fit; the limit
# must not let more through because none was counted yet.
race_env = {"WSLSIM_MEM": "8G", "WSLSIM_ALLOC_DELAY_MS": "50"}
free_for_all = run("race", ["8", "600"], env=race_env)
equal(free_for_all.out.strip(), "granted=8 refused=0", "no limit: all eight")
for kind, args, name, extra in (("device", ["8", "600"], "WSLALLOC_LIMIT", {}),
                                ("pinned", ["8", "600", "host"], "WSLALLOC_PINNED_LIMIT", {})):
    raced = run("race", args, env={**race_env, name: "2G", **extra})
    equal(raced.out.strip(), "granted=3 refused=5", f"{kind}: {name}=2G holds against eight at once")
    rep = raced.report()
    peak = rep["host_pinned"]["peak_bytes"] if kind == "pinned" else rep["devices"][0]["peak_bytes"]
    equal(peak, 3 * 600 << 20, f"{kind}: the peak stayed under the limit")
    equal(rep["totals"]["ooms"], 5, f"{kind}: each refusal recorded as an OOM")

# Eight at once on a 4 GiB card, 700 MiB each: five fit. With recovery
# the other three wait and fail, or are spilled to host memory; stitching
# every request changes nothing of that. The ladder runs in several threads
# at once (this test runs under TSan too).
card = {"WSLSIM_MEM": "4G", "WSLSIM_ALLOC_DELAY_MS": "20"}
for name, extra, want, recovered in (
        ("recover", {"WSLALLOC_RECOVER": "1", "WSLALLOC_RETRY_MS": "100"}, "granted=5 refused=3", 0),
        ("recover+spill", {"WSLALLOC_RECOVER": "1", "WSLALLOC_RETRY_MS": "100", "WSLALLOC_SPILL": "host"},
         "granted=8 refused=0", 3),
        ("forced stitch", {"WSLALLOC_STITCH": "force", "WSLALLOC_STITCH_MIN": "64M"}, "granted=5 refused=3", 0)):
    raced = run("race", ["8", "700"], env={**card, **extra})
    equal(raced.out.strip(), want, f"{name}: eight at once on a 4 GiB card")
    rep = raced.report()
    equal(rep["totals"]["recovered"], recovered, f"{name}: recovered")
    equal(rep["totals"]["ooms"], 3, f"{name}: three OOMs recorded")
    equal(rep["totals"]["events_lost"], 0, f"{name}: no events lost")

# Spills race too: sixteen threads each over-ask a 64 MiB card for 100 MiB,
# and recovery serves them from pinned host memory under a 256 MiB pinned
# limit. Each spill holds its reservation until it is counted, so exactly
# two fit, run after run, however the threads interleave.
spill = {"WSLSIM_MEM": "64M", "WSLSIM_ALLOC_DELAY_MS": "20", "WSLALLOC_RECOVER": "1",
         "WSLALLOC_RETRY_MS": "50", "WSLALLOC_SPILL": "host", "WSLALLOC_PINNED_LIMIT": "256M"}
for attempt in range(3):
    raced = run("race", ["16", "100"], env=spill)
    equal(raced.out.strip(), "granted=2 refused=14", f"spill race {attempt}: two spills fit 256 MiB")
    rep = raced.report()
    equal(rep["host_pinned"]["peak_bytes"], 2 * 100 << 20, f"spill race {attempt}: pinned peak within the limit")
    equal(rep["totals"]["recovered"], 2, f"spill race {attempt}: two recovered by spilling")

finish()
