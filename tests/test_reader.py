"""Bad input: truncated, foreign, corrupt or hostile files give one clear line or a partial report."""
import json
import os
import random
import struct
import subprocess
import tempfile

from harness import *

r = run("crash", ["exit"])
good = r.recordings()[0]
data = open(good, "rb").read()
d = tempfile.mkdtemp()


def tool(path, *args):
    return subprocess.run([TOOL, "report", *args, path], capture_output=True, text=True, timeout=60)


def expect_refusal(name, blob, words):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(blob)
    p = tool(path)
    equal(p.returncode, 1, f"{name}: exit status")
    equal(p.stdout, "", f"{name}: nothing on stdout")
    lines = p.stderr.strip().splitlines()
    equal(len(lines), 1, f"{name}: one line")
    check(words in p.stderr, f"{name}: says {words!r}: {p.stderr!r}")


expect_refusal("empty", b"", "too short")
expect_refusal("text", b"hello world\n" * 1000, "bad magic")
expect_refusal("future", data[:8] + struct.pack("<I", 99) + data[12:], "format version 99")
expect_refusal("header-only", data[:4096], "truncated before its counters")
bad_layout = bytearray(data)
struct.pack_into("<Q", bad_layout, 64, 1 << 62)  # ring_off
expect_refusal("bad-layout", bytes(bad_layout), "corrupt")

# Cut inside the ring: readable, marked partial.
cut = os.path.join(d, "cut")
with open(cut, "wb") as f:
    f.write(data[: len(data) - 4096 * 3])
p = tool(cut, "--json")
equal(p.returncode, 0, "cut: still readable")
if p.returncode == 0:
    import json
    rep = json.loads(p.stdout)
    check(rep["partial"], "cut: marked partial")

# Random damage anywhere never crashes the reader.
rng = random.Random(7)
for i in range(200):
    blob = bytearray(data)
    for _ in range(rng.randint(1, 64)):
        blob[rng.randrange(len(blob) if rng.random() < 0.5 else 8192)] = rng.randrange(256)
    path = os.path.join(d, f"fuzz{i}")
    with open(path, "wb") as f:
        f.write(blob)
    p = tool(path, "--json") if i % 2 else tool(path)
    check(p.returncode in (0, 1), f"fuzz{i}: exit {p.returncode} {p.stderr[-300:]}")
    os.unlink(path)

p = subprocess.run([TOOL, "report", "--bogus"], capture_output=True, text=True)
equal(p.returncode, 2, "unknown flag: usage error")
p = subprocess.run([TOOL, "report", "--help"], capture_output=True, text=True)
check(p.returncode == 0 and "usage: wslalloc report" in p.stdout, "report --help")
p = subprocess.run([TOOL, "report"], capture_output=True, text=True,
                   env={**os.environ, "WSLALLOC_DIR": tempfile.mkdtemp()})
check(p.returncode == 1 and "no recordings" in p.stderr, "no recordings: clear message")
p = subprocess.run([TOOL, "report"], capture_output=True, text=True,
                   env={**os.environ, "WSLALLOC_DIR": r.dir})
check(p.returncode == 0 and good in p.stdout, "the newest recording by default")
# A recording whose modules all name a FIFO: looking up function names must
# not open it (it would wait for a writer for ever); the call sites stay
# module+offset.
fifo = os.path.join(d, "fifo")
os.mkfifo(fifo)
MODULE_SIZE, BUILD_ID, BUILD_ID_LEN, PATH, PATH_LEN = 256, 32, 64, 72, 184  # format.h, version 2
module_off, = struct.unpack_from("<Q", data, 40)
module_cap, = struct.unpack_from("<I", data, 80)
modules_count, = struct.unpack_from("<Q", data, struct.unpack_from("<Q", data, 32)[0] + 64)
hostile = bytearray(data)
for i in range(module_cap):
    at = module_off + MODULE_SIZE * i
    hostile[at + PATH:at + PATH + PATH_LEN] = fifo.encode().ljust(PATH_LEN, b"\0")
