"""Fork: a child that allocates gets a recording of its own; the parent's stays whole."""
import re

from harness import *

MiB = 1 << 20
r = run("forker")
equal(r.rc, 0, "forker exit status")
parent = int(re.search(r"parent=(\d+)", r.out).group(1))
child = int(re.search(r"child=(\d+)", r.out).group(1))
recs = {report_json(p)["process"]["pid"]: report_json(p) for p in r.recordings()}
equal(sorted(recs), sorted([parent, child]), "one recording each")
if parent in recs and child in recs:
    pd, cd = recs[parent]["devices"][0], recs[child]["devices"][0]
    equal((pd["live_bytes"], pd["peak_bytes"]), (12 * MiB, 12 * MiB), "parent counters")
    equal((cd["live_bytes"], cd["peak_bytes"]), (4 * MiB, 6 * MiB), "child counters")
    equal(recs[parent]["by_api"]["cudaMalloc"]["calls"], 2, "parent calls")
    equal(recs[child]["by_api"]["cudaMalloc"]["calls"], 3, "child calls: none inherited")
    equal(recs[child]["process"]["end"], "exit", "child ended by exit")
    # The driver and GPU lines are noted anew in the child's recording.
    for who, pid in (("parent", parent), ("child", child)):
        env = recs[pid]["environment"]
        check(env.get("cuda_driver_version", 0) > 0, f"{who}: the CUDA driver's version: {env}")
        equal(len(env.get("gpus", [])), 1, f"{who}: the GPU")
finish()
