"""The README's set-up: what each script installs, how to install the tool, and a demo sample that is the real output."""
import os
import re
import subprocess
import tempfile

from harness import *

ROOT = os.environ["WSLA_SOURCE_ROOT"]
readme = open(os.path.join(ROOT, "README.md")).read()

# What each script installs is what the README lists for it, exactly.
def packages(which):
    p = subprocess.run(["bash", "-c", f'source "{ROOT}/scripts/common.sh" && packages_for {which}'],
                       capture_output=True, text=True, check=True)
    return set(p.stdout.split())


def listed(script):
    m = re.search(rf"^- `scripts/{script}` (?:installs|adds) .*?(?=^- |^$)", readme, re.M | re.S)
    check(m is not None, f"README lists what scripts/{script} installs")
    return set(re.findall(r"`([^`]+)`", m.group(0))) - {f"scripts/{script}"} if m else set()


demo, test = packages("demo"), packages("test")
equal(listed("demo"), demo, "README: what scripts/demo installs")
equal(listed("test"), test - demo, "README: what scripts/test adds")
for tool in ("valgrind", "clang", "chromium", "heaptrack", "g++"):
    check(tool not in demo and tool in test, f"{tool}: installed for the tests only")
for need in ("gcc", "libc6-dev", "binutils", "meson", "ninja-build", "uthash-dev", "libdw-dev"):
    check(need in demo, f"{need}: installed to build")
scripts = {n: open(os.path.join(ROOT, "scripts", n)).read() for n in ("demo", "test")}
check(re.search(r"^install_packages$", scripts["demo"], re.M), "scripts/demo installs the build's packages only")
check(re.search(r"^install_packages test$", scripts["test"], re.M), "scripts/test installs the tests' too")

# Installing: the README says how wslalloc gets onto PATH.
check("meson install -C build" in readme and "--prefix" in readme, "README: meson install with a prefix")

# doctor probes pinned memory only when asked; README and --help say so.
h = subprocess.run([TOOL, "doctor", "--help"], capture_output=True, text=True).stdout
check("pinned\nhost memory only with --pinned" in h, f"doctor --help: pinned memory only with --pinned: {h}")
check("doctor --pinned" in readme and not re.search(r"doctor --target[^\n]*pinned", readme),
      "README: doctor's pinned probe needs --pinned")

# The demo's sample is what the demo prints: the program, the first aid and
# the report, alike but for pids, times, paths and the machine.
m = re.search(r"```text\n(== An 8 GiB GPU.*?)```", readme, re.S)
check(m is not None, "README has the demo's output")
sample = m.group(1) if m else ""
rec_dir = tempfile.mkdtemp()


def demo_env(rec_dir):
    """The demo's: scripts/demo's simulated GPU, with its NVML naming the browser."""
    env = env_for("cuda13", True, {"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500",
                                   "WSLSIM_NVML_PROCS": "7311:chrome:1536M:g"}, rec_dir=rec_dir)
    nvml = os.environ.get("WSLA_SIM_NVML")
    if nvml:
        env["LD_LIBRARY_PATH"] += ":" + nvml
    return env


r = subprocess.run([os.path.join(CLIENTS, "llm_like")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   text=True, timeout=120,
                   env=demo_env(rec_dir))
recs = [os.path.join(rec_dir, f) for f in os.listdir(rec_dir) if f.endswith(".wsla")]
report = subprocess.run([TOOL, "report", *recs[:1]], capture_output=True, text=True).stdout
build = os.path.dirname(os.path.dirname(CLIENTS))


def normal(text, paths):
    """The lines that do not depend on the run: no pid, time, path or machine."""
    for old, new in paths:
        text = text.replace(old, new)
    pid = re.search(r"\(pid (\d+)\)", text)
    if pid:
        text = re.sub(rf"\b{pid.group(1)}\b", "PID", text)
    text = re.sub(r"\d+\.\d+ s\b", "T s", text)
    text = re.sub(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "started DATE", text)
    text = re.sub(r"\+0x[0-9a-f]+", "+0x", text)  # code offsets differ between builds
    text = re.sub(r"^Machine .*$", "Machine", text, flags=re.M)
    return [l for l in text.splitlines()
            if l.strip() and not l.startswith("== ") and not l.startswith("scripts/demo: line")]


want = normal(sample, [("/home/me/wslalloc/build/demo", "RECS"), ("/home/me/wslalloc/build", "BUILD")])
got = normal(r.stdout + report, [(rec_dir, "RECS"), (build, "BUILD")])
for i, (w, g) in enumerate(zip(want, got)):
    if not equal(g, w, f"README's demo sample, line {i + 1} of the compared lines"):
        break
equal(len(got), len(want), "README's demo sample: as many lines as the real output")
finish()