path = os.path.join(d, "fifo-modules.wsla")
open(path, "wb").write(hostile)
try:
    p = subprocess.run([TOOL, "report", "--json", path], capture_output=True, text=True, timeout=30)
    equal(p.returncode, 0, "modules naming a FIFO: reported")
    check(all("function" not in s for s in json.loads(p.stdout)["sites"]), "with no function names")
except subprocess.TimeoutExpired:
    check(False, "modules naming a FIFO: the report hung")

# Build-ids: every module of the client's carries one, and the report names
# its call sites.
good_rep = json.loads(tool(good, "--json").stdout)
named = [x["function"] for x in good_rep["sites"] if "function" in x]
check(any(f.startswith("main+0x") for f in named), f"the client's sites are named: {good_rep['sites']}")
equal(good_rep["modules_changed"], [], "no module changed")
with_ids = [struct.unpack_from("<B", data, module_off + MODULE_SIZE * i + BUILD_ID_LEN)[0]
            for i in range(modules_count)]
check(with_ids and all(n == 20 for n in with_ids), f"each module's 20-byte GNU build-id: {with_ids}")

# A module file that is not the one the process ran (its build-id differs,
# as after an upgrade) names nothing: its sites stay offsets, and the report
# says why.
changed = bytearray(data)
for i in range(modules_count):
    changed[module_off + MODULE_SIZE * i + BUILD_ID] ^= 0xFF
path = os.path.join(d, "changed.wsla")
open(path, "wb").write(changed)
rep = json.loads(tool(path, "--json").stdout)
check(all("function" not in x for x in rep["sites"]), f"changed modules: no names: {rep['sites']}")
check(any(m.endswith("/crash") for m in rep["modules_changed"]),
      f"the changed module is listed: {rep['modules_changed']}")
text = tool(path).stdout
check("crash has changed since the recording (its build-id differs)" in text, f"and said: {text[-600:]}")

# Version 1 (modules without build-ids and with a longer path field, OOM
# records of 128 bytes, no stacks) still reads, and says what it did.
oomed = run("crash", ["oom"])
v2 = open(oomed.recordings()[0], "rb").read()
v2_rep = json.loads(tool(oomed.recordings()[0], "--json").stdout)
v1 = bytearray(v2)
struct.pack_into("<I", v1, 8, 1)      # version
struct.pack_into("<I", v1, 84, 128)   # oom_size
mod_off, = struct.unpack_from("<Q", v2, 40)
for i in range(struct.unpack_from("<I", v2, 80)[0]):
    at = mod_off + MODULE_SIZE * i
    v1[at + 32:at + MODULE_SIZE] = bytes(v2[at + PATH:at + PATH + PATH_LEN]).ljust(224, b"\0")
oom_off, = struct.unpack_from("<Q", v2, 48)
for i in range(struct.unpack_from("<I", v2, 88)[0]):
    v1[oom_off + 128 * i:oom_off + 128 * (i + 1)] = v2[oom_off + 256 * i:oom_off + 256 * i + 128]
path = os.path.join(d, "v1.wsla")
open(path, "wb").write(v1)
p = tool(path, "--json")
equal(p.returncode, 0, f"version 1: read ({p.stderr})")
rep = json.loads(p.stdout) if p.returncode == 0 else {"sites": [], "devices": [{}], "ooms": []}
equal(rep["devices"][0].get("live_bytes"), v2_rep["devices"][0]["live_bytes"], "version 1: the same account")
equal([x.get("function") for x in rep["sites"]], [x.get("function") for x in v2_rep["sites"]],
      "version 1: the same names, without build-ids")
same = ("size", "free_bytes", "total_bytes", "own_bytes", "foreign_bytes", "site", "function", "diagnosis")
equal([{k: o[k] for k in same if k in o} for o in rep["ooms"]],
      [{k: o[k] for k in same if k in o} for o in v2_rep["ooms"]], "version 1: the same OOM records")
check(v2_rep["ooms"] and all(o["stack"] == [] for o in rep["ooms"]), "version 1: no stacks")

p = subprocess.run([TOOL, "frobnicate"], capture_output=True, text=True)
equal(p.returncode, 2, "unknown command")
finish()
