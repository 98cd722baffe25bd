"""Exact answers: JSON numbers as the recording holds them, windows that start at the levels before them, windows past the end refused, and the plot's round axes and proportionate size."""
import json
import os
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from decimal import Decimal

from harness import *

GiB, MiB = 1 << 30, 1 << 20
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
rec = r.recordings()[0]

# The known answers, read from the recording's bytes (include/wslalloc/format.h):
# the header's start and end, and every event in the ring.
raw = open(rec, "rb").read()
start_ns, end_ns = struct.unpack_from("<q", raw, 144)[0], struct.unpack_from("<q", raw, 176)[0]
ring_off, event_size, ring_cap = (struct.unpack_from("<Q", raw, 64)[0], struct.unpack_from("<I", raw, 104)[0],
                                  struct.unpack_from("<Q", raw, 112)[0])
events = []
for k in range(ring_cap):
    commit, t, addr, size, _site, aux, tid, _res, typ, api, dev, flags = struct.unpack_from(
        "<QQQQQQIiHHhH", raw, ring_off + event_size * k)
    if commit:
        events.append({"seq": commit, "time": t, "addr": addr, "size": size, "aux": aux, "type": typ,
                       "device": dev, "flags": flags})
events.sort(key=lambda e: e["seq"])
equal(events[0]["seq"], 1, "the ring kept every event")
ALLOC, FREE, OOM, SAMPLE, HOST = 1, 2, 4, 5, 1


def tool(*args, env=None):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "WSLALLOC_DIR": r.dir, **(env or {})})


def exact(text):
    return json.loads(text, parse_float=Decimal)


def numbers(v, key=""):
    """Every number in a JSON value, with its key."""
    if isinstance(v, dict):
        for k, x in v.items():
            yield from numbers(x, k)
    elif isinstance(v, list):
        for x in v:
            yield from numbers(x, key)
    elif isinstance(v, (int, Decimal)) and not isinstance(v, bool):
        yield key, v


