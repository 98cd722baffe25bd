"""One thread's out-of-memory failures never make another thread's allocations fail: the largest-block probe and forced stitching stay out of their way."""
from harness import *

# A device nearly full (64 MiB left); one thread keeps asking for 12 GiB and
# failing, while another allocates and frees 1 MiB blocks, as a server's
# requests come. Freeing 2 MiB or more takes 10 ms (a real cudaFree waits
# for the device), so a probe's trial holds what it took for that long.
# Without the library none of the 1 MiB requests fails; with it, by default
# (the probe on), none may fail either.
env = {"WSLSIM_MEM": "8G", "WSLSIM_FREE_DELAY_MS": "10", "WSLSIM_FREE_DELAY_MIN": "2M"}
args = ["10", "12288", "64"]
bare = run("contend", args, env=env, preload=False)
equal(bare.out.strip(), "big_failed=10 small_failed=0", "without the library")
for attempt in range(3):
    r = run("contend", args, env=env)
    equal(r.out.strip(), "big_failed=10 small_failed=0", f"defaults, run {attempt}: no 1 MiB request fails")
    rep = r.report()
    ooms = rep.get("ooms", [])
    equal(len(ooms), 10, f"defaults, run {attempt}: the ten 12 GiB failures, nothing else")
    # A probe either finished (all 64 MiB free in one block, or what the
    # small thread left) or gave way to the small thread: never more.
    for o in ooms:
        check(o["largest_block_bytes"] is None or o["largest_block_bytes"] <= o["free_bytes"],
              f"defaults, run {attempt}: a probe's finding within free memory: {o}")

# Alone, the probe still measures: the whole 64 MiB in one block.
alone = run("contend", ["1", "12288", "64", "alone"], env=env)
rep = alone.report()
equal([o["largest_block_bytes"] for o in rep.get("ooms", [])], [64 << 20],
      "alone: the probe finds the 64 MiB block")

# Forced stitching sends a request that cannot fit to the runtime at once,
# rather than filling the device chunk by chunk first.
for chunk in ({}, {"WSLALLOC_STITCH_CHUNK": "16M"}):
    r = run("contend", args, env={**env, "WSLALLOC_STITCH": "force", "WSLALLOC_STITCH_MIN": "1G",
                                  "WSLALLOC_PROBE": "0", **chunk})
    equal(r.out.strip(), "big_failed=10 small_failed=0", f"forced stitching {chunk}: no 1 MiB request fails")

finish()
