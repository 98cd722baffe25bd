"""Fatal signals: the client's own handler is called as the kernel would call it (SA_RESETHAND, SA_NODEFER), and the recording says how the process really ended."""
import signal
import subprocess

from harness import *

MiB = 1 << 20


def attempt(mode, preload):
    try:
        return run("crash", [mode], preload=preload, timeout=20)
    except subprocess.TimeoutExpired:
        check(False, f"{mode}: still running after 20 s {'under the shim' if preload else 'bare'}")
        return None


# one-shot: the handler runs once, then the fault, executed again, kills.
# reraise: restores the default and raises again with SA_NODEFER (Python's
# faulthandler); reraise-deferred: the same without SA_NODEFER, so the signal
# arrives when the handler returns.
expected_out = {"oneshot": "ready\none-shot handler ran\n", "reraise": "ready\nre-raising\n",
                "reraise-deferred": "ready\nre-raising\n"}
for mode, out in expected_out.items():
    bare = attempt(mode, False)
    shim = attempt(mode, True)
    if not bare or not shim:
        continue
    equal((bare.rc, bare.out), (-signal.SIGSEGV, out), f"{mode}: bare run")
    equal((shim.rc, shim.out), (bare.rc, bare.out), f"{mode}: the client sees what it would bare")
    proc = shim.report().get("process", {})
    equal((proc.get("end"), proc.get("signal")), ("signal", 11), f"{mode}: recorded end")
    text = subprocess.run([TOOL, "report", shim.recordings()[0]], capture_output=True,
                          text=True).stdout
    check("killed by signal 11 (SIGSEGV)" in text, f"{mode}: the report names the signal")
finish()
