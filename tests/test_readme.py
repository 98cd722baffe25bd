"""The README's options table is the options table: regenerate it with `wslalloc help options --markdown`."""
import subprocess

from harness import *

readme = open(os.path.join(os.environ["WSLA_SOURCE_ROOT"], "README.md")).read()
table = subprocess.run([TOOL, "help", "options", "--markdown"], capture_output=True,
                       text=True, check=True).stdout
check(table.strip() in readme, "README.md holds the current options table")
for cmd in (["--help"], ["report", "--help"], ["help", "options"], ["version"]):
    p = subprocess.run([TOOL, *cmd], capture_output=True, text=True)
    equal(p.returncode, 0, f"wslalloc {' '.join(cmd)}")
finish()
