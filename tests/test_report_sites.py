"""The report's call-site tables: device memory and pinned host memory each in a table of its own, and counts of one in the singular."""
import re
import subprocess

from harness import *

MiB = 1 << 20
# The demo's workload: 32 x 144 MiB of weights, a 1 GiB KV cache, compute
# buffers of 256, 256 and 512 MiB (the next, 1 GiB, fails), all from one
# cudaMalloc site; and one 512 MiB pinned staging buffer from its own site.
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
path = r.recordings()[0]
rep = r.report()
sites = rep.get("sites", [])
dev = [s for s in sites if s.get("device_calls")]
pinned = [s for s in sites if s.get("pinned_calls")]
equal(len(dev), 1, "one device site")
equal(len(pinned), 1, "one pinned site")
if dev and pinned:
    d, p = dev[0], pinned[0]
    equal((d["device_calls"], d["device_bytes"], d["peak_live_bytes"], d["live_bytes"], d["pinned_calls"]),
          (36, (32 * 144 + 1024 + 256 + 256 + 512) * MiB, 6144 * MiB, 5632 * MiB, 0), "the device site, device bytes only")
    equal((p["pinned_calls"], p["pinned_bytes"], p["pinned_peak_live_bytes"], p["pinned_live_bytes"],
           p["device_calls"], p["device_bytes"], p["peak_live_bytes"], p["live_bytes"]),
          (1, 512 * MiB, 512 * MiB, 512 * MiB, 0, 0, 0, 0), "the pinned site, pinned bytes only")

text = subprocess.run([TOOL, "report", path], capture_output=True, text=True).stdout


def section(title):
    m = re.search(rf"\n{re.escape(title)}\n((?:  .*\n)*)", text)
    check(m is not None, f"report has the section {title!r}")
    return m.group(1) if m else ""


device_table = section("Top call sites by peak live device memory")
pinned_table = section("Top call sites by peak live pinned host memory")
if dev and pinned:
    check(p["site"] not in device_table, f"the pinned site is not among the device sites: {device_table}")
    check(re.search(rf"  {re.escape(d['site'])} +peak   6\.00 GiB +36 calls +6\.50 GiB allocated +5\.50 GiB live\n",
                    device_table), f"the device site's line: {device_table}")
    check(re.search(rf"  {re.escape(p['site'])} +peak  512\.0 MiB +1 call +512\.0 MiB allocated +512\.0 MiB live\n",
                    pinned_table), f"the pinned site's line: {pinned_table}")
    check(re.search(rf"  {re.escape(p['site'])} +1 call\n", section("Top call sites by calls")),
          "by calls: 1 call")
    check(re.search(rf"  {re.escape(p['site'])} +cudaMallocHost +1 alloc +512\.0 MiB pinned host\n",
                    section("Still allocated at the end")), "still allocated: 1 alloc")
check("Pinned host memory: peak 512.0 MiB, live 512.0 MiB in 1 allocation\n" in text,
      "the pinned line: 1 allocation")
check(not re.search(r"\b1 (allocations|calls|allocs|times|events)\b", text), "no plural after a count of 1")

# One allocation held at the failures (a 70 MiB limit admits the first
# 64 MiB block only): the first aid and each OOM say "1 allocation".
one = run("crash", ["oom"], env={"WSLALLOC_LIMIT": "70M"})
check("  this process: 64.0 MiB in 1 allocation; others and the driver: 0 B\n" in one.err,
      f"first aid: 1 allocation: {one.err!r}")
text = subprocess.run([TOOL, "report", one.recordings()[0]], capture_output=True, text=True).stdout
check("     this process: 64.0 MiB in 1 allocation; others" in text, "report's OOMs: 1 allocation")
check(not re.search(r"\b1 (allocations|calls|allocs|times|events)\b", text), f"no plural after 1: {text}")
finish()
