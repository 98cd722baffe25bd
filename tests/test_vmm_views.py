"""VMM memory in every view: llama.cpp's compute pool counts in the report, Perfetto, memviz and replay, as the device memory it is."""
import io
import json
import os
import pickle
import subprocess
import tempfile

from harness import *

MiB = 1 << 20
r = run("scenario", ["vmm-pool"], env={"WSLSIM_MEM": "8G"})
equal(r.rc, 0, f"the client ran: {r.err}")
rec = r.recordings()[0]
va = int(r.out.split("pool at ")[1].split()[0], 16)
rep = r.report()
dev = rep["devices"][0]
equal(dev["live_bytes"], 640 * MiB, "report: the weights and the two chunks still mapped")
equal(dev["peak_bytes"], 704 * MiB, "report: peak with all three chunks")
d = tempfile.mkdtemp()

# Perfetto: the level follows the pool, from nothing to the peak and back
# to what is live, not the final pool drawn from the start.
out = os.path.join(d, "trace.json")
p = subprocess.run([TOOL, "export", "--format", "perfetto", "--all-points", "-o", out, rec],
                   capture_output=True, text=True)
equal(p.returncode, 0, f"perfetto: status ({p.stderr})")
levels = [e["args"]["bytes"] for e in json.load(open(out))["traceEvents"]
          if e.get("ph") == "C" and e["name"] == "device 0: this process"]
equal(levels, [512 * MiB, 576 * MiB, 640 * MiB, 704 * MiB, 640 * MiB],
      "perfetto: each chunk created and the last one given back")

# CSV (RMM's columns): the chunks as allocations of their size.
out = os.path.join(d, "log.csv")
p = subprocess.run([TOOL, "export", "--format", "csv", "-o", out, rec], capture_output=True, text=True)
rows = [l.split(",") for l in open(out).read().splitlines()[1:]]
equal([(a, int(s) // MiB) for _, _, a, _, s, _ in rows],
      [("allocate", 512)] + [("allocate", 64)] * 3 + [("free", 64)], "csv: the weights and the pool")


class NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"a global: {module}.{name}")


# memviz: each mapping an expandable segment where it is mapped.
out = os.path.join(d, "snap.pickle")
p = subprocess.run([TOOL, "export", "--format", "memviz", "-o", out, rec], capture_output=True, text=True)
equal(p.returncode, 0, f"memviz: status ({p.stderr})")
snap = NoGlobals(io.BytesIO(open(out, "rb").read())).load()
pool = sorted((s["address"], s["total_size"], s["device"]) for s in snap["segments"] if s["is_expandable"])
equal(pool, [(va, 64 * MiB, 0), (va + 64 * MiB, 64 * MiB, 0)], "memviz: the two chunks still mapped")
equal(sum(s["total_size"] for s in snap["segments"]), 640 * MiB, "memviz: segments hold the live memory")
actions = [t["action"] for t in snap["device_traces"][0]]
equal((actions.count("segment_map"), actions.count("segment_unmap")), (3, 1), "memviz: the pool's maps")
live = 0
for t in snap["device_traces"][0]:
    live += t["size"] if t["action"] == "alloc" else -t["size"] if t["action"] == "free_completed" else 0
equal(live, 640 * MiB, "memviz: the trace replays to the live memory")

# Replay: the pool needs memory too; 600 MiB held the weights alone.
p = subprocess.run([TOOL, "replay", rec, "--limit", "600M"], capture_output=True, text=True,
                   env=env_for("cuda13", False))
equal(p.returncode, 3, f"replay under 600 MiB: out of memory at the pool ({p.stdout[-300:]} {p.stderr[-300:]})")
p = subprocess.run([TOOL, "replay", rec, "--limit", "704M"], capture_output=True, text=True,
                   env=env_for("cuda13", False))
equal(p.returncode, 0, f"replay under 704 MiB: fits ({p.stdout[-300:]} {p.stderr[-300:]})")
# HIP: the same pool through hipMemCreate and hipMemMap, counted as on CUDA.
if SIM["hip"][0]:
    bare, shim = same_as_bare("hip_vmm", runtime="hip")
    check("bad map: " in bare.out and "last=0" in bare.out, f"HIP: the client ran: {bare.out}")
    rep = shim.report()
    dev = rep["devices"][0]
    equal((dev["live_bytes"], dev["peak_bytes"]), (640 * MiB, 704 * MiB), "HIP: live and peak with the pool")
    equal({k: v["calls"] for k, v in rep["by_api"].items() if k.startswith("hipMem")},
          {"hipMemCreate": 3, "hipMemMap": 4, "hipMemRelease": 3, "hipMemUnmap": 1, "hipMemAddressReserve": 1},
          "HIP: the VMM calls, the failed map among them")
    equal((rep["vmm"]["reserved_bytes"], rep["vmm"]["mapped_bytes"]), (1024 * MiB, 128 * MiB),
          "HIP: reserved address space apart from mapped memory")
    equal(rep["totals"]["untracked_frees"], 0, "HIP: nothing freed unseen")
finish()
