"""exec: a process that replaces itself by another program is recorded as ended by exec of it; a failed exec takes nothing away."""
import re
import subprocess

from harness import *

MiB = 1 << 20
failed = "failed exec: -1 errno No such file or directory\n"
programs = {"execv": "/bin/true", "execvp": "true", "execl": "/bin/true",
            "execlp": "true", "execle": "/bin/true", "execve": "/bin/true",
            "execvpe": "true", "fexecve": "descriptor"}
for how, target in programs.items():
    bare, shim = same_as_bare("execer", [how])
    equal((bare.rc, bare.out), (0, failed), f"{how}: bare run")
    rep = shim.report()
    proc = rep.get("process", {})
    # fexecve names the descriptor it was given (its number is the client's).
    named = proc.get("exec") or ""
    if how == "fexecve" and re.fullmatch(r"descriptor \d+", named):
        named = "descriptor"
    equal((proc.get("end"), named, proc.get("exit_code"), proc.get("signal")),
          ("exec", target, None, None), f"{how}: recorded end")
    check(proc.get("duration_s", -1) >= 0, f"{how}: the time of the exec")
    equal(rep.get("devices", [{}])[0].get("live_bytes"), 8 * MiB, f"{how}: live bytes")
    if how == "execv":
        text = subprocess.run([TOOL, "report", shim.recordings()[0]], capture_output=True,
                              text=True).stdout
        check("Ended     replaced itself by exec of /bin/true after " in text,
              f"execv: the report says so:\n{text}")
        ls = subprocess.run([TOOL, "ls", "--json"], capture_output=True, text=True,
                            env=env_for("cuda13", False, rec_dir=shim.dir))
        check('"end":"exec"' in ls.stdout, f"execv: ls says exec: {ls.stdout}")

# No exec: the failed one's mark is gone, and the exit is what is recorded.
bare, shim = same_as_bare("execer", ["none"])
proc = shim.report().get("process", {})
equal((proc.get("end"), proc.get("exit_code"), "exec" in proc), ("exit", 4, False),
      "a failed exec, then exit")
finish()
