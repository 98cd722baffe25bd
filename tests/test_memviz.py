"""wslalloc export --format memviz: a pickle PyTorch's memory_viz reads, segments tiled by their blocks, the timeline replaying to the live memory."""
import io
import os
import pickle
import pickletools
import subprocess
import tempfile

from harness import *

GiB, MiB = 1 << 30, 1 << 20
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
rec = r.recordings()[0]
out = os.path.join(tempfile.mkdtemp(), "snapshot.pickle")
p = subprocess.run([TOOL, "export", "--format", "memviz", "-o", out, rec], capture_output=True, text=True)
equal(p.returncode, 0, f"export: status ({p.stderr})")
blob = open(out, "rb").read()

# Only what the memory_viz page's own unpickler knows, and protocol 4 at most.
page_reads = {"PROTO", "FRAME", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "MARK", "SETITEMS",
              "SETITEM", "APPENDS", "APPEND", "BININT", "BININT1", "BININT2", "LONG1",
              "SHORT_BINUNICODE", "BINUNICODE", "NEWTRUE", "NEWFALSE", "NONE", "TUPLE1",
              "TUPLE2", "TUPLE3", "BINFLOAT", "STOP", "MEMOIZE", "BINPUT", "LONG_BINPUT",
              "BINGET", "LONG_BINGET", "DICT", "LIST", "TUPLE"}
ops = list(pickletools.genops(blob))
equal((ops[0][0].name, ops[0][1]), ("PROTO", 4), "protocol 4")
used = {op.name for op, _, _ in ops}
equal(used - page_reads, set(), "no opcode the page cannot read")
check(ops[-1][0].name == "STOP", "ends with STOP")


class NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"a global: {module}.{name}")


snap = NoGlobals(io.BytesIO(blob)).load()
equal(sorted(snap), ["allocator_settings", "device_traces", "segments"], "the snapshot's keys")

# Segments: the device memory live at the end, each tiled by its blocks in address order.
segs = snap["segments"]
equal(len(segs), 33, "a segment per live device allocation")
equal(sum(s["total_size"] for s in segs), 5632 * MiB, "the live bytes, as the report has them")
for s in segs:
    at = s["address"]
    for b in s["blocks"]:
        equal(b["address"], at, "blocks tile their segment, in address order")
        at += b["size"]
    equal(at - s["address"], s["total_size"], "the blocks fill the segment")
    check(s["device"] == 0 and s["blocks"][0]["state"] == "active_allocated", "active, on device 0")
    equal(s["segment_pool_id"], (0, 0), "pool id as PyTorch writes it")

# The trace: PyTorch's actions, in time order, replaying to the live memory.
trace = snap["device_traces"][0]
actions = [t["action"] for t in trace]
check(set(actions) <= {"segment_alloc", "alloc", "free_requested", "free_completed", "segment_free", "oom"},
      f"PyTorch's action names: {set(actions)}")
equal(actions.count("alloc"), 36, "every device allocation that succeeded")
equal(actions.count("free_completed"), 3, "every free")
check(all(a["time_us"] <= b["time_us"] for a, b in zip(trace, trace[1:])), "in time order")
live = {}
for t in trace:
    if t["action"] == "alloc":
        live[t["addr"]] = t["size"]
    elif t["action"] == "free_completed":
        equal(live.pop(t["addr"]), t["size"], "a free matches its allocation")
equal(sum(live.values()), 5632 * MiB, "the trace replays to the live memory")
equal(sorted(live), sorted(s["address"] for s in segs), "and to the segments")
oom = [t for t in trace if t["action"] == "oom"]
equal([(o["size"], o["device_free"]) for o in oom], [(1 * GiB, 1 * GiB)], "the OOM, with the free memory then")
frame = trace[1]["frames"][0]
equal((frame["name"].split("+")[0], frame["filename"]), ("must", "llm_like.c"), f"frames name the function: {frame}")
check(frame["line"] > 0, "and the line")
kv = next(s for s in segs if s["total_size"] == 1 * GiB)
equal([f["name"].split("+")[0] for f in kv["blocks"][0]["frames"]][:3], ["must", "llama_kv_cache_init", "main"],
      "a large block's frames are its stack")
names = [f["name"].split("+")[0] for f in oom[0]["frames"]]
equal(names[:3], ["must", "ggml_gallocr_reserve_n", "main"], f"the OOM's frames are its stack: {names}")

bad = subprocess.run([TOOL, "export", "--format", "memvis", "-o", out, rec], capture_output=True, text=True)
equal(bad.returncode, 2, "a misspelt format: refused")
check("csv, perfetto or memviz" in bad.stderr, f"and named: {bad.stderr}")
finish()
