"""Ill-formed UTF-8 in a recording (overlong forms, surrogates, code points past U+10FFFF) comes out as U+FFFD: the JSON, the SVG and the pickle stay valid."""
import json
import os
import pickle
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from harness import *

EXE, CMDLINE, CMDLINE_LEN, MODULE, PATH = 192, 192 + 512, 184, 256, 72  # format.h, version 2
BAD = b"\xC0\xAF", b"\xED\xA0\x80", b"\xF4\x90\x80\x80"
FFFD = "\ufffd"
NAME = "prog" + FFFD * 9 + "<&>\"'"  # 4 + 3 + 2 maximal subparts

r = run("crash", ["exit"])
data = bytearray(open(r.recordings()[0], "rb").read())
# The program's own name (the part the SVG and the trace show) holds all three.
exe = b"/opt/over" + BAD[0] + b"/sur" + BAD[1] + b"/prog" + BAD[2] + BAD[1] + BAD[0] + b"<&>\"'"
data[EXE:EXE + 512] = exe.ljust(512, b"\0")
args = b"prog\0--model\0w" + BAD[1] + b".gguf"
data[CMDLINE:CMDLINE + len(args)] = args
struct.pack_into("<I", data, CMDLINE_LEN, len(args))
# Every module's path too: the sites and the stacks name them.
module_off, = struct.unpack_from("<Q", data, 40)
for i in range(struct.unpack_from("<I", data, 80)[0]):
    at = module_off + MODULE * i + PATH
    path = bytes(data[at:at + 184]).split(b"\0")[0]
    if path:
        data[at:at + 184] = (path + BAD[0] + BAD[2])[-183:].ljust(184, b"\0")
d = tempfile.mkdtemp()
# The file's own name is ill-formed too: ls names it.
rec = os.path.join(d.encode(), b"bad" + BAD[1] + b".wsla")
open(rec, "wb").write(data)
env = {**os.environ, "WSLALLOC_DIR": d}


def strict_json(what, raw):
    """JSON as a strict reader takes it: the bytes must be UTF-8."""
    try:
        return json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as e:
        check(False, f"{what}: not valid JSON: {e}")
        return None


p = subprocess.run([TOOL, "report", "--json", rec], capture_output=True, env=env)
equal(p.returncode, 0, f"report --json: exit status {p.stderr[-300:]}")
rep = strict_json("report --json", p.stdout)
if rep:
    want = f"/opt/over{FFFD * 2}/sur{FFFD * 3}/{NAME}"
    equal(rep["process"]["exe"], want, "the exe, each maximal subpart a U+FFFD")
    check(any(s["site"].startswith("crash" + FFFD * 6 + "+0x") for s in rep["sites"]),
          f"the module's name too: {[s['site'] for s in rep['sites']]}")

p = subprocess.run([TOOL, "ls", "--json"], capture_output=True, env=env)
equal(p.returncode, 0, f"ls --json: exit status {p.stderr[-300:]}")
ls = strict_json("ls --json", p.stdout)
if ls:
    rows = ls if isinstance(ls, list) else ls.get("recordings", [])
    check(rows and rows[0]["recording"].endswith("bad" + FFFD * 3 + ".wsla"),
          f"the file's name: {rows}")
    check(rows and rows[0]["exe"].startswith("/opt/over" + FFFD), f"the exe: {rows}")

out = os.path.join(d, "trace.json")
p = subprocess.run([TOOL, "export", "--format", "perfetto", rec, "-o", out], capture_output=True)
equal(p.returncode, 0, f"perfetto export: exit status {p.stderr[-300:]}")
trace = strict_json("perfetto export", open(out, "rb").read()) if p.returncode == 0 else None
if trace:
    names = [e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "process_name"]
    equal(names, [f"{NAME} (pid {struct.unpack_from('<i', data, 124)[0]})"], "the process's name")

out = os.path.join(d, "snapshot.pickle")
p = subprocess.run([TOOL, "export", "--format", "memviz", rec, "-o", out], capture_output=True)
equal(p.returncode, 0, f"memviz export: exit status {p.stderr[-300:]}")
try:
    snap = pickle.loads(open(out, "rb").read())
    check(snap["allocator_settings"]["process"].startswith("/opt/over" + FFFD), "memviz: the process")
except Exception as e:  # UnicodeDecodeError where a string is ill-formed
    check(False, f"memviz: the pickle does not load: {e!r}")

for kind in ("svg", "html"):
    out = os.path.join(d, "plot." + kind)
    p = subprocess.run([TOOL, "plot", rec, "-o", out], capture_output=True)
    equal(p.returncode, 0, f"plot {kind}: exit status {p.stderr[-300:]}")
    raw = open(out, "rb").read()
    try:
        raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        check(False, f"plot {kind}: not UTF-8: {e}")
    if kind == "svg":
        try:
            root = ET.fromstring(raw)
            title = "".join(root.find("{http://www.w3.org/2000/svg}text").itertext())
            check(title.startswith(NAME + " (pid"), f"the SVG's title: {title}")
        except ET.ParseError as e:
            check(False, f"the SVG is not well-formed XML: {e}")
    else:
        want = "<title>wslalloc: prog" + FFFD * 9 + "&lt;&amp;&gt;&quot;&#39;</title>"
        check(want.encode() in raw, "the HTML's title, escaped")
shutil.rmtree(d)
finish()