# JSON numbers: the start time to the nanosecond (it was 1795990000.0),
# times as the events hold them, byte counts as integers.
rep_text = tool("report", "--json", rec).stdout
rep = exact(rep_text)
equal(rep["process"]["start_time"], Decimal(start_ns) / 10**9, "report --json: the start time, exactly")
equal(int(rep["process"]["start_time"]), start_ns // 10**9, "report --json: the start time, to the second")
equal(rep["process"]["duration_s"], Decimal(end_ns) / 10**9, "report --json: the duration, to the nanosecond")
oom_event = next(e for e in events if e["type"] == OOM)
equal(rep["ooms"][0]["time"], Decimal(oom_event["time"]) / 10**9, "report --json: the OOM's time, to the nanosecond")
times = {Decimal(e["time"]) / 10**9 for e in events}
check(all(e["time"] in times for e in rep["ooms"][0]["events_before"]),
      "report --json: each event's time as the ring holds it")
inexact = [(k, v) for k, v in numbers(rep) if k.endswith("bytes") and not isinstance(v, int)]
equal(inexact, [], "report --json: byte counts as integers")
ls = exact(tool("ls", "--json").stdout)
equal([x["start_time"] for x in ls], [Decimal(start_ns) / 10**9], "ls --json: the start time, exactly")
equal(int(ls[0]["start_time"]), start_ns // 10**9, "ls --json: the start time, to the second")

# Perfetto from 0.2 s: every counter starts at 0.2 s at its level there.
# This process's and the device view's levels come from the events; the
# purposes' from the whole export, each the last value at or before 0.2 s.
T = 200_000_000
own = sum(e["size"] if e["type"] == ALLOC else -e["size"] for e in events
          if e["time"] <= T and e["type"] in (ALLOC, FREE) and e["device"] == 0 and not e["flags"] & HOST)
sample = [e for e in events if e["type"] == SAMPLE and e["time"] <= T][-1]
used = sample["size"] - sample["addr"]
want = {"device 0: this process": own, "device 0: free": sample["addr"],
        "device 0: others and the driver": max(used - sample["aux"], 0)}
full = exact(tool("export", "--format", "perfetto", rec, "-o", "-").stdout)["traceEvents"]
level_at = {}
for ev in sorted((e for e in full if e["ph"] == "C"), key=lambda e: e["ts"]):
    if ev["ts"] <= T // 1000:
        level_at[ev["name"]] = ev["args"]["bytes"]
for name, v in level_at.items():
    if name not in want:
        want[name] = v
equal({k: level_at.get(k) for k in ("device 0: llama.cpp: model weights", "device 0: llama.cpp: KV cache",
                                    "device 0: llama.cpp: compute buffers")},
      {"device 0: llama.cpp: model weights": 4608 * MiB, "device 0: llama.cpp: KV cache": GiB,
       "device 0: llama.cpp: compute buffers": 256 * MiB}, "the whole export's purposes at 0.2 s")
win = exact(tool("export", "--format", "perfetto", rec, "-o", "-", "--from", "0.2").stdout)["traceEvents"]
first = {}
for ev in win:
    if ev["ph"] == "C":
        first.setdefault(ev["name"], (ev["ts"], ev["args"]["bytes"]))
equal(first, {k: (Decimal(T // 1000), v) for k, v in want.items()},
      "perfetto --from 0.2: every counter starts at 0.2 s at its level then")
check(all(ev["ts"] >= T // 1000 for ev in win if "ts" in ev), "perfetto --from 0.2: nothing before it")
equal(sorted(Decimal(ev["ts"]) for ev in full if ev["ph"] == "i"), [Decimal(oom_event["time"]) / 1000],
      "perfetto: the OOM's instant to the nanosecond")

# The plot from 0.3 to 0.62 s: this process's memory and each purpose's
# line start at their levels at 0.3 s, not at 0 (the old plot drew 0 B used
# and the purposes missing until their next change).
LEFT, Y0, H, TOP_BYTES = 70, 60, 260, 8 * GiB
ns = "{http://www.w3.org/2000/svg}"


def plot(*args):
    out = os.path.join(tempfile.mkdtemp(), "p.svg")
    p = tool("plot", rec, "-o", out, *args)
    equal(p.returncode, 0, f"plot {args}: status ({p.stderr.strip()})")
    return out, ET.parse(out).getroot()


def first_level(d):
    """The level a step path starts at, in bytes."""
    parts = d.replace(",", " ").split()
    y = float(parts[2][1:]) if parts[2].startswith("V") else float(parts[1])
    return (Y0 + H - y) / H * TOP_BYTES


_, svg = plot("--from", "0.3", "--to", "0.62")
paths = {p.get("class"): p.get("d") for p in svg.iter(ns + "path")}
own_03 = sum(e["size"] if e["type"] == ALLOC else -e["size"] for e in events
             if e["time"] < 300_000_000 and e["type"] in (ALLOC, FREE) and e["device"] == 0 and not e["flags"] & HOST)
half_pixel = TOP_BYTES / H / 2
check(abs(first_level(paths["own"]) - own_03) <= half_pixel,
      f"plot --from 0.3: this process starts at {own_03 / GiB:.2f} GiB: {paths['own'][:40]}")
titles = {p.find(ns + "title").text: p.get("d") for p in svg.iter(ns + "path") if p.find(ns + "title") is not None}
for label, bytes_ in (("llama.cpp: model weights", 4608 * MiB), ("llama.cpp: KV cache", GiB),
                      ("llama.cpp: compute buffers", 256 * MiB)):
    check(label in titles and abs(first_level(titles[label]) - bytes_) <= half_pixel,
          f"plot --from 0.3: {label} starts at {bytes_ / MiB:.0f} MiB: {titles.get(label, '')[:40]}")

# Ticks at round numbers, where their values are.
def ticks(root, unit):
    return [(float(t.get("x")), t.text) for t in root.iter(ns + "text")
            if t.get("class") == "ax" and (t.text or "").endswith(" " + unit)]


equal([t for _, t in ticks(svg, "s")], ["0.3 s", "0.4 s", "0.5 s", "0.6 s"], "plot --from 0.3 --to 0.62: time ticks")
check(all(abs(x - (LEFT + (float(t[:-2]) - 0.3) / 0.32 * 959)) < 0.2 for x, t in ticks(svg, "s")),
      f"each time tick where its time is: {ticks(svg, 's')}")
whole_path, whole = plot()
# The whole plot spans the run and a 2% margin: 0.6 s and some, so under
# six ticks of 0.1 s do not fit and ticks of 0.2 s do (the run's own timing
# decides whether 0.8 s is reached, on a slow machine).
plotted = end_ns * 1.02 / 1e9
check(0.6 < plotted <= 1.2, f"the run lasted {end_ns / 1e9:.3f} s")
equal([t for _, t in ticks(whole, "s")], [f"{k * 0.2:.1f} s" for k in range(7) if k * 0.2 <= plotted],
      "plot: time ticks")
equal([t for _, t in ticks(whole, "GiB")],
      ["0 GiB", "2 GiB", "4 GiB", "6 GiB", "8 GiB"], "plot: memory ticks")
# A point per change: a plot of these 44 events is a few KB (it was 128 KB).
size = os.path.getsize(whole_path)
check(size < 8000, f"plot of {len(events)} events: {size} bytes")

# A window past the end: one line with the recording's span, status 2.
span = f"spans 0 to {end_ns / 1e9:.3f} s"
for args in (["plot", rec, "-o", os.path.join(tempfile.mkdtemp(), "x.svg"), "--from", "5"],
             ["export", "--format", "perfetto", rec, "-o", "-", "--from", "5"],
             ["export", "--format", "csv", rec, "-o", "-", "--from", "5", "--to", "6"]):
    p = tool(*args)
    check(p.returncode == 2 and p.stdout == "" and len(p.stderr.splitlines()) == 1 and span in p.stderr,
          f"{args[0]} --from 5: refused with the span ({p.returncode}, {p.stderr.strip()})")
finish()
