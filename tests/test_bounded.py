"""A small hostile recording cannot make report take minutes: 65,536 modules and 65,535 stacks of 30 frames are read in bounded time, a known frame still named."""
import json
import os
import struct
import subprocess
import tempfile
import time

from harness import *

# format.h, version 2
HEADER, COUNTERS = 4096, 128 + 32 * 64 + 64 * 16
MODULE, STACK, LIVE, EVENT = 256, 256, 64, 64
OOM_STACK_OFF = 192 + 512 + 1024 + 1024 + 512
STACK_OFF = OOM_STACK_OFF + 16
FEAT_OOM_STACKS, FEAT_STACKS = 1 << 1, 1 << 2
NMODULES, NSTACKS, DEPTH = 65536, 65535, 30
# Seconds: the quadratic lookup took minutes (164 s, 476 s with --json);
# bounded work takes a few, a few times more under the sanitizers.
BOUND = 60 if os.environ.get("WSLA_SANITIZER_RT") else 20

r = run("crash", ["exit"])
good = r.recordings()[0]
data = open(good, "rb").read()
u32 = lambda b, off: struct.unpack_from("<I", b, off)[0]
u64 = lambda b, off: struct.unpack_from("<Q", b, off)[0]
counters_off, module_off, oom_off, live_off, ring_off = (u64(data, 32 + 8 * i) for i in range(5))
counters = bytearray(data[counters_off:counters_off + COUNTERS])
nmods = u64(counters, 64)
real = [data[module_off + MODULE * i:module_off + MODULE * (i + 1)] for i in range(nmods)]

# A known frame: the first allocation's site, which the report names.
ring_cap, claimed = u64(data, 112), u64(counters, 0)
site = None
for seq in range(claimed):
    e = data[ring_off + EVENT * (seq % ring_cap):][:EVENT]
    if u64(e, 0) == seq + 1 and struct.unpack_from("<H", e, 56)[0] == 1:
        site = u64(e, 32)
        break
check(site is not None, "the recording has an allocation")
good_rep = json.loads(subprocess.run([TOOL, "report", "--json", good], capture_output=True,
                                     text=True).stdout)
want = None
for m in real:
    bias, lo, hi = struct.unpack_from("<3Q", m, 8)
    if lo <= site < hi:
        path = m[72:].split(b"\0")[0].decode()
        name = f"{os.path.basename(path)}+0x{site - bias:x}"
        want = next((s.get("function") for s in good_rep["sites"] if s["site"] == name), None)
check(want and want.startswith("main+"), f"the site is named in the real recording: {want}")

# The crafted file: 65,536 modules, the hostile ones first (so that a
# linear search passes them all), each a distinct path that is not there,
# some overlapping their neighbours; then the real ones.  Every stack has
# the known site first, then 29 frames in hostile modules; a live slot
# names each stack, so the report labels and lists every one.
# The first 600 are real files (links to the client): the 300 of them that
# keep addresses of their own are more than a report reads.
BASE, LINKED = 0x100000000000, 600
links = tempfile.mkdtemp()
client = next(m[72:].split(b"\0")[0].decode() for m in real if m[72:].split(b"\0")[0].endswith(b"/crash"))
for i in range(LINKED):
    os.symlink(client, os.path.join(links, f"m{i:03d}"))
mods = bytearray()
hostile = NMODULES - nmods
for i in range(hostile):
    lo = BASE + i * 0x1000
    hi = lo + (0x3000 if i % 2 else 0x1000)  # odd ones overlap the next two
    path = (os.path.join(links, f"m{i:03d}") if i < LINKED
            else f"/nonexistent/wslalloc-hostile/lib{i:05d}.so").encode().ljust(184, b"\0")
    mods += struct.pack("<4Q", i + 1, lo, lo, hi) + bytes(40) + path
for k, m in enumerate(real):
    mods += struct.pack("<Q", hostile + k + 1) + m[8:]
stacks = bytearray()
for i in range(NSTACKS):
    # Two million sites, nearly all distinct: each is looked up anew.
    frames = [site] + [BASE + ((i * 29 + k) % hostile) * 0x1000 + 0x10 * (1 + i % 255)
                       for k in range(DEPTH - 1)]
    stacks += struct.pack("<QII", i + 1, DEPTH, 0) + struct.pack(f"<{DEPTH}Q", *frames)
