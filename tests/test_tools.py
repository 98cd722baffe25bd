"""wslalloc ls, top, metrics and export: listed, exposed and exported as the recordings say, in formats their readers accept."""
import csv
import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import *

MiB = 1 << 20
d = tempfile.mkdtemp()


def tool(*args, env=None):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "WSLALLOC_DIR": d, **(env or {})})


# A process still running: ls and metrics see its live counters.
odd = os.path.join(tempfile.mkdtemp(), 'odd"na\\me')
shutil.copy(os.path.join(CLIENTS, "crash"), odd)
e = env_for("cuda13", True, {}, d)
p = subprocess.Popen([odd, "kill"], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
check(p.stdout.readline().strip() == "ready", "the client is up")
ls = json.loads(tool("ls", "--json").stdout)
equal([(x["pid"], x["end"]) for x in ls], [(p.pid, "running")], "ls: one running process")
m = tool("metrics")
equal(m.returncode, 0, "metrics: status")
lines = m.stdout.splitlines()
seen_help = {}
current = None
for l in lines:
    if l.startswith("# HELP "):
        name = l.split()[2]
        check(name not in seen_help, f"metrics: one HELP for {name}")
        seen_help[name] = True
        current = name
    elif l.startswith("# TYPE "):
        check(l.split()[2] == current and l.split()[3] in ("gauge", "counter"), f"metrics: TYPE for {current}")
    else:
        check(re.fullmatch(r'[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\} \d+', l) is not None, f"metrics: sample {l!r}")
        check(l.startswith(current + "{"), f"metrics: {l!r} follows its own HELP and TYPE")
label = 'exe="odd\\"na\\\\me"'
check(f'wslalloc_device_live_bytes{{pid="{p.pid}",{label},device="0"}} {80 * MiB}' in lines,
      f"metrics: live bytes, with the program's name escaped: {[l for l in lines if 'live_bytes{' in l]}")
check(f'wslalloc_device_peak_bytes{{pid="{p.pid}",{label},device="0"}} {112 * MiB}' in lines,
      "metrics: peak bytes")
check(f'wslalloc_purpose_live_bytes{{pid="{p.pid}",{label},purpose="other large allocations"}} {80 * MiB}' in lines,
      f"metrics: what the large allocations hold: {[l for l in lines if 'purpose' in l]}")
out = os.path.join(tempfile.mkdtemp(), "wslalloc.prom")
equal(tool("metrics", "-o", out).returncode, 0, "metrics -o: status")
equal(open(out).read(), m.stdout, "metrics -o: the same text, in the file")
equal(os.listdir(os.path.dirname(out)), ["wslalloc.prom"], "metrics -o: written whole, nothing left beside it")
# top: the same live counters, refreshing; a second process that survived
# an OOM shows it as its last.
q = subprocess.Popen([os.path.join(CLIENTS, "crash"), "oom-wait"], env=e, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
check(q.stdout.readline().strip() == "ready", "the second client is up")
t = tool("top", "-n", "2", "-d", "0.1")
equal(t.returncode, 0, "top: status")
screens = t.stdout.split("wslalloc top  ")[1:]
equal(len(screens), 2, "top -n 2: two screens")
check(all("(every 0.1 s, 2 screens)" in s.splitlines()[0] and "Ctrl-C" not in s for s in screens),
      f"top -n 2: the header says how many screens, not Ctrl-C: {screens[0].splitlines()[0]!r}")
for s in screens:
    check(" 2 running in " in s, "top: both processes counted")
    check(re.search(r"^GPU 0  8\.00 GiB total, [0-9.]+ [GM]iB free", s, re.M) is not None,
          f"top: the device's figures: {s}")
    rows = {int(l.split()[0]): l for l in s.splitlines() if re.match(r"\s+\d+\s", l)}
    equal(sorted(rows), sorted([p.pid, q.pid]), "top: a row per running process")
    check(re.search(r'odd"na\\me\s+80\.0 MiB\s+112\.0 MiB\s+2\s+0\s+-$', rows[p.pid]) is not None,
          f"top: live, peak, allocations, no OOM: {rows[p.pid]!r}")
    check(re.search(r"crash\s+80\.0 MiB\s+112\.0 MiB\s+2\s+1\s+\d\d:\d\d:\d\d of 64\.00 GiB$",
                    rows[q.pid]) is not None, f"top: the last OOM: {rows[q.pid]!r}")
    # What the live memory holds: the crash client's two large blocks (64
    # and 16 MiB) have stacks that name no phase of llama.cpp's.
    check("            holding: other large allocations 80.0 MiB\n" in s, f"top: what it holds: {s}")
equal(tool("top", "-d", "0").returncode, 2, "top -d 0: refused")
equal(tool("top", "-n", "x").returncode, 2, "top -n x: refused")
equal(tool("top", "--help").returncode, 0, "top --help")
q.kill()
q.wait()
check(str(q.pid) not in tool("top", "-n", "1").stdout, "top: an ended process leaves the view")
p.kill()
p.wait()
ls = json.loads(tool("ls", "--json").stdout)
equal([x["end"] for x in ls], ["killed", "killed"], "ls: the killed processes")
check(f'pid="{p.pid}"' not in tool("metrics").stdout, "metrics: ended processes left out")
check(f'pid="{p.pid}"' in tool("metrics", "--all").stdout, "metrics --all: ended ones in")
text = tool("ls").stdout
check(re.search(r'odd"na\\me\s+%d .* killed\s+112\.0 MiB\s+0' % p.pid, text) is not None,
      f"ls: the text line: {text}")

# CSV: RMM's columns, one row per device allocation, free or failure.
r = run("threads", ["2", "100"])
want = json.loads(r.out)
path = r.recordings()[0]
out = os.path.join(tempfile.mkdtemp(), "log.csv")
equal(tool("export", "--format", "csv", path, "-o", out).returncode, 0, "csv: status")
rows = list(csv.DictReader(open(out)))
equal(list(rows[0].keys()), ["Thread", "Time", "Action", "Pointer", "Size", "Stream"], "csv: RMM's columns")
equal(sum(r["Action"] == "allocate" for r in rows), want["malloc_calls"], "csv: one row per allocation")
equal(sum(r["Action"] == "free" for r in rows), want["free_calls"], "csv: one row per free")
equal(sum(int(r["Size"]) for r in rows if r["Action"] == "allocate"), want["bytes"], "csv: sizes")
check(all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{6}", r["Time"]) and r["Pointer"].startswith("0x")
          and r["Stream"] == "0" for r in rows), "csv: times, pointers and streams as RMM writes them")

# Perfetto: valid trace-event JSON; the live counter ends where the
# recording's exact counter does; the OOM is an instant.
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
out = os.path.join(tempfile.mkdtemp(), "trace.json")
equal(tool("export", "--format", "perfetto", r.recordings()[0], "-o", out).returncode, 0, "perfetto: status")
events = json.load(open(out))["traceEvents"]
check(all("ts" in e for e in events if e["ph"] != "M"), "perfetto: every event but metadata has ts")
live = [e["args"]["bytes"] for e in events if e["ph"] == "C" and e["name"] == "device 0: this process"]
equal(live[-1], r.report()["devices"][0]["live_bytes"], "perfetto: the live counter ends at the exact count")
equal(max(live), r.report()["devices"][0]["peak_bytes"], "perfetto: and peaks at the peak")
check(any(e["ph"] == "C" and e["name"] == "device 0: others and the driver" for e in events),
      "perfetto: others' memory as a counter")
ooms = [e for e in events if e["ph"] == "i"]
check(len(ooms) == 1 and ooms[0]["s"] == "g" and "cudaMalloc" in ooms[0]["name"], "perfetto: the OOM instant")
check(any(e["ph"] == "M" and e["name"] == "process_name" for e in events), "perfetto: the process named")
# A window: --from starts at the level the earlier events left, --to ends it.
# In llm_like the compute buffer is swapped at 0.2 s and 0.4 s, the OOM at 0.6 s.
win = os.path.join(tempfile.mkdtemp(), "window.json")
equal(tool("export", "--format", "perfetto", r.recordings()[0], "-o", win, "--from", "0.1",
           "--to", "0.3").returncode, 0, "perfetto window: status")
wev = json.load(open(win))["traceEvents"]
wlive = [e for e in wev if e["ph"] == "C" and e["name"] == "device 0: this process"]
check(wlive and all(100_000 <= e["ts"] <= 300_000 for e in wlive), "perfetto --from/--to: only the window")
equal([e["args"]["bytes"] for e in wlive], [5888 << 20, 5632 << 20, 5888 << 20],
      "perfetto --from: the level at 0.1 s, then the swap's, counted on from before the window")
check(not [e for e in wev if e["ph"] == "i"], "perfetto --to: the OOM after the window left out")
wcsv = os.path.join(tempfile.mkdtemp(), "window.csv")
equal(tool("export", "--format", "csv", r.recordings()[0], "-o", wcsv, "--from", "0.1", "--to", "0.3").returncode,
      0, "csv window: status")
equal([x["Action"] for x in csv.DictReader(open(wcsv))], ["free", "allocate"], "csv --from/--to: the swap at 0.2 s")
for bad_window, words in ((["--from", "x"], "not a number of seconds"), (["--from", "2", "--to", "1"], "--to must come after")):
    b = tool("export", "--format", "csv", r.recordings()[0], "-o", wcsv, *bad_window)
    check(b.returncode == 2 and words in b.stderr, f"export {bad_window}: refused ({b.stderr.strip()})")

# Plot: SVG a browser draws, the OOM marked, long recordings thinned.
import xml.etree.ElementTree as ET
svg_path = os.path.join(tempfile.mkdtemp(), "plot.svg")
equal(tool("plot", r.recordings()[0], "-o", svg_path).returncode, 0, "plot: status")
root = ET.parse(svg_path).getroot()
ns = "{http://www.w3.org/2000/svg}"
equal(root.tag, ns + "svg", "plot: an SVG document")
classes = [e.get("class") for e in root.iter()]
check(all(c in classes for c in ("own", "others", "free")), "plot: the three layers")
equal(classes.count("oom"), 1, "plot: the OOM marked")
oom_title = [t.text for t in root.iter(ns + "title")]
check(any("cudaMalloc of 1.00 GiB failed" in (t or "") for t in oom_title), f"plot: hover text: {oom_title}")
html_path = os.path.join(tempfile.mkdtemp(), "plot.html")
equal(tool("plot", r.recordings()[0], "-o", html_path).returncode, 0, "plot html: status")
page = open(html_path).read()
check(page.startswith("<!DOCTYPE html>") and "<svg" in page and "https://" not in page and
      page.count("http://") == 1, "plot html: one file, the SVG inside, no network")
window = os.path.join(tempfile.mkdtemp(), "w.svg")
equal(tool("plot", r.recordings()[0], "-o", window, "--from", "0.1", "--to", "0.3").returncode, 0, "plot window")
check(ET.parse(window).getroot() is not None and
      [e.get("class") for e in ET.parse(window).getroot().iter()].count("oom") == 0,
      "plot --from/--to: the window leaves the OOM out")
big = run("threads", ["8", "20000"])
big_svg = os.path.join(tempfile.mkdtemp(), "big.svg")
equal(tool("plot", big.recordings()[0], "-o", big_svg).returncode, 0, "plot of 320k events")
check(os.path.getsize(big_svg) < 200_000, f"plot: thinned to the pixel ({os.path.getsize(big_svg)} bytes)")
# Perfetto from the same 320k events: thinned, yet the peak and the end exact.
big_rep = big.report()["devices"][0]
thin_path = os.path.join(tempfile.mkdtemp(), "thin.json")
t = tool("export", "--format", "perfetto", big.recordings()[0], "-o", thin_path)
equal(t.returncode, 0, "perfetto thinned: status")
check("thinned to" in t.stderr, f"perfetto: says it thinned: {t.stderr}")
thin = [e for e in json.load(open(thin_path))["traceEvents"] if e["ph"] == "C" and e["name"] == "device 0: this process"]
check(len(thin) <= 200_000, f"perfetto: at most two points a bucket ({len(thin)})")
equal(max(e["args"]["bytes"] for e in thin), big_rep["peak_bytes"], "perfetto thinned: the peak kept")
equal(thin[-1]["args"]["bytes"], big_rep["live_bytes"], "perfetto thinned: the end level kept")
every = os.path.join(tempfile.mkdtemp(), "every.json")
equal(tool("export", "--format", "perfetto", big.recordings()[0], "-o", every, "--all-points").returncode, 0,
      "perfetto --all-points: status")
n_every = sum(1 for e in json.load(open(every))["traceEvents"] if e["ph"] == "C" and e["name"] == "device 0: this process")
big_csv = os.path.join(tempfile.mkdtemp(), "big.csv")
equal(tool("export", "--format", "csv", big.recordings()[0], "-o", big_csv).returncode, 0, "csv of 320k events")
kept = sum(1 for x in csv.DictReader(open(big_csv)) if x["Action"] in ("allocate", "free"))
check(kept > 200_000, f"most of the ring's events are device allocations and frees ({kept})")
equal(n_every, kept, "perfetto --all-points: every change the ring kept")

# Bad input.
for args, words in ((["export", "-o", "x"], "--format csv, perfetto or memviz"),
                    (["export", "--format", "svg", "-o", "x"], "not svg"),
                    (["export", "--format", "csv"], "-o OUT is needed"),
                    (["ls", "extra"], "no arguments, not 'extra'"),
                    (["metrics", "--bogus"], "wslalloc metrics: unknown option '--bogus'\ntry 'wslalloc metrics --help'"),
                    (["plot", "-o", "x.png"], "-o x.png: the file's name must end in .svg or .html"),
                    (["plot", "-o", "x.svg", "--from", "soon"], "not a number of seconds"),
                    (["plot", "-o", "x.svg", "--from", "2", "--to", "1"], "--to must come after")):
    q = tool(*args)
    equal(q.returncode, 2, f"{args}: usage error")
    check(words in q.stderr, f"{args}: says {words!r}: {q.stderr!r}")
for cmd in ("ls", "metrics", "export", "plot"):
    q = tool(cmd, "--help")
    check(q.returncode == 0 and f"usage: wslalloc {cmd}" in q.stdout, f"{cmd} --help")
empty = tempfile.mkdtemp()
q = subprocess.run([TOOL, "ls"], capture_output=True, text=True, env={**os.environ, "WSLALLOC_DIR": empty})
check(q.returncode == 0 and "no recordings" in q.stdout, "ls: an empty folder says so")

# Purposes cannot be drawn over a ring that lost events (a free of a block
# allocated before the kept ones could not be told): the timelines say so.
lost = run("threads", ["2", "2000"], env={"WSLALLOC_EVENTS": "1024", "WSLALLOC_STACKS": "1"})
rec = lost.recordings()[0]
check(lost.report()["totals"]["events_lost"] > 0 and lost.report()["purposes"], "a wrapped ring with stacks")
out = tempfile.mkdtemp()
q = subprocess.run([TOOL, "plot", "-o", os.path.join(out, "p.svg"), rec], capture_output=True, text=True)
check(q.returncode == 0 and "plot: what the memory was for is left out:" in q.stderr and
      'class="p0"' not in open(os.path.join(out, "p.svg")).read(), f"plot: says why no purposes: {q.stderr}")
q = subprocess.run([TOOL, "export", "--format", "perfetto", "-o", os.path.join(out, "t.json"), rec],
                   capture_output=True, text=True)
check(q.returncode == 0 and "export: what the memory was for is left out:" in q.stderr,
      f"perfetto: says why no purposes: {q.stderr}")
# Others' memory is total - free - ours, all from the moment of the last
# device sample: a client that held 2 GiB at its last sample and freed it
# since leaves nothing to blame on the others (nothing else is on the GPU),
# and WSLSIM_FOREIGN's 1.5 GiB exactly where another program holds it.
import struct as _struct
GiB = 1 << 30
for foreign, want in ((None, 0), ("1536M@0", 1536 * MiB)):
    fd = tempfile.mkdtemp()
    extra = {"WSLSIM_MEM": "8G", **({"WSLSIM_FOREIGN": foreign} if foreign else {})}
    fp = subprocess.Popen([os.path.join(CLIENTS, "crash"), "freed-since"], env=env_for("cuda13", True, extra, fd),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(fp.stdout.readline().strip() == "ready", "freed-since: the client is up")
    ft = subprocess.run([TOOL, "top", "-n", "1"], capture_output=True, text=True, timeout=60,
                        env={**os.environ, "WSLALLOC_DIR": fd})
    wtxt = "0 B" if not want else "1.50 GiB"
    check(re.search(r"^GPU 0  8\.00 GiB total, [0-9.]+ [GM]iB free, others and the driver %s$" % wtxt,
                    ft.stdout, re.M) is not None, f"top: others {wtxt} at the sample's moment: {ft.stdout}")
    fm = subprocess.run([TOOL, "metrics"], capture_output=True, text=True, timeout=60,
                        env={**os.environ, "WSLALLOC_DIR": fd}).stdout.splitlines()
    check(f'wslalloc_device_foreign_bytes{{pid="{fp.pid}",exe="crash",device="0"}} {want}' in fm,
          f"metrics: others {want} at the sample's moment: {[l for l in fm if 'foreign_bytes{' in l]}")
    if not foreign:
        # A recording without the figure (an older shim): the old reckoning,
        # with this process's live bytes now, said to be an estimate.
        rec = [os.path.join(fd, f) for f in os.listdir(fd)][0]
        with open(rec, "r+b") as f:
            f.seek(24)
            feats = _struct.unpack("<Q", f.read(8))[0]
            f.seek(24)
            f.write(_struct.pack("<Q", feats & ~(1 << 7)))
        ft = subprocess.run([TOOL, "top", "-n", "1"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "WSLALLOC_DIR": fd})
        check(re.search(r"others and the driver ~2\.00 GiB \(estimate\)$", ft.stdout, re.M) is not None,
              f"top: an older recording's figure is an estimate: {ft.stdout}")
        fm = subprocess.run([TOOL, "metrics"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "WSLALLOC_DIR": fd}).stdout.splitlines()
        check(f'wslalloc_device_foreign_bytes{{pid="{fp.pid}",exe="crash",device="0",estimate="1"}} {2 * GiB}'
              in fm, f"metrics: labelled an estimate: {[l for l in fm if 'foreign_bytes{' in l]}")
    fp.kill()
    fp.wait()
finish()
