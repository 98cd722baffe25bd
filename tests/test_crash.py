"""Nothing lost: the recording is readable after abort, a fault, SIGKILL, exit and an OOM abort."""
import os
import subprocess
import tempfile

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
# Calls in flight at a SIGKILL: the counters and the live slots are written
# apart, without locks, so a process killed between them leaves them apart.
# The report says by how much instead of contradicting itself. Crafted from
# a clean recording: a free caught after its slot was cleared but before it
# was counted, and an allocation counted in bytes but not yet in number.
import shutil
import struct

clean = run("crash", ["kill"], kill_after_ready=True)
src = clean.recordings()[0] if clean.recordings() else None
rep = report_json(src) if src else {}
equal(rep.get("in_flight"), {"allocs": 0, "bytes": 0}, "in flight: none in a consistent recording")
text = subprocess.run([TOOL, "report", src], capture_output=True, text=True).stdout if src else ""
check("in flight" not in text, "in flight: no line where the counts agree")


def crafted(name, change):
    path = os.path.join(tempfile.mkdtemp(), name + ".wsla")
    shutil.copy(src, path)
    with open(path, "r+b") as f:
        head = f.read(4096)
        counters_off, live_off = struct.unpack_from("<QQ", head, 32)[0], struct.unpack_from("<Q", head, 56)[0]
        live_size, live_cap = struct.unpack_from("<I", head, 92)[0], struct.unpack_from("<Q", head, 96)[0]
        api_max = struct.unpack_from("<I", head, 108)[0]
        dev0 = counters_off + 128 + 32 * api_max
        change(f, live_off, live_size, live_cap, dev0)
    return path


def free_in_flight(f, live_off, live_size, live_cap, dev0):
    # The 64 MiB device block's slot cleared, its counters not yet.
    for i in range(live_cap):
        f.seek(live_off + i * live_size)
        slot = f.read(64)
        commit, size = struct.unpack_from("<Q", slot, 0)[0], struct.unpack_from("<Q", slot, 16)[0]
        if commit and size == 64 * MiB:
            f.seek(live_off + i * live_size)
            f.write(b"\0" * 8)
            return


def count_behind(f, live_off, live_size, live_cap, dev0):
    # Device 0's bytes counted, its count one behind.
    f.seek(dev0 + 8)
    allocs = struct.unpack("<Q", f.read(8))[0]
    f.seek(dev0 + 8)
    f.write(struct.pack("<Q", allocs - 1))


for name, change, allocs, size, line in (
        ("free", free_in_flight, 1, 64 * MiB,
         "  in flight: 1 allocation was being allocated or freed when the process died: the live counts "
         "above differ from this list by +1 allocation and +64.0 MiB\n"),
        ("count", count_behind, -1, 0,
         "  in flight: 1 allocation was being allocated or freed when the process died: the live counts "
         "above differ from this list by -1 allocation and +0 B\n")):
    if not src:
        break
    path = crafted(name, change)
    equal(report_json(path).get("in_flight"), {"allocs": allocs, "bytes": size}, f"in flight ({name}): JSON")
    text = subprocess.run([TOOL, "report", path], capture_output=True, text=True).stdout
    check(line in text, f"in flight ({name}): the report states the margin: {text}")

# A file cut short lost slots and events, not calls in flight, and its
# table never filled: the report blames the cut, once.
if src:
    cut = os.path.join(tempfile.mkdtemp(), "cut.wsla")
    with open(src, "rb") as f, open(cut, "wb") as g:
        g.write(f.read(1 << 20))
    text = subprocess.run([TOOL, "report", cut], capture_output=True, text=True).stdout
    check("live by the counters that the recording cannot list: the file is cut short" in text,
          f"a file cut short: the unlisted allocations blamed on the cut: {text[-1500:]}")
    check("in flight" not in text and "live table was full" not in text,
          f"a file cut short: neither calls in flight nor a full table: {text[-1500:]}")
    check("the file is cut short, so the lost include" in text, "a file cut short: the events line says so")
    j = report_json(cut)
    equal(j.get("in_flight"), {"allocs": 0, "bytes": 0}, "a file cut short: no calls in flight in JSON")

finish()
