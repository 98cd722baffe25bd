"""Usage errors: one line naming what the user gave, one line pointing at --help, status 2, for every command."""
import os
import subprocess
import tempfile

from harness import *

d = tempfile.mkdtemp()
env = {**os.environ, "WSLALLOC_DIR": d}


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=60, env=env)


def usage_error(args, cmd, first):
    """args must fail with status 2, nothing on stdout, and exactly the two lines."""
    r = tool(*args)
    equal(r.returncode, 2, f"{args}: status")
    equal(r.stdout, "", f"{args}: nothing on stdout")
    lines = r.stderr.splitlines()
    want_cmd = f"wslalloc {cmd}" if cmd else "wslalloc"
    equal(lines, [f"{want_cmd}: {first}", f"try '{want_cmd} --help'"], f"{args}: the two lines")


COMMANDS = ["report", "run", "ls", "metrics", "top", "replay", "bench", "export", "plot", "doctor", "service"]

# A bogus flag, long and short, in every command: getopt's own message
# would name "report" (argv[0] of the command), not "wslalloc report".
for cmd in COMMANDS:
    usage_error([cmd, "--bogus"], cmd, "unknown option '--bogus'")
    usage_error([cmd, "-Z"], cmd, "unknown option '-Z'")
    q = tool(cmd, "--help")
    check(q.returncode == 0 and q.stdout.startswith(f"usage: wslalloc {cmd}"), f"{cmd} --help")
    h = tool("help", cmd)
    check(h.returncode == 0 and h.stdout == q.stdout, f"help {cmd} is {cmd} --help")

# The issue's own case: at most three lines.
r = tool("report", "--bogus")
check(r.returncode == 2 and len(r.stderr.splitlines()) <= 3, f"report --bogus: {r.stderr!r}")

# An option without its value, and a value given to one that takes none.
usage_error(["plot", "-o"], "plot", "option '-o' needs a value")
usage_error(["run", "--limit"], "run", "option '--limit' needs a value")
usage_error(["ls", "--json=yes"], "ls", "option '--json' takes no value")

# Each error names what the user gave.
usage_error(["plot", "-o", d], "plot", f"-o {d}: the file's name must end in .svg or .html")
usage_error(["plot", "-o", "x.svg", "--from", "soon"], "plot", "--from soon: not a number of seconds")
usage_error(["ls", "extra"], "ls", "takes no arguments, not 'extra'")
usage_error(["report", "a", "b"], "report", "one FILE at most, not 'b' too")
usage_error(["top", "-d", "0"], "top", "-d wants seconds from 0.1 to 3600, not '0'")
usage_error(["bench", "--runtime", "opencl"], "bench", "--runtime cuda or hip, not opencl")
usage_error(["run", "--lib", "/nonexistent.so", "--", "true"], "run",
            "--lib /nonexistent.so: No such file or directory")
usage_error(["help", "nonsense"], "help", "no help on 'nonsense': a command's name or 'options'")
usage_error(["help", "options", "--bogus"], "help", "options takes only --markdown, not '--bogus'")
usage_error(["version", "--bogus"], "version", "takes no arguments, not '--bogus'")
v = tool("version", "--help")
check(v.returncode == 0 and v.stdout.startswith("usage: wslalloc version"), "version --help, as the hint says")
usage_error(["nonsense"], None, "unknown command 'nonsense'")
usage_error([], None, "no command given")

# Not a usage error, but the same rule: the user's path, not the tool's
# temporary file beside it.
r = tool("metrics", "-o", "/nonexistent/dir/x.prom")
equal(r.returncode, 1, "metrics -o into a missing folder: status")
equal(r.stderr, "wslalloc metrics: cannot write /nonexistent/dir/x.prom: No such file or directory\n",
      "metrics -o: names the user's path")

# Help itself still works.
r = tool("help", "options", "--markdown")
check(r.returncode == 0 and r.stdout.startswith("| variable |"), "help options --markdown")
r = tool("help")
check(r.returncode == 0 and r.stdout.startswith("usage: wslalloc COMMAND"), "help")
# A value holding a newline is echoed on the one line, escaped.
usage_error(["replay", "x.wsla", "--limit", "6G\nwslalloc: all is well"], "replay",
            "--limit 6G\\nwslalloc: all is well: not a size (such as 16G or 512M)")

finish()
