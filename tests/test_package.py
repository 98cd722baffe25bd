"""scripts/package: the .deb holds the library, the tool, the headers, the pkg-config file and the man page; installed into a scratch root, its tool runs and its library records a run on the simulated GPU."""
import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import SANITIZER_RT, TOOL, check, env_for, equal, finish, report_json, skip

if SANITIZER_RT:
    skip("the package is a plain release build; the sanitizer trees need not make it twice")
for prog in ("dpkg-deb", "dpkg", "meson"):
    if not shutil.which(prog):
        skip(f"{prog} is not installed")

ROOT = os.environ["WSLA_SOURCE_ROOT"]
MiB = 1 << 20
with open(os.path.join(ROOT, "meson.build")) as f:
    VERSION = re.search(r"version:\s*'([^']+)'", f.read()).group(1)
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()

# Its own build stays in the build tree, so that a second run is quick.
out = os.path.join(os.path.dirname(os.path.dirname(TOOL)), "package")
p = subprocess.run([os.path.join(ROOT, "scripts", "package"), out], capture_output=True,
                   text=True, timeout=1200)
equal(p.returncode, 0, f"scripts/package exit status ({p.stdout[-2000:]} {p.stderr[-2000:]})")
deb = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
equal(os.path.basename(deb), f"wslalloc_{VERSION}_{ARCH}.deb", "the package's file name")
if not os.path.isfile(deb):
    finish()

listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
paths = {line.split()[-1] for line in listing.splitlines() if line.strip()}
multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
libdir = f"./usr/lib/{multiarch}" if multiarch else "./usr/lib"
for want in (f"{libdir}/libwslalloc.so", "./usr/bin/wslalloc", f"{libdir}/pkgconfig/wslalloc.pc",
             "./usr/include/wslalloc/format.h", "./usr/include/wslalloc/options.h",
             "./usr/share/man/man1/wslalloc.1.gz"):
    check(want in paths, f"the package holds {want}")

fields = {}
for line in subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True).stdout.splitlines():
    if ":" in line and not line.startswith(" "):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
equal((fields.get("Package"), fields.get("Version"), fields.get("Architecture")),
      ("wslalloc", VERSION, ARCH), "the package's name, version and architecture")
depends = fields.get("Depends", "")
check(re.search(r"libc6 \(>= 2\.\d+\)", depends) and re.search(r"libdw1 \(>= [0-9.]+\)", depends),
      f"it depends on libc6 and libdw1 with versions: {depends!r}")

# Installed into a scratch root.
scratch = tempfile.mkdtemp(prefix="wsla-deb-")
equal(subprocess.run(["dpkg", "-x", deb, scratch]).returncode, 0, "dpkg -x")
tool = os.path.join(scratch, "usr/bin/wslalloc")
lib = os.path.join(scratch, libdir[2:], "libwslalloc.so")
v = subprocess.run([tool, "--version"], capture_output=True, text=True)
check(v.returncode == 0 and v.stdout.startswith(f"wslalloc {VERSION},"),
      f"the installed wslalloc --version: {v.stdout!r} {v.stderr!r}")
pc = open(os.path.join(scratch, libdir[2:], "pkgconfig/wslalloc.pc")).read()
check(f"\npreload={libdir[1:]}/libwslalloc.so\n" in pc and "prefix=/usr\n" in pc,
      f"the pkg-config file names the installed library under /usr: {pc!r}")

# The installed tool's run preloads the installed library (it finds it
# beside itself; the shell says which), and that records the run on the
# simulated GPU: crash exit holds 80 MiB at its end, 112 MiB at its peak.
rec_dir = tempfile.mkdtemp(prefix="wsla-deb-rec-")
env = env_for("cuda13", False, rec_dir=rec_dir)
crash = os.path.join(harness.CLIENTS, "crash")
r = subprocess.run([tool, "run", "--", "sh", "-c", f'echo "$LD_PRELOAD"; exec {crash} exit'],
                   env=env, capture_output=True, text=True, timeout=120)
equal(r.returncode, 3, f"the client's own status through the installed run ({r.stderr})")
equal(r.stdout.splitlines()[:1], [os.path.realpath(lib)], "the installed run preloads the installed library")
recs = [os.path.join(rec_dir, f) for f in os.listdir(rec_dir) if f.endswith(".wsla")]
equal(len(recs), 1, "one recording from the installed library")
if recs:
    dev = (report_json(recs[0]).get("devices") or [{}])[0]
    equal((dev.get("live_bytes"), dev.get("peak_bytes")), (80 * MiB, 112 * MiB),
          "the installed library's account of the run")
    rep = subprocess.run([tool, "report", recs[0]], capture_output=True, text=True)
    check(rep.returncode == 0 and "Ended     exited with status 3" in rep.stdout,
          f"the installed tool reports it: {rep.stdout[:400]!r}")
shutil.rmtree(scratch, ignore_errors=True)
finish()
