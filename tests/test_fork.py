"""Fork: a child that allocates gets a recording of its own; the parent's stays whole."""
import os
import re
import tempfile

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
# Liveness after fork: the parent's lock on its recording is its own (a
# child neither inherits it nor drops it by closing its copy of the
# descriptor), and the child's recording has a lock of its own.
import json
import subprocess

d = tempfile.mkdtemp()
held = subprocess.Popen([os.path.join(CLIENTS, "forker"), "hold"], env=env_for("cuda13", True, None, d),
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
lines = [held.stdout.readline() for _ in range(3)]
check(lines[-1].strip() == "ready", f"the parent waits: {lines}")


def ends():
    r = subprocess.run([TOOL, "ls", "--json"], env={**os.environ, "WSLALLOC_DIR": d},
                       capture_output=True, text=True, timeout=60)
    return {e["pid"]: e["end"] for e in json.loads(r.stdout or "[]")}


held_pid = held.pid
got = ends()
equal(got.get(held_pid), "running", f"after its child ended, the parent is running: {got}")
equal(sorted(v for k, v in got.items() if k != held_pid), ["exit"], f"the child ended by exit: {got}")
held.kill()
held.wait(timeout=30)
equal(ends().get(held_pid), "killed", "the parent, killed, is judged ended")

# A parent whose live table had grown a second region before the fork
# (32 slots, then 128 more; 100 held): the child's table starts empty in its own file, and
# each lists exactly its own.
r = run("forker", ["100"], env={"WSLALLOC_LIVE_SLOTS": "16"})
equal(r.rc, 0, "forker 100: exit status")
recs = {report_json(p)["process"]["pid"]: report_json(p) for p in r.recordings()}
parent = int(re.search(r"parent=(\d+)", r.out).group(1))
child = int(re.search(r"child=(\d+)", r.out).group(1))
if parent in recs and child in recs:
    held = 100 * 4096
    for pid, allocs, live, who in ((parent, 102, 12 * MiB + held, "parent"),
                                   (child, 2, 4 * MiB, "child")):
        rep = recs[pid]
        equal((rep["devices"][0]["live_allocs"], rep["devices"][0]["live_bytes"]),
              (allocs, live), f"forker 100: {who} counters")
        equal((sum(l["allocs"] for l in rep["leaks"]), sum(l["bytes"] for l in rep["leaks"])),
              (allocs, live), f"forker 100: {who} lists every live allocation")
        equal(rep["totals"]["untracked_frees"], 0, f"forker 100: {who} found every free")

# A child forked after the parent's out-of-memory failure is not the one
# that ran out: dying before it records anything, it says nothing of the
# parent's OOM (the parent dealt with it and says nothing either).
r = run("firsts", ["fork-after-oom"])
equal(r.rc, 0, "fork-after-oom: the parent's exit status")
equal(r.out.strip(), "child signal=6", "fork-after-oom: the child died of abort")
check("ran out of GPU memory" not in r.err, f"fork-after-oom: no first aid from anyone: {r.err!r}")
finish()
