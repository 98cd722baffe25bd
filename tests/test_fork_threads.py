"""Fork under load: threads allocate, with stitched blocks live, while the main thread forks (8 threads and 300 forks unless told); every child's cudaFree returns and it exits."""
import subprocess
import sys

from harness import *

threads, forks = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (8, 300)
want = f"forks={forks} hung=0 failed=0\n"
bare = run("fork_storm", [str(threads), str(forks)], preload=False)
equal((bare.rc, bare.out), (0, want), "bare run")
try:
    # Stitched blocks from 1 MiB: every allocation the threads make is the shim's own.
    shim = run("fork_storm", [str(threads), str(forks)], timeout=600,
               env={"WSLALLOC_STITCH": "force", "WSLALLOC_STITCH_MIN": "1M",
                    "WSLALLOC_EVENTS": "4096"})
    equal((shim.rc, shim.out), (0, want), "under the shim: no child hangs")
except subprocess.TimeoutExpired:
    check(False, "under the shim: the run did not finish in 600 s")
finish()
