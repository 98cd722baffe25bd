"""Nothing lost: the recording is readable after abort, a fault, SIGKILL, exit and an OOM abort."""
from harness import *

MiB = 1 << 20
cases = {
    "abort": ("signal", 6),
    "segv": ("signal", 11),
    "kill": ("killed", None),
    "exit": ("exit", None),
    "oom": ("signal", 6),
    "ignored": ("exit", None),
    "handled": ("exit", None),
}
for mode, (end, sig) in cases.items():
    r = run("crash", [mode], kill_after_ready=(mode == "kill"))
    rep = r.report()
    if not rep:
        continue
    proc = rep["process"]
    equal(proc["end"], end, f"{mode}: end state")
    if end == "signal":
        equal(proc["signal"], sig, f"{mode}: signal")
    if mode == "exit":
        equal(proc["exit_code"], 3, "exit: status")
    if mode in ("ignored", "handled"):
        bare = run("crash", [mode], preload=False)
        equal((r.rc, r.out), (bare.rc, bare.out), f"{mode}: the client sees what it would bare")
        equal(proc["exit_code"], 0, f"{mode}: survived and exited 0")
    dev = rep["devices"][0]
    equal(dev["live_bytes"], 80 * MiB, f"{mode}: live device bytes")
    equal(dev["peak_bytes"], 112 * MiB, f"{mode}: peak device bytes")
    equal(rep["host_pinned"]["live_bytes"], 4 * MiB, f"{mode}: live pinned bytes")
    equal(sum(l["bytes"] for l in rep["leaks"]), 84 * MiB, f"{mode}: leaks")
    if mode == "oom":
        equal(len(rep["ooms"]), 1, "oom: recorded")
        equal(rep["ooms"][0]["size"], 64 << 30, "oom: size")
        check("CUDA error: out of memory" in r.err, "oom: the client's own message")
finish()
