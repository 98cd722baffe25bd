"""wslalloc run: preloads, passes the command's status through, and says what the recording holds."""
import os
import subprocess
import tempfile

from harness import *


def wrun(args, env=None, runtime="cuda13"):
    e = env_for(runtime, False, env)
    return subprocess.run([TOOL, "run", *args], env=e, capture_output=True, text=True, timeout=120)


d = tempfile.mkdtemp()
client = lambda name: os.path.join(CLIENTS, name)

# A dress rehearsal: the client sees a 2 GiB card, and the report follows.
small = run("budget", preload=False, env={"WSLSIM_MEM": "2G", "WSLSIM_PINNED_MAX": "64M"})
r = wrun(["--limit", "2G", "--pinned-limit", "64M", "--dir", d, "--", client("budget")],
         env={"WSLSIM_MEM": "8G"})
equal(r.returncode, 0, "run: the command's status")
equal(r.stdout, small.out, "run --limit 2G: the command sees a 2 GiB card")
check("Out of memory: " in r.stderr and "WSLALLOC_LIMIT refused it" in r.stderr,
      "run: the full report after an OOM")

# A healthy command: a summary, and its status.
r = wrun(["--dir", d, "--", client("crash"), "exit"])
equal(r.returncode, 3, "run: exit status passed through")
check("no out-of-memory; recording " + d in r.stderr, f"run: the summary: {r.stderr!r}")
check("device 0: peak 112.0 MiB" in r.stderr, "run: the summary's peak")
check("at their peaks: other large allocations 112.0 MiB\n" in r.stderr,
      f"run: what the large allocations were for: {r.stderr!r}")

# Death by signal: 128 + N, as a shell reports it.
r = wrun(["--dir", d, "--", client("crash"), "abort"])
equal(r.returncode, 134, "run: abort gives 128 + 6")

# LD_PRELOAD already set is kept, after the library.
other = os.path.join(os.environ["WSLA_SIM_DRIVER"], "libcuda.so.1")
given = [p for p in (SANITIZER_RT, other) if p]
r = wrun(["--dir", d, "--", "sh", "-c", 'echo "$LD_PRELOAD"'], env={"LD_PRELOAD": ":".join(given)})
parts = r.stdout.strip().split(":")
# A sanitizer runtime must stay first; the library comes right after it.
want_at = 1 if SANITIZER_RT else 0
check(len(parts) == len(given) + 1 and parts[want_at].endswith("libwslalloc.so")
      and parts[:want_at] + parts[want_at + 1:] == given,
      f"run: prepends to LD_PRELOAD: {r.stdout!r}")
check("made no recording" in r.stderr, "run: a command that used no GPU is said to have made none")

# Bad input: one clear line and status 2; help; a missing command.
for args, words in ((["--limit", "2Q", "--", "true"], "--limit 2Q: not a size"),
                    (["--vmm", "maybe", "--", "true"], "not one of on|off"),
                    (["--spill", "disk", "--", "true"], "not one of off|host"),
                    (["--reserve", "lots", "--", "true"], "--reserve lots: not a size"),
                    ([], "no command given"),
                    (["--bogus", "--", "true"], "unknown option '--bogus'\ntry 'wslalloc run --help'"),
                    (["--lib", "/nonexistent.so", "--", "true"], "/nonexistent.so")):
    r = wrun(args)
    equal(r.returncode, 2, f"run {args}: usage error")
    check(words in r.stderr, f"run {args}: says {words!r}: {r.stderr!r}")
r = wrun(["--help"])
check(r.returncode == 0 and "usage: wslalloc run" in r.stdout, "run --help")
r = wrun(["--dir", d, "--", "/nonexistent-command"])
equal(r.returncode, 127, "run: a command that cannot be run gives 127")
# A path that is found but cannot be run: 126, as shells say.
r = wrun(["--dir", d, "--", tempfile.gettempdir()])
equal(r.returncode, 126, f"run: a directory gives 126 ({r.stderr!r})")

# A command killed outright: the summary says so before "no out-of-memory".
kd = tempfile.mkdtemp()
p = subprocess.Popen([TOOL, "run", "--dir", kd, "--", client("crash"), "kill"],
                     env=env_for("cuda13", False), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
equal(p.stdout.readline().strip(), "ready", "run: the client to kill started")
def children(ppid):
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
            out.append(int(pid))
    return out


child = children(p.pid)
for c in child:
    os.kill(c, 9)
out, err = p.communicate(timeout=60)
equal(p.returncode, 137, "run: SIGKILL's status passed through")
check("wslalloc: killed without recording its end" in err, f"run: the summary says it was killed: {err!r}")

finish()