live = bytearray()
for i in range(NSTACKS):
    live += struct.pack("<5QIHhIIII", i + 1, 0x700000000000 + i * (1 << 21), 1 << 20, site, i,
                        1, 1, 0, 0, 0, i + 1, 0)  # tid, api, device, flags, -, stack, -
struct.pack_into("<2Q", counters, 0, 0, 0)  # no events, no OOMs
struct.pack_into("<Q", counters, 64, NMODULES)
parts = [bytes(counters), bytes(mods), bytes(STACK), bytes(STACK), bytes(stacks), bytes(live),
         bytes(EVENT * 16)]
offs, at = [], HEADER
for p in parts:
    offs.append(at)
    at += (len(p) + 4095) // 4096 * 4096
head = bytearray(data[:HEADER])
struct.pack_into("<Q", head, 16, at)
struct.pack_into("<Q", head, 24, u64(head, 24) | FEAT_OOM_STACKS | FEAT_STACKS)
struct.pack_into("<5Q", head, 32, offs[0], offs[1], offs[2], offs[5], offs[6])
struct.pack_into("<I", head, 80, NMODULES)
struct.pack_into("<I", head, 88, 1)  # oom_cap
struct.pack_into("<Q", head, 96, NSTACKS)  # live_cap
struct.pack_into("<Q", head, 112, 16)  # ring_cap
struct.pack_into("<QI", head, OOM_STACK_OFF, offs[3], STACK)
struct.pack_into("<QI", head, STACK_OFF, offs[4], NSTACKS)
crafted = os.path.join(tempfile.mkdtemp(), "crafted.wsla")
with open(crafted, "wb") as f:
    f.write(head)
    for p, off in zip(parts, offs):
        f.seek(off)
        f.write(p)
    f.truncate(at)
print(f"crafted: {os.path.getsize(crafted) / 1e6:.0f} MB")


def timed(*args):
    t = time.monotonic()
    try:
        p = subprocess.run([TOOL, "report", *args, crafted], capture_output=True, text=True,
                           timeout=BOUND)
    except subprocess.TimeoutExpired:
        return None, BOUND
    return p, time.monotonic() - t


p, took = timed("--json")
check(p is not None, f"report --json finished within {BOUND} s")
if p:
    print(f"report --json: {took:.1f} s")
    equal(p.returncode, 0, f"report --json: exit status ({p.stderr[-300:]})")
    rep = json.loads(p.stdout)
    check(rep["stacks"] and all(s["frames"][0].get("function") == want for s in rep["stacks"]),
          f"the known frame named {want} in every stack listed")
    equal(len(rep["stacks"]) + rep["stacks_not_listed"], NSTACKS, "every stack listed or counted")
    check(rep["symbols"]["sites_not_resolved"] > 0 and rep["symbols"]["module_files_not_read"] > 0,
          f"the sites left unnamed are counted: {rep['symbols']}")
    hostile_frames = [f for s in rep["stacks"] for f in s["frames"][1:]]
    check(hostile_frames[0]["site"].startswith("m0") and "+0x" in hostile_frames[0]["site"],
          f"a hostile frame is named by its module: {hostile_frames[0]}")
    # Stack 0's frames lie in modules 0, 1, 2...: module 2's range lies
    # inside odd module 1's, which starts lower and so has it.
    first = next((s["frames"] for s in rep["stacks"] if s["frames"][1]["site"] == "m000+0x10"), None)
    equal(first and [f["site"] for f in first[1:4]], ["m000+0x10", "m001+0x10", "m001+0x1010"],
          "overlapping modules: the address goes to the one that starts lowest")
p, took = timed()
check(p is not None, f"report finished within {BOUND} s")
if p:
    print(f"report: {took:.1f} s")
    equal(p.returncode, 0, f"report: exit status ({p.stderr[-300:]})")
    check(f"{want} < " in p.stdout or f"{want}\n" in p.stdout, f"the known frame named: {p.stdout[-1500:]}")
    check("distinct call sites a report names" in p.stdout, f"the bound is stated: {p.stdout[-800:]}")
    check("call sites in module files left unread (a report reads at most 256)" in p.stdout,
          f"and the modules' bound: {p.stdout[-800:]}")
finish()
