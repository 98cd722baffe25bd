"""WSLALLOC_KEEP: a new recording deletes the oldest of ended processes beyond the number kept; never a running one's, nor anything not a recording."""
import os
import subprocess
import tempfile
import time

from harness import *

d = tempfile.mkdtemp()
env = {"WSLALLOC_DIR": d, "WSLALLOC_KEEP": "3"}


def recordings():
    return sorted(f for f in os.listdir(d) if f.endswith(".wsla"))


# Not recordings: a text file named like one, and a link to a recording
# elsewhere. Neither may be touched.
with open(os.path.join(d, "notes.wsla"), "w") as f:
    f.write("not a recording\n" * 400)
elsewhere = run("crash", ["exit"]).recordings()[0]
os.symlink(elsewhere, os.path.join(d, "link.wsla"))

# A process still running when the others prune: its recording stays.
runner = subprocess.Popen([os.path.join(CLIENTS, "crash"), "kill"], env=env_for("cuda13", True, env, d),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
equal(runner.stdout.readline().strip(), "ready", "the long-running client started")
running = [f for f in recordings() if f.startswith("crash.")]
check(len(running) == 1, f"its recording: {running}")
running = running[0] if running else ""

made = []
for i in range(6):
    before = set(recordings())
    subprocess.run([os.path.join(CLIENTS, "crash"), "exit"], env=env_for("cuda13", True, env, d),
                   capture_output=True)
    made += sorted(set(recordings()) - before)
pids = made
crashes = sorted(f for f in recordings() if f.startswith("crash.") and f != running)
# The sixth run pruned to three ended ones besides its own: four in all.
equal(len(crashes), 4, f"three ended recordings kept, and the newest one's own: {crashes}")
check(all(p in crashes for p in pids[-4:]), f"the newest kept: {pids[-4:]} in {crashes}")
check(running in recordings(), f"the running process's recording stays: {running}")
# Killed, it never wrote its end: the next recording finds it gone, and it
# is the oldest.
runner.kill()
runner.wait(timeout=30)
subprocess.run([os.path.join(CLIENTS, "crash"), "exit"], env=env_for("cuda13", True, env, d),
               capture_output=True)
check(running not in recordings(), f"once killed, its recording is pruned as the oldest: {recordings()}")
check(os.path.exists(os.path.join(d, "notes.wsla")), "a file that is not a recording stays")
check(os.path.islink(os.path.join(d, "link.wsla")) and os.path.exists(elsewhere),
      "a link stays, and what it points at")

# WSLALLOC_KEEP=0 keeps everything.
for i in range(3):
    subprocess.run([os.path.join(CLIENTS, "crash"), "exit"],
                   env=env_for("cuda13", True, {**env, "WSLALLOC_KEEP": "0"}, d), capture_output=True)
equal(len([f for f in recordings() if f.startswith("crash.")]), 4 + 3, "WSLALLOC_KEEP=0: nothing deleted")
finish()
