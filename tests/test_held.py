"""Every live allocation listed: 100,000 held at exit and after SIGKILL, and a table too small to grow says what it cannot list."""
import json
import subprocess

from harness import *

HELD, SIZE = 100000, 4096


def leaks(rep):
    return (sum(l["allocs"] for l in rep["leaks"]), sum(l["bytes"] for l in rep["leaks"]))


for slots in ("65536", "16384"):
    for mode in ("exit", "kill"):
        tag = f"{HELD} held, {slots} slots, {mode}"
        r = run("held", [str(HELD), "5000", mode], kill_after_ready=(mode == "kill"),
                env={"WSLSIM_MEM": "64G", "WSLALLOC_LIVE_SLOTS": slots})
        if mode == "exit":
            want = json.loads(r.out.splitlines()[1])
            equal(want, {"live_allocs": HELD, "live_bytes": HELD * SIZE, "failures": 0},
                  f"{tag}: the client's own account")
        rep = r.report()
        if not rep:
            continue
        dev = rep["devices"][0]
        equal(dev["live_allocs"], HELD, f"{tag}: live allocations by the counters")
        equal(dev["live_bytes"], HELD * SIZE, f"{tag}: live bytes by the counters")
        equal(leaks(rep), (HELD, HELD * SIZE), f"{tag}: the leak list holds every one")
        equal(rep["totals"]["live_unlisted"], 0, f"{tag}: none unlisted")
        text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True,
                              text=True).stdout
        check(f"{HELD} allocs" in text, f"{tag}: the text report lists {HELD} allocs")
        if slots == "16384":
            # 32768 slots cannot hold them: the second region must have been made.
            equal(rep["totals"]["live_overflow"], 0, f"{tag}: the second region took the rest")

# The smallest table (16 expected, 32 slots, then 128 more): the rest is
# counted, and the report says how many it cannot list instead of a short list.
held = 1000
r = run("held", [str(held), "100", "exit"], env={"WSLALLOC_LIVE_SLOTS": "16"})
rep = r.report()
if rep:
    listed, listed_bytes = leaks(rep)
    check(0 < listed < held, f"small table: some listed ({listed})")
    equal(rep["devices"][0]["live_allocs"], held, "small table: counters exact")
    equal(rep["totals"]["live_unlisted"], held - listed, "small table: the unlisted counted")
    equal(rep["totals"]["live_unlisted_bytes"], (held - listed) * SIZE,
          "small table: the unlisted bytes")
    # Cumulative: the churned pairs that overflowed count too.
    check(rep["totals"]["live_overflow"] >= held - listed, "small table: overflow counter")
    text = subprocess.run([TOOL, "report", r.recordings()[0]], capture_output=True,
                          text=True).stdout
    check(f"and {held - listed} more allocations" in text,
          "small table: the text report says how many it cannot list")
    equal(r.err.count("the live table is full"), 1, f"small table: one warning ({r.err!r})")
finish()
