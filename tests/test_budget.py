"""Budgets: a limit on a large card behaves exactly like a card of that size; headroom and pinned limits likewise."""
import os
import re

from harness import *

GiB, MiB = 1 << 30, 1 << 20
small = {"WSLSIM_MEM": "2G", "WSLSIM_PINNED_MAX": "64M"}
budget = {"WSLSIM_MEM": "8G", "WSLALLOC_LIMIT": "2G", "WSLALLOC_PINNED_LIMIT": "64M"}

for client, runtime in (("budget", "cuda13"), ("budget_drv", "cuda13"), ("hip_budget", "hip")):
    if runtime == "hip" and not os.environ.get("WSLA_SIM_HIP"):
        continue
    real_small = run(client, runtime=runtime, preload=False, env=small)
    rehearsal = run(client, runtime=runtime, preload=True, env=budget)
    equal(rehearsal.out, real_small.out,
          f"{client}: under WSLALLOC_LIMIT=2G on 8 GiB, what a 2 GiB card shows")
    check("rc=2" in rehearsal.out, f"{client}: the limit refused something")
    equal(rehearsal.err, "", f"{client}: silently")
    rep = rehearsal.report()
    causes = [o["cause"] for o in rep.get("ooms", [])]
    check("limit" in causes and "pinned_limit" in causes, f"{client}: causes recorded: {causes}")
    for o in rep.get("ooms", []):
        if o["cause"] == "limit":
            equal(o["budget_bytes"], 2 * GiB, f"{client}: the limit in the record")
            check(o["diagnosis"].startswith("WSLALLOC_LIMIT refused it"), f"{client}: {o['diagnosis']}")
    dev = rep["devices"][0]
    equal(dev["live_bytes"], 2 * GiB, f"{client}: live at the limit")

# Headroom: free memory reported less the headroom, total untouched, on
# every family.
for client, runtime in (("budget", "cuda13"), ("budget_drv", "cuda13"), ("hip_budget", "hip")):
    if runtime == "hip" and not os.environ.get("WSLA_SIM_HIP"):
        continue
    bare = run(client, runtime=runtime, preload=False, env={"WSLSIM_MEM": "8G"})
    room = run(client, runtime=runtime, env={"WSLSIM_MEM": "8G", "WSLALLOC_HEADROOM": "1G"})
    f0, t0 = map(int, re.search(r"free=(\d+) total=(\d+)", bare.out).groups())
    f1, t1 = map(int, re.search(r"free=(\d+) total=(\d+)", room.out).groups())
    equal((f1, t1), (f0 - GiB, t0), f"{client}: headroom: free less 1 GiB, total as it is")
tiny = run("budget", env={"WSLSIM_MEM": "8G", "WSLALLOC_HEADROOM": "64G"})
check("meminfo=0 free=0 total=8589934592" in tiny.out, "headroom larger than free: zero, not negative")
bad = run("budget", env={"WSLSIM_MEM": "8G", "WSLALLOC_LIMIT": "2Q"})
check("WSLALLOC_LIMIT" in bad.err and "rc=2" not in bad.out, "a bad limit warns and limits nothing")
finish()
