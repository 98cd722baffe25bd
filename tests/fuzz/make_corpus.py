"""Remakes tests/fuzz/corpus: small recordings from the simulated GPU, compacted so the fuzzer's inputs stay short.

Run from the source root after a build:  python3 tests/fuzz/make_corpus.py build
Each seed is a real recording with its regions' capacities cut to what it
used (modules, OOM records, ring), the layout recomputed: still a valid
recording, a few KiB instead of half a MiB.  Then hostile variants of the
demo's (sizes and times at the ends of their types, which once overflowed
signed sums), and rmm.csv, an RMM log for replay; "--hostile" remakes only
those, from the demo seed already there.
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile

build = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "--hostile" else "build"
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "tests", "fuzz", "corpus")
sim = os.path.join(root, build, "tests", "sim")
clients = os.path.join(root, build, "tests", "clients")
work = tempfile.mkdtemp()

RUNS = [  # name, client, args, extra environment
    ("exit", "crash", ["exit"], {}),
    ("abort", "crash", ["abort"], {}),
    ("oom", "crash", ["oom"], {}),
    ("demo", "llm_like", [], {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"}),
    ("recovered", "llm_like", [], {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500",
                                   "WSLALLOC_RECOVER": "1", "WSLALLOC_SPILL": "host"}),
]


# wsla_header.oom_stack_off: after the exe, cmdline, options and environment.
OOM_STACK_OFF = 192 + 512 + 1024 + 1024 + 512
STACK_OFF = OOM_STACK_OFF + 16  # wsla_header.stack_off, then stack_cap


def compact(blob):
    u32 = lambda off: struct.unpack_from("<I", blob, off)[0]
    u64 = lambda off: struct.unpack_from("<Q", blob, off)[0]
    counters_off, module_off, oom_off, live_off, ring_off = (u64(32 + 8 * i) for i in range(5))
    counters_size = u32(72)
    live_cap = u64(96)
    counters = blob[counters_off:counters_off + counters_size]
    events_claimed, ooms_claimed = struct.unpack_from("<QQ", counters, 0)
    modules_count = struct.unpack_from("<Q", counters, 64)[0]
    ring_cap = 1
    while ring_cap < max(events_claimed, 16):
        ring_cap *= 2
    module_cap = max(modules_count, 1)
    oom_cap = max(min(ooms_claimed, u32(88)), 1)
    stack_off = u64(OOM_STACK_OFF)  # WSLA_FEAT_OOM_STACKS: one per OOM record
    alloc_stack_off = u64(STACK_OFF)  # WSLA_FEAT_STACKS: the stacks used, in order
    alloc_stack_cap = 0
    while alloc_stack_cap < u32(STACK_OFF + 8) and u64(alloc_stack_off + 256 * alloc_stack_cap) == alloc_stack_cap + 1:
        alloc_stack_cap += 1
    alloc_stack_cap = max(alloc_stack_cap, 1)
    parts = [
        counters,
        blob[module_off:module_off + 256 * module_cap],
        blob[oom_off:oom_off + 256 * oom_cap],
        blob[stack_off:stack_off + 256 * oom_cap],
        blob[alloc_stack_off:alloc_stack_off + 256 * alloc_stack_cap],
        blob[live_off:live_off + 64 * live_cap],
        blob[ring_off:ring_off + 64 * ring_cap],  # seq < cap: slot = seq, as before
    ]
    offs, at = [], 4096
    for p in parts:
        offs.append(at)
        at += len(p)
    head = bytearray(blob[:4096])
    struct.pack_into("<Q", head, 16, at)  # file_size
    struct.pack_into("<5Q", head, 32, offs[0], offs[1], offs[2], offs[5], offs[6])
    struct.pack_into("<Q", head, OOM_STACK_OFF, offs[3])
    struct.pack_into("<Q", head, STACK_OFF, offs[4])
    struct.pack_into("<I", head, STACK_OFF + 8, alloc_stack_cap)
    struct.pack_into("<I", head, 80, module_cap)
    struct.pack_into("<I", head, 88, oom_cap)
    struct.pack_into("<Q", head, 112, ring_cap)
    return bytes(head) + b"".join(parts)




def hostile(demo):
    """The demo seed with its events' sizes near 2^63 and 2^64 (every sum of
    them overflows a signed 64-bit type), and one with its times near 2^62
    and 2^64 and its start time at the end of its type."""
    u64 = lambda off: struct.unpack_from("<Q", demo, off)[0]
    ring_off, ring_cap = u64(64), u64(112)
    sizes, times = bytearray(demo), bytearray(demo)
    for slot in range(ring_cap):
        at = ring_off + 64 * slot
        if at + 64 > len(demo) or not u64(at):
            continue
        struct.pack_into("<Q", sizes, at + 24, (1 << 63) + slot if slot % 3 else (1 << 64) - 1 - slot)
        struct.pack_into("<Q", times, at + 8, (1 << 62) + slot if slot % 2 else (1 << 64) - 1 - slot)
    struct.pack_into("<q", times, 144, (1 << 63) - 1)  # start_realtime_ns
    return {"sizes.wsla": bytes(sizes), "times.wsla": bytes(times)}


RMM = """Thread,Time,Action,Pointer,Size,Stream
140,10:20:30.000100,allocate,0x7f0000000000,1048576,0
140,10:20:30.000200,allocate,0x7f0000100000,9223372036854775808,7
141,10:20:30.000300,free,0x7f0000000000,1048576,0
141,10:20:30.000400,allocate failure,(nil),17179869184,0
140,10:20:30.000500,free,0x7f0000100000,9223372036854775808,7
"""


def write_hostile():
    for name, blob in hostile(open(os.path.join(out, "demo.wsla"), "rb").read()).items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
        print(f"{name}: {len(blob)} bytes")
    with open(os.path.join(out, "rmm.csv"), "w") as f:
        f.write(RMM)


if "--hostile" in sys.argv:
    write_hostile()
    sys.exit(0)

os.makedirs(out, exist_ok=True)
for name, client, args, extra in RUNS:
    d = os.path.join(work, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WSLALLOC_", "WSLSIM_"))}
    env.update({"LD_LIBRARY_PATH": f"{sim}/cuda13:{sim}/driver", "WSLALLOC_DIR": d,
                "WSLALLOC_EVENTS": "1024", "WSLALLOC_LIVE_SLOTS": "64", "WSLALLOC_QUIET": "1",
                "LD_PRELOAD": os.path.join(root, build, "shim", "libwslalloc.so"), **extra})
    subprocess.run([os.path.join(clients, client), *args], env=env, capture_output=True)
    rec = glob.glob(os.path.join(d, "*.wsla"))[0]
    seed = compact(open(rec, "rb").read())
    with open(os.path.join(out, name + ".wsla"), "wb") as f:
        f.write(seed)
    tool = os.path.join(root, build, "tools", "wslalloc")
    check = subprocess.run([tool, "report", "--json", os.path.join(out, name + ".wsla")],
                           capture_output=True, text=True)
    if check.returncode != 0 or '"partial": true' in check.stdout:
        sys.exit(f"{name}: the compacted seed does not read back whole: {check.stderr}")
    print(f"{name}: {len(seed)} bytes")
write_hostile()
