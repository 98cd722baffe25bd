"""The README's options table is the options table: regenerate it with `wslalloc help options --markdown`."""
import subprocess

from harness import *

readme = open(os.path.join(os.environ["WSLA_SOURCE_ROOT"], "README.md")).read()
table = subprocess.run([TOOL, "help", "options", "--markdown"], capture_output=True,
                       text=True, check=True).stdout
check(table.strip() in readme, "README.md holds the current options table")
names = [l.split()[0] for l in subprocess.run([TOOL, "help", "options"], capture_output=True,
                                             text=True, check=True).stdout.splitlines()[1:]]
for name in names:
    check(any(l.split("=")[0] == name or f" {name}=" in l for l in readme.splitlines()
              if "=" in l and "LD_PRELOAD" in l),
          f"README.md has an example for {name}")
for cmd in (["--help"], ["report", "--help"], ["help", "options"], ["version"]):
    p = subprocess.run([TOOL, *cmd], capture_output=True, text=True)
    equal(p.returncode, 0, f"wslalloc {' '.join(cmd)}")
finish()
