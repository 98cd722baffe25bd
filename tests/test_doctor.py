"""wslalloc doctor: a verdict and a fix for each check, and a clear word on what it could not check."""
import os
import shutil
import stat
import subprocess
import tempfile

from harness import *


def doctor(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WSLSIM_", "WSLALLOC_"))}
    e.pop("LD_LIBRARY_PATH", None)
    e.update(env or {})
    return subprocess.run([TOOL, "doctor", *args], capture_output=True, text=True, env=e, timeout=60)


# No driver at all (as on CI): every GPU check says it could not be made.
r = doctor()
equal(r.returncode, 0, "no GPU: not a failure")
check("[skip] GPU memory: no CUDA driver to ask" in r.stdout, f"no GPU: said so: {r.stdout}")
check("[skip] LD_PRELOAD target: none named" in r.stdout, "no target: said so")
check("memory: " in r.stdout, "the machine's memory")

# Where recordings go: what is held there, and the room for the next one.
made = run("crash", ["exit"])
equal(len(made.recordings()), 1, "a recording to find")
# 1M events of 64 bytes, 64K live allocations in 128K live slots of 64
# bytes, about 2 MiB of the rest: 64 + 8 + 2 MiB.
r = doctor(env={"WSLALLOC_DIR": made.dir, "WSLALLOC_EVENTS": "1M", "WSLALLOC_LIVE_SLOTS": "64K"})
line = next((l for l in r.stdout.splitlines() if "recordings:" in l), "")
check(line.startswith("[ok  ] recordings: " + made.dir + ": 1 held, ") and
      "each new one reserves about 74.0 MiB" in line, f"recordings: held, and the next one's size: {line!r}")
r = doctor(env={"WSLALLOC_DIR": os.path.join(made.dir, "not", "yet")})
check("(made on first use): 0 held" in r.stdout, f"a folder not made yet: {r.stdout}")
# A folder ls and report refuse is no [ok] here: the same checks, saying
# why and the fix.  The default one where others may write in it:
xdg = tempfile.mkdtemp()
os.mkdir(os.path.join(xdg, "wslalloc"))
os.chmod(os.path.join(xdg, "wslalloc"), 0o777)
r = doctor(env={"XDG_RUNTIME_DIR": xdg})
ls = subprocess.run([TOOL, "ls"], capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": xdg,
                                                                      "WSLALLOC_DIR": ""})
check(ls.returncode != 0 and "others may write in it" in ls.stderr, f"ls refuses it: {ls.stderr}")
check(r.returncode == 1 and f"[fail] recordings: cannot trust {xdg}/wslalloc: others may write in it (mode 777)\n"
      "       fix: chmod 700 it, or remove it\n" in r.stdout, f"doctor: a folder others may write in: {r.stdout}")
# One of another user's (only root can make one).
if os.geteuid() == 0:
    theirs = tempfile.mkdtemp()
    os.chown(theirs, 65534, 65534)
    r = doctor(env={"WSLALLOC_DIR": theirs})
    check(r.returncode == 1 and f"[fail] recordings: cannot trust {theirs}: it is owned by uid 65534, not by this "
          f"user (uid 0), as the library refuses it too\n       fix: remove it, or set WSLALLOC_DIR to a folder "
          "of yours\n" in r.stdout, f"doctor: another user's folder: {r.stdout}")

# The simulated GPU, 3 GiB held by others, pinned memory capped at 512 MiB.
sim = {"LD_LIBRARY_PATH": os.environ["WSLA_SIM_DRIVER"], "WSLSIM_MEM": "8G",
       "WSLSIM_FOREIGN": "3G@0", "WSLSIM_PINNED_MAX": "512M"}
r = doctor("--pinned", env=sim)
check("[warn] GPU memory: device 0: 5.00 GiB free of 8.00 GiB" in r.stdout, f"busy GPU flagged: {r.stdout}")
check("fix: over 30% is held by others" in r.stdout, "with its fix")
check("[warn] pinned host memory: 512.0 MiB could be pinned" in r.stdout, "the pinned cap measured")
r = doctor(env={**sim, "WSLSIM_FOREIGN": ""})
check("[ok  ] GPU memory: device 0: 8.00 GiB free of 8.00 GiB" in r.stdout, f"idle GPU ok: {r.stdout}")
check("[skip] pinned host memory: not probed" in r.stdout, "no pinned probe unless asked")

# Targets: a dynamic program, a missing one, a set-user-ID one.
r = doctor("--target", os.path.join(CLIENTS, "transparency"))
check("[ok  ] LD_PRELOAD target" in r.stdout, "a dynamic program: ok")
r = doctor("--target", "/no/such/program")
equal(r.returncode, 1, "a missing target fails")
check("[fail] LD_PRELOAD target: /no/such/program" in r.stdout, "and says which")
suid = os.path.join(tempfile.mkdtemp(), "suid")
shutil.copy(os.path.join(CLIENTS, "transparency"), suid)
os.chmod(suid, 0o4755)
r = doctor("--target", suid)
check("set-user-ID programs ignore LD_PRELOAD" in r.stdout, f"set-user-ID: said so: {r.stdout}")

r = doctor("--bogus")
equal(r.returncode, 2, "unknown option: usage error")
r = doctor("--help")
check(r.returncode == 0 and "usage: wslalloc doctor" in r.stdout, "doctor --help")
finish()
