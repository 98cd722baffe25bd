"""WSLALLOC_KEEP: a new recording deletes the oldest of ended processes beyond the number kept; never a running one's, nor anything not a recording."""
import json
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

# The other programs `wslalloc run` saw beside a recording lie in a file
# named after it: pruned with it.
made = []
first_sidecar = None
for i in range(6):
    before = set(recordings())
    subprocess.run([os.path.join(CLIENTS, "crash"), "exit"], env=env_for("cuda13", True, env, d),
                   capture_output=True)
    made += sorted(set(recordings()) - before)
    if first_sidecar is None and made:
        first_sidecar = os.path.join(d, made[0] + ".others")
        with open(first_sidecar, "w") as f:
            f.write("snapshot\n")
pids = made
crashes = sorted(f for f in recordings() if f.startswith("crash.") and f != running)
# The sixth run pruned to three ended ones besides its own: four in all.
equal(len(crashes), 4, f"three ended recordings kept, and the newest one's own: {crashes}")
check(all(p in crashes for p in pids[-4:]), f"the newest kept: {pids[-4:]} in {crashes}")
check(running in recordings(), f"the running process's recording stays: {running}")
check(made[0] not in recordings() and not os.path.exists(first_sidecar),
      f"a pruned recording's .others file goes with it: {sorted(os.listdir(d))}")
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
# Liveness comes from the recording itself: its process holds a lock on it
# for its life. A process in another pid namespace records a pid that is
# another process's here (pid 1 in its namespace); its recording must
# survive pruning while it runs, and be judged ended once it is killed.
crash = os.path.join(CLIENTS, "crash")


def ls_json(where):
    r = subprocess.run([TOOL, "ls", "--json"], env={**os.environ, "WSLALLOC_DIR": where},
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"ls --json: {r.stderr}")
    return {os.path.basename(e["recording"]): e for e in json.loads(r.stdout or "[]")}


nsd = tempfile.mkdtemp()
nsenv = {"WSLALLOC_DIR": nsd, "WSLALLOC_KEEP": "1"}
cmd = [crash, "kill"]
namespaced = os.geteuid() == 0 and subprocess.run(
    ["unshare", "-p", "-f", "--kill-child", "--mount-proc", "true"], capture_output=True).returncode == 0
if namespaced:
    cmd = ["unshare", "-p", "-f", "--kill-child", "--mount-proc", *cmd]
held = subprocess.Popen(cmd, env=env_for("cuda13", True, nsenv, nsd), stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
equal(held.stdout.readline().strip(), "ready", "the namespaced client started")
mine = [f for f in os.listdir(nsd) if f.endswith(".wsla")]
check(len(mine) == 1, f"its recording: {mine}")
mine = mine[0] if mine else "none"
path = os.path.join(nsd, mine)
if not namespaced:
    # Without the right to make a pid namespace: the same situation made by
    # hand, a recorded pid that exists here but is not the writer.
    with open(path, "r+b") as f:
        f.seek(124)
        f.write((1).to_bytes(4, "little"))
with open(path, "rb") as f:
    f.seek(124)
    equal(int.from_bytes(f.read(4), "little"), 1, "the recorded pid is another process's here")
for i in range(3):
    subprocess.run([crash, "exit"], env=env_for("cuda13", True, nsenv, nsd), capture_output=True)
check(os.path.exists(path), f"a running process in another pid namespace keeps its recording: {os.listdir(nsd)}")
equal(ls_json(nsd).get(mine, {}).get("end"), "running", "ls: the namespaced process is running")
held.kill()  # SIGKILL; unshare --kill-child passes it on to the namespace
held.wait(timeout=30)
state = None
for i in range(100):
    state = ls_json(nsd).get(mine, {}).get("end")
    if state == "killed":
        break
    time.sleep(0.05)
equal(state, "killed", "ls: killed by SIGKILL, it is judged ended")
subprocess.run([crash, "exit"], env=env_for("cuda13", True, nsenv, nsd), capture_output=True)
check(not os.path.exists(path), f"once killed, the next start prunes it: {os.listdir(nsd)}")

# Failures are kept longer than clean exits: with two kept, clean exits go
# first, oldest first, and a failure only once no clean one is left to go.
# ls says how many went.
fd_ = tempfile.mkdtemp()
fenv = {"WSLALLOC_DIR": fd_, "WSLALLOC_KEEP": "2"}
made = []


def one(client, args):
    before = set(os.listdir(fd_))
    subprocess.run([os.path.join(CLIENTS, client), *args], env=env_for("cuda13", True, fenv, fd_),
                   capture_output=True)
    new = sorted(set(os.listdir(fd_)) - before)
    check(len(new) == 1, f"{client} {args}: one new recording: {new}")
    made.append(new[0] if new else "none")
    return made[-1]


f1 = one("crash", ["segv"])        # died of a signal
f2 = one("crash", ["oom-exit"])    # ran out of memory, status 1
c1 = one("race", ["1", "1"])       # clean
c2 = one("race", ["1", "1"])       # prunes c1, not the older failures
c3 = one("race", ["1", "1"])       # prunes c2
left = set(os.listdir(fd_))
check({f1, f2, c3} <= left and not {c1, c2} & left,
      f"clean exits pruned before older failures: {sorted(left)}")
f3 = one("crash", ["exit"])        # status 3: prunes c3, the last clean one
c4 = one("race", ["1", "1"])       # no clean one left: the oldest failure goes
left = set(os.listdir(fd_))
equal(sorted(left), sorted({f2, f3, c4}), "then the oldest failure")
j = ls_json(fd_)
equal((j.get(f3, {}).get("pruned_clean"), j.get(f3, {}).get("pruned_failed")), (1, 0),
      "ls --json: the failing run's start pruned one clean exit")
equal((j.get(c4, {}).get("pruned_clean"), j.get(c4, {}).get("pruned_failed")), (0, 1),
      "ls --json: the last run's start pruned one failure")
text = subprocess.run([TOOL, "ls"], env={**os.environ, "WSLALLOC_DIR": fd_}, capture_output=True,
                      text=True, timeout=60).stdout
check("pruned: 2 older recordings of ended processes (WSLALLOC_KEEP): 1 clean exit, 1 failure\n" in text,
      f"ls says how many were pruned: {text}")

finish()
