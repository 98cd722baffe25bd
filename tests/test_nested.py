"""Calls nested in a hook: a signal handler's cudaFree while a cudaMalloc is in progress is recorded, and a child forked there records its own calls."""
import re

from harness import *

MiB = 1 << 20
slow = {"WSLSIM_ALLOC_DELAY_MS": "600"}

# The handler frees the 4 MiB block while the 8 MiB cudaMalloc waits.
bare, shim = same_as_bare("sig_nested", ["free"], env=slow)
equal(bare.out, "slow cudaMalloc=0\n", "free: bare run")
rep = shim.report()
by_api = rep.get("by_api", {})
equal((by_api.get("cudaMalloc", {}).get("calls"), by_api.get("cudaFree", {}).get("calls")),
      (2, 1), "free: the handler's free is recorded")
dev = rep.get("devices", [{}])[0]
equal((dev.get("live_bytes"), dev.get("live_allocs")), (8 * MiB, 1), "free: the freed block is not live")

# The handler forks; the child allocates 2 and 3 MiB, frees the 2, and ends.
bare, shim = same_as_bare("sig_nested", ["fork"], env=slow)
equal(bare.out, "slow cudaMalloc=0\nchild exited 0\n", "fork: bare run")
child = re.search(r"child=(\d+)", shim.err)
recs = {report_json(p).get("process", {}).get("pid"): p for p in shim.recordings()}
if check(child and int(child.group(1)) in recs, f"fork: the child has a recording: {shim.out} {recs}"):
    crep = report_json(recs[int(child.group(1))])
    cdev = crep.get("devices", [{}])[0]
    equal((crep["by_api"].get("cudaMalloc", {}).get("calls"),
           crep["by_api"].get("cudaFree", {}).get("calls"),
           cdev.get("live_bytes"), cdev.get("peak_bytes")),
          (2, 1, 3 * MiB, 5 * MiB), "fork: the child's calls, and none of the parent's")
parent = [p for pid, p in recs.items() if not child or pid != int(child.group(1))]
if check(len(parent) == 1, "fork: the parent's recording"):
    prep = report_json(parent[0])
    equal((prep["by_api"]["cudaMalloc"]["calls"], prep["devices"][0]["live_bytes"]),
          (2, 12 * MiB), "fork: the parent's recording is whole")
finish()
