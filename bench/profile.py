"""Where libwslalloc's instructions per cudaMalloc+cudaFree pair go: callgrind, by function, marginal over 10000 pairs."""
import os
import re
import subprocess
import tempfile

from benchenv import BENCH, SHIM, env, need

need(SHIM, BENCH)


def profile(pairs):
    out = tempfile.mktemp()
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    BENCH, str(pairs), "1", "10"], env=env(True), capture_output=True, check=True)
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    os.unlink(out)
    costs = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+):(\S+)", line)
        if m:
            key = m.group(2).split("/")[-1] + ":" + m.group(3)
            costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return costs


lo, hi = profile(2000), profile(12000)
rows = sorted(((hi[k] - lo.get(k, 0)) / 10000, k) for k in hi)
print("| function (file:name) | instructions per pair |")
print("|---|---:|")
for cost, key in sorted(rows, reverse=True):
    if cost >= 3:
        print(f"| `{key}` | {cost:.0f} |")
