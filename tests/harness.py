"""Test harness: runs clients with and without libwslalloc on the simulated or real runtimes."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# Every temporary folder a test makes (its recordings reserve about 20 MiB
# each) lives under one folder per test run, removed when the run ends.
tempfile.tempdir = tempfile.mkdtemp(prefix="wsla-test-")
atexit.register(shutil.rmtree, tempfile.tempdir, ignore_errors=True)

SHIM = os.environ["WSLA_SHIM"]
TOOL = os.environ["WSLA_TOOL"]
CLIENTS = os.environ["WSLA_CLIENTS"]
SIM = {
    "cuda13": [os.environ["WSLA_SIM_CUDA13"], os.environ["WSLA_SIM_DRIVER"]],
    "cuda12": [os.environ["WSLA_SIM_CUDA12"], os.environ["WSLA_SIM_DRIVER"]],
    "hip": [os.environ.get("WSLA_SIM_HIP", "")],
    "real-cuda": [os.environ.get("WSLA_REAL_CUDA_LIB", "")],
    "real-hip": [os.environ.get("WSLA_REAL_HIP_LIB", "")],
}
SANITIZER_RT = os.environ.get("WSLA_SANITIZER_RT", "")
BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(TOOL)))

# The user's recordings directory is never a test's to write.  Every
# program a test starts finds the default directory (the library's and the
# tools') in a folder of this test's own, which must stay empty: a program
# started without a WSLALLOC_DIR of its test's shows up there.  The real
# default directories are looked at too, at the start and at the end.
REAL_DEFAULT_DIRS = [f"/tmp/wslalloc-{os.getuid()}"] + (
    [os.path.join(os.environ["XDG_RUNTIME_DIR"], "wslalloc")]
    if os.environ.get("XDG_RUNTIME_DIR", "").startswith("/") else [])
DEFAULT_HOME = tempfile.mkdtemp(prefix="default-")
os.environ["XDG_RUNTIME_DIR"] = DEFAULT_HOME
os.environ.pop("WSLALLOC_DIR", None)
DEFAULT_DIR = os.path.join(DEFAULT_HOME, "wslalloc")


def _dir_state(d):
    """Each recording in d with its size and modification time."""
    try:
        names = os.listdir(d)
    except OSError:
        return {}
    state = {}
    for n in names:
        try:
            st = os.stat(os.path.join(d, n), follow_symlinks=False)
        except OSError:
            continue
        state[n] = (st.st_size, st.st_mtime_ns)
    return state


_real_before = {d: _dir_state(d) for d in REAL_DEFAULT_DIRS}


def default_dir_written():
    """What the programs of this test wrote into a default recordings
    directory: anything at all in this test's own, and in the real ones the
    new or changed recordings of this build's programs."""
    found = [os.path.join(DEFAULT_DIR, n) for n in sorted(_dir_state(DEFAULT_DIR))]
    if os.path.exists(DEFAULT_DIR) and not found:
        found.append(DEFAULT_DIR)
    for d, before in _real_before.items():
        for n, st in sorted(_dir_state(d).items()):
            if before.get(n) == st or not n.endswith(".wsla"):
                continue
            path = os.path.join(d, n)
            try:  # someone else's recording, perhaps unreadable: only ours count
                r = subprocess.run([TOOL, "report", "--json", path], capture_output=True, text=True,
                                   timeout=60)
                exe = json.loads(r.stdout)["process"]["exe"]
            except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
                continue
            if exe.startswith(BUILD_ROOT + os.sep):
                found.append(f"{path} ({exe})")
    return found

failures = []


def check(cond, what):
    """Records a failed expectation and carries on, so one run shows them all."""
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def equal(actual, expected, what):
    return check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def finish():
    written = default_dir_written()
    check(not written, f"the default recordings directory was written by this test's programs "
                       f"(give them a WSLALLOC_DIR): {written}")
    if failures:
        print(f"{len(failures)} expectation(s) failed")
        sys.exit(1)
    print("ok")
    sys.exit(0)


def skip(why):
    print("SKIP:", why)
    sys.exit(SKIP)


class Run:
    def __init__(self, proc, out, err, rc, rec_dir):
        self.proc, self.out, self.err, self.rc, self.dir = proc, out, err, rc, rec_dir

    def recordings(self):
        return sorted(os.path.join(self.dir, f) for f in os.listdir(self.dir)
                      if f.endswith(".wsla")) if os.path.isdir(self.dir) else []

    def report(self, path=None):
        paths = [path] if path else self.recordings()
        if not check(len(paths) == 1, f"one recording expected in {self.dir}, found {paths}"):
            return {}
        return report_json(paths[0])


def report_json(path):
    r = subprocess.run([TOOL, "report", "--json", path], capture_output=True,
                       text=True, timeout=120, errors="strict")
    if not check(r.returncode == 0, f"report {path} exited {r.returncode}: {r.stderr}"):
        return {}
    return json.loads(r.stdout)


def env_for(runtime, preload, extra=None, rec_dir=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("WSLALLOC_") or k.startswith("WSLSIM_"):
            del env[k]
    libs = [p for p in SIM[runtime] if p]
    if libs:
        env["LD_LIBRARY_PATH"] = ":".join(libs)
    else:
        env.pop("LD_LIBRARY_PATH", None)
    preloads = []
    if SANITIZER_RT:
        preloads.append(SANITIZER_RT)
    if preload:
        preloads.append(SHIM)
    if preloads:
        env["LD_PRELOAD"] = ":".join(preloads)
    else:
        env.pop("LD_PRELOAD", None)
    # Never the default directory: a folder of its own where none is named.
    env["WSLALLOC_DIR"] = rec_dir or tempfile.mkdtemp(prefix="wsla-dir-")
    env.update(extra or {})
    return env


def run(client, args=(), runtime="cuda13", preload=True, env=None,
        timeout=300, kill_after_ready=False, rec_dir=None):
    """Runs a client; returns its output and the folder its recording went to."""
    rec_dir = rec_dir or tempfile.mkdtemp(prefix="wsla-test-")
    exe = client if os.path.isabs(client) else os.path.join(CLIENTS, client)
    e = env_for(runtime, preload, env, rec_dir)
    if kill_after_ready:
        p = subprocess.Popen([exe, *args], env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        check(line.strip() == "ready", f"{client} said {line!r} instead of ready")
        p.kill()
        out, err = p.communicate(timeout=timeout)
        return Run(p, line + out, err, p.returncode, rec_dir)
    p = subprocess.run([exe, *args], env=e, capture_output=True, text=True,
                       timeout=timeout)
    return Run(p, p.stdout, p.stderr, p.returncode, rec_dir)


def same_as_bare(client, args=(), runtime="cuda13", env=None):
    """Runs a client bare and under the shim; both runs must look the same."""
    bare = run(client, args, runtime, preload=False, env=env)
    shim = run(client, args, runtime, preload=True, env=env)
    equal(shim.rc, bare.rc, f"{client} on {runtime}: exit status under the shim")
    equal(shim.out, bare.out, f"{client} on {runtime}: output under the shim")
    return bare, shim
