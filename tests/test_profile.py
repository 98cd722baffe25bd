"""WSLALLOC_PROFILE=wsl: the WSL2 workarounds in one switch, each overridable, recorded and never said on stderr."""
import os
import subprocess
import time

from harness import *

r = run("transparency", env={"WSLALLOC_PROFILE": "wsl"})
bare = run("transparency", preload=False)
# Silent: the library speaks only when it cannot record, and a server
# (Ollama) collects every runner's stderr; the recording says what was set.
equal(r.err, bare.err, "the profile says nothing on stderr")
opts = r.report()["options"]
equal((opts["WSLALLOC_PROFILE"], opts["WSLALLOC_RECOVER"], opts["WSLALLOC_RETRY_MS"],
       opts["WSLALLOC_HEADROOM"], opts["WSLALLOC_VMM"]),
      ("wsl", "1", "10000", str(1 << 30), "auto"), "the recording holds what was in force")
# The client's own calls are unchanged but for the headroom in memory queries.
check("free=%d" % (8585721856 - (1 << 30)) in r.out, "headroom applied to cudaMemGetInfo")

own = run("transparency", env={"WSLALLOC_PROFILE": "wsl", "WSLALLOC_HEADROOM": "0"})
equal(own.report()["options"]["WSLALLOC_HEADROOM"], "0", "a variable set by hand wins")
check(bare.out.replace("free=8585721856", "") == own.out.replace("free=8585721856", ""),
      "with no headroom, the client sees what it sees bare")
# A request larger than the whole device (the clients' 1 TiB Malloc) fails
# at once: no wait can make room for it, so the ladder skips the wait
# (WSLALLOC_RETRY_MS=10000 under the profile) and says why; return codes and
# last errors as bare, headroom aside.
runtimes = [("cuda13", "transparency")] + ([("hip", "hip_transparency")] if os.environ.get("WSLA_SIM_HIP") else [])
for runtime, client in runtimes:
    b = run(client, runtime=runtime, preload=False)
    start = time.monotonic()
    p = run(client, runtime=runtime, env={"WSLALLOC_PROFILE": "wsl", "WSLALLOC_HEADROOM": "0"})
    took = time.monotonic() - start
    check(took < 3, f"{client}: 1 TiB refused at once under the profile ({took:.1f} s, not 10 s a call)")
    equal((p.rc, p.out), (b.rc, b.out), f"{client}: return codes and last errors as bare")
    ooms = [o for o in p.report()["ooms"] if o["size"] == 1 << 40]
    check(ooms and all({"name": "wait", "result": "skipped"} in o["steps"] for o in ooms),
          f"{client}: the wait recorded as skipped: {[o['steps'] for o in ooms]}")
    q = subprocess.run([TOOL, "report", p.recordings()[0]], capture_output=True, text=True)
    check("wait: skipped (larger than the whole device: no wait makes room)" in q.stdout,
          f"{client}: the report says why the wait was skipped: {q.stdout}")
# Larger than WSLALLOC_LIMIT, though it would fit the device: refused by the
# budget before the ladder, at once.
start = time.monotonic()
p = run("recover", ["spill"], env={"WSLSIM_MEM": "4G", "WSLALLOC_PROFILE": "wsl", "WSLALLOC_LIMIT": "1G"})
took = time.monotonic() - start
check(took < 3 and "cudaMalloc 2 GiB: rc=2 set=0" in p.out,
      f"2 GiB over WSLALLOC_LIMIT=1G refused at once ({took:.1f} s): {p.out}")
finish()
