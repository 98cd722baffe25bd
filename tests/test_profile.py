"""WSLALLOC_PROFILE=wsl: the WSL2 workarounds in one switch, each overridable, recorded and never said on stderr."""
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
finish()
