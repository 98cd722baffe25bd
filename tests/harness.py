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
    if rec_dir:
        env["WSLALLOC_DIR"] = rec_dir
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
