"""wslalloc replay: a recording or an RMM log re-run on the simulated GPU, under limits and the ladder; its OOMs named, its status telling."""
import json
import os
import signal
import subprocess
import tempfile
import time
from decimal import Decimal

from harness import *

GiB, MiB = 1 << 30, 1 << 20
rec_run = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
rec = rec_run.recordings()[0]
recorded = rec_run.report()
recorded_oom = recorded["ooms"][0]
# The replays' environment: the simulated card, and a recordings folder of
# their own (env_for gives one), never the user's.
sim = env_for("cuda13", False, {"WSLSIM_MEM": "8G"})
check(sim.get("WSLALLOC_DIR", "").startswith(tempfile.gettempdir()), "replays get a folder of their own")


def replay(*args, env=None):
    p = subprocess.run([TOOL, "replay", *args], capture_output=True, text=True, timeout=120,
                       env={**sim, **(env or {})})
    return p, (json.loads(p.stdout) if "--json" in args and p.stdout.startswith("{") else None)


def exact(text, *keys):
    """A number of JSON text as written, to compare exactly."""
    v = json.loads(text, parse_float=Decimal)
    for k in keys:
        v = v[k]
    return v


# On the same card without the browser: it fits, the failed request
# included (it is part of the workload), and the peak is what the process
# held at the failure plus the request.
p, j = replay(rec, "--json")
equal(p.returncode, 0, f"fits: status 0 ({p.stderr})")
equal(j["ooms"], [], "no OOM")
equal((j["failures"], j["recorded_failures"], j["skipped_recorded_failures"]), ("replayed", 1, 0),
      "the recorded failure replayed by default")
equal(j["devices"], [{"device": 0, "peak_bytes": recorded_oom["own_bytes"] + recorded_oom["size"]}],
      "the replayed peak: what it held at the failure plus the failed request")
equal(j["host_pinned_peak_bytes"], 512 * MiB, "pinned memory replayed as pinned")
equal(j["calls"], 42, "37 allocations, 3 frees, 1 pinned allocation, and the free of the request that failed")
equal(j["frees_without_allocation"], 0, "every free found its allocation")
check({t["api"] for t in j["timing"]} == {"cudaMalloc", "cudaFree", "cudaMallocHost"}, "time per call by API")

# --failures skip: the old answer, with the summary saying what was left out.
p, j = replay(rec, "--json", "--failures", "skip")
equal((p.returncode, j["ooms"], j["failures"], j["skipped_recorded_failures"]), (0, [], "skipped", 1),
      "--failures skip: the recorded failure left out")
equal(j["devices"], [{"device": 0, "peak_bytes": recorded["devices"][0]["peak_bytes"]}],
      "--failures skip: the replayed peak is the recorded peak")
equal(j["calls"], 40, "36 allocations, 3 frees, 1 pinned allocation")
text, _ = replay(rec, "--failures", "skip", "--limit", "6G")
equal(text.returncode, 0, "--failures skip under 6 GiB: fits, since the request that failed is left out")
check("--failures skip: 1 allocation that failed when recorded was left out, so this is not the whole workload"
      in text.stdout, f"--failures skip: the summary says so: {text.stdout}")

# "Would this run have fit in 6 GiB?"  It died holding 5.5 GiB asking for
# 1 GiB more: no, and the request that failed is named by its event.
p, j = replay(rec, "--json", "--limit", "6G")
equal(p.returncode, 3, f"6 GiB, by default: out of memory, status 3 ({p.stderr})")
equal(len(j["ooms"]), 1, "one OOM")
o = j["ooms"][0]
equal((o["api"], o["size"], o["device"], o["tid"]), ("cudaMalloc", GiB, 0, recorded_oom["tid"]),
      "the OOM's API, size, device and thread")
equal((o["purpose"], o["failed_when_recorded"]), ("llama.cpp: compute buffers", True),
      "the compute buffer that failed when recorded")
equal(exact(p.stdout, "ooms", 0, "time"), exact(json.dumps(recorded_oom), "time"),
      "its time in the recording, to the nanosecond")
equal((o["total_bytes"], o["free_bytes"]), (6 * GiB, 512 * MiB), "the device as the limit shows it")
text, _ = replay(rec, "--limit", "6G")
equal(text.returncode, 3, "text: status 3")
at = f"{Decimal(str(recorded_oom['time'])):.3f}"
check(f"at {at} s, thread {recorded_oom['tid']}: cudaMalloc of 1.00 GiB on device 0" in text.stdout and
      "for llama.cpp: compute buffers; it failed when recorded too" in text.stdout,
      f"text names the event (api, size, time {at} s) and what it was for: {text.stdout}")
check("1 allocation that failed when recorded was replayed as part of the workload" in text.stdout,
      "the summary says the failed request was replayed")

# 5 GiB: the KV cache already fails, at the start.
p, j = replay(rec, "--json", "--limit", "5G")
equal(p.returncode, 3, "5 GiB: out of memory")
equal((j["ooms"][0]["size"], j["ooms"][0]["time"] < 0.1, j["ooms"][0]["purpose"],
       j["ooms"][0]["failed_when_recorded"]), (GiB, True, "llama.cpp: KV cache", False),
      "the KV cache, at the start")

# The user's recordings directory is left as it was: twelve replays (one
# that cannot start, one killed) in the folder of the recording being looked
# into leave it byte-for-byte the same, the recording there, and the
# replays' own temporary folders gone.
def snapshot(d):
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


user_dir, private_tmp = rec_run.dir, tempfile.mkdtemp(prefix="tmp-")
before = snapshot(user_dir)
users = {**sim, "WSLALLOC_DIR": user_dir, "WSLALLOC_KEEP": "1", "TMPDIR": private_tmp}
statuses = []
for args in (["--limit", "6G"], ["--limit", "5G"], ["--limit", "8G", "--json"], ["--recover"],
             ["--limit", "6G", "--recover", "--json"], ["--limit", "7G"], ["--limit", "6G", "--failures", "skip"],
             ["--limit", "4G"], ["--recover", "--failures", "skip"], ["--limit", "16G"]):
    statuses.append(subprocess.run([TOOL, "replay", rec, *args], capture_output=True, text=True, timeout=120,
                                   env={**users, "WSLALLOC_RETRY_MS": "50"}).returncode)
equal(statuses, [3, 3, 0, 0, 3, 0, 0, 3, 0, 0], "the ten replays' verdicts")
no_gpu = subprocess.run([TOOL, "replay", rec, "--limit", "6G"], capture_output=True, text=True, timeout=120,
                        env={k: v for k, v in users.items() if k != "LD_LIBRARY_PATH"})
equal(no_gpu.returncode, 1, f"a replay that cannot start: status 1 ({no_gpu.stderr.strip()})")
slow = subprocess.Popen([TOOL, "replay", rec, "--limit", "6G", "--speed", "0.1"], env=users,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
for _ in range(300):  # until it has made its folder: from then on it cleans up
    if os.listdir(private_tmp):
        break
    time.sleep(0.1)
time.sleep(0.5)
slow.send_signal(signal.SIGTERM)
_, slow_err = slow.communicate(timeout=60)
equal(slow.returncode, 128 + signal.SIGTERM, f"a replay stopped by SIGTERM: its status ({slow_err.strip()})")
after = snapshot(user_dir)
equal(sorted(after), sorted(before), "twelve replays: the recordings directory holds the same files")
check(after == before, "twelve replays: every file in it byte-for-byte the same")
equal(os.listdir(private_tmp), [], "the replays' temporary folders are removed")
listed = subprocess.run([TOOL, "ls", "--json"], capture_output=True, text=True, env=users)
equal([os.path.basename(x["exe"]) for x in json.loads(listed.stdout)], ["llm_like"],
      "the recording under investigation survives, alone")

# Comparing recovery settings on a 6 GiB card: the ladder's steps, from the
# replay's own recording; spilling to host memory saves it.
small = {"WSLSIM_MEM": "6G", "WSLALLOC_RETRY_MS": "100", "WSLALLOC_DIR": tempfile.mkdtemp()}
p, j = replay(rec, "--json", "--failures", "reproduce", "--recover", env=small)
equal(p.returncode, 3, "6 GiB card, ladder without spill: still out of memory")
equal([(o["size"], o["outcome"]) for o in j["ladder"]["ooms"]], [(GiB, "failed")], "the ladder tried and failed")
check("trim" in j["ladder"]["ooms"][0]["steps"] and "wait" in j["ladder"]["ooms"][0]["steps"],
      f"its steps: {j['ladder']['ooms'][0]['steps']}")
p, j = replay(rec, "--json", "--failures", "reproduce", "--recover", env={**small, "WSLALLOC_SPILL": "host"})
equal((p.returncode, j["ooms"]), (0, []), "with WSLALLOC_SPILL=host it fits")
equal((j["ladder"]["recovered"], j["ladder"]["ooms"][0]["outcome"]), (1, "recovered"), "recovered by the ladder")
check("spill: worked" in j["ladder"]["ooms"][0]["steps"], f"by spilling: {j['ladder']['ooms'][0]['steps']}")

# RMM's log of the same run replays the same way.
csv_path = os.path.join(tempfile.mkdtemp(), "log.csv")
equal(subprocess.run([TOOL, "export", "--format", "csv", rec, "-o", csv_path]).returncode, 0, "csv export")
p, j = replay(csv_path, "--json", "--limit", "5G")
equal(p.returncode, 3, "RMM log: out of memory too")
equal(j["ooms"][0]["size"], GiB, "RMM log: the same allocation")
p, j = replay(csv_path, "--json")
equal((p.returncode, j["devices"][0]["peak_bytes"]), (0, recorded_oom["own_bytes"] + recorded_oom["size"]),
      "RMM log: fits, with the same peak, its failed request included")

# An RMM log with two streams besides the default: each gets a stream of its
# own, and stream-ordered allocations are replayed stream-ordered.
streams_csv = os.path.join(tempfile.mkdtemp(), "streams.csv")
open(streams_csv, "w").write(
    "Thread,Time,Action,Pointer,Size,Stream\n"
    "1,10:00:00.000000,allocate,0x1000,1048576,0x5555\n"
    "1,10:00:00.000100,allocate,0x2000,2097152,0x6666\n"
    "2,10:00:00.000200,free,0x1000,1048576,0x5555\n"
    "2,10:00:00.000300,allocate,0x3000,4194304,0\n"
    "1,10:00:00.000400,free,0x2000,2097152,0x6666\n"
    "2,10:00:00.000500,free,0x3000,4194304,0\n")
p, j = replay(streams_csv, "--json")
equal(p.returncode, 0, f"streams: status ({p.stderr})")
equal(j["streams"], 2, "two streams created")
equal(j["devices"][0]["peak_bytes"], 6 * MiB, "the peak: 2 MiB on a stream and 4 MiB on the default")
calls = {t["api"]: t["calls"] for t in j["timing"]}
equal(calls, {"cudaMallocAsync": 2, "cudaFreeAsync": 2, "cudaMalloc": 1, "cudaFree": 1},
      "stream-ordered calls on the streams, plain calls on the default")

# On an AMD machine: the same recording on HIP, the limit applied by the
# library's HIP hooks.
if os.environ.get("WSLA_SIM_HIP"):
    hip = env_for("hip", False, {"WSLSIM_MEM": "8G"})
    p, j = replay(rec, "--json", "--runtime", "hip", env=hip)
    equal((p.returncode, j["runtime"], j["devices"][0]["peak_bytes"]),
          (0, "HIP", recorded_oom["own_bytes"] + recorded_oom["size"]),
          "HIP: fits, with the peak the failed request makes")
    p, j = replay(rec, "--json", "--runtime", "hip", "--limit", "5G", env=hip)
    equal((p.returncode, j["ooms"][0]["size"]), (3, GiB), "HIP under 5 GiB: the KV cache fails")

# Speed: the recorded gaps, kept.
p, j = replay(rec, "--json", "--speed", "1")
check(j["seconds"] >= 0.55, f"--speed 1 takes the recorded 0.6 s ({j['seconds']})")

# Bad input: each refused with one line.
for args, status, words in ((["/nonexistent.wsla"], 1, "No such file"),
                            ([rec, "--limit", "lots"], 2, "not a size"),
                            ([rec, "--speed", "0"], 2, "--speed wants"),
                            ([rec, "--failures", "maybe"], 2, "skip or reproduce"),
                            ([rec, "--runtime", "opencl"], 2, "cuda or hip"),
                            ([], 2, "one FILE")):
    p, _ = replay(*args)
    check(p.returncode == status and words in p.stderr, f"replay {args}: status {p.returncode}, {p.stderr.strip()[:120]}")
bad_csv = os.path.join(tempfile.mkdtemp(), "x.csv")
open(bad_csv, "w").write("a,b\n")
p, _ = replay(bad_csv)
check(p.returncode == 1 and "not a wslalloc recording nor an RMM log" in p.stderr, "a CSV that is not RMM's")
p = subprocess.run([TOOL, "replay", rec], capture_output=True, text=True,
                   env={k: v for k, v in sim.items() if k != "LD_LIBRARY_PATH"})
check(p.returncode == 1 and ("cannot allocate here" in p.stderr or "could be loaded" in p.stderr),
      f"no GPU runtime: says so ({p.stderr.strip()[:160]})")
# No verdict from part of a workload.  A ring that lost events: every
# allocation replayed fits, but that is not "it fits" (status 1, said why).
lossy = run("threads", ["4", "400"], env={"WSLALLOC_EVENTS": "1024"}).recordings()[0]
p, j = replay(lossy, "--json", "--limit", "64M")
equal((p.returncode, j["complete"] if j else None), (1, False), f"a ring that lost events: no verdict ({p.stderr})")
check(j and j["events_lost"] > 0, f"the events lost are counted: {j and j['events_lost']}")
p, _ = replay(lossy, "--limit", "64M")
check(p.returncode == 1 and "no verdict: the recording lost" in p.stdout and "WSLALLOC_EVENTS" in p.stdout,
      f"the text says why there is no verdict: {p.stdout!r}")
# A file cut short: the same.
cut = os.path.join(tempfile.mkdtemp(), "cut.wsla")
with open(rec, "rb") as f, open(cut, "wb") as g:
    g.write(f.read(1 << 20))
p, _ = replay(cut, "--limit", "1G")
equal(p.returncode, 1, f"a recording cut short: no verdict ({p.stdout!r})")
check("no verdict" in p.stdout, f"a recording cut short: says so ({p.stdout!r})")
# An RMM log of no allocations is not a workload that fits.
empty_csv = os.path.join(tempfile.mkdtemp(), "empty.csv")
open(empty_csv, "w").write("Thread,Time,Action,Pointer,Size,Stream\n")
p, _ = replay(empty_csv)
equal(p.returncode, 1, f"an empty log: no verdict ({p.stdout!r})")

# RMM rows with a sign where sizes and streams have none, or a time that
# is none, are not RMM's rows: refused, not read as 16 EiB.
for row in ("1,00:00:00.000001,allocate,0x1000,-5,0", "1,00:00:00.000001,allocate,0x1000,64,-1",
            "1,00:99:00.000001,allocate,0x1000,64,0"):
    neg = os.path.join(tempfile.mkdtemp(), "neg.csv")
    open(neg, "w").write("Thread,Time,Action,Pointer,Size,Stream\n" + row + "\n")
    p, _ = replay(neg)
    check(p.returncode == 1 and "is not Thread,Time,Action,Pointer,Size,Stream" in p.stderr,
          f"refused: {row} ({p.returncode}, {p.stderr!r})")

# --speed: a factor that can be waited for, not nan or a stretch past a day.
for bad in ("nan", "inf", "1e-300", "0", "-1", "1e7"):
    p, _ = replay(rec, "--speed", bad)
    equal(p.returncode, 2, f"--speed {bad}: a usage error")
# --limit 0 is no limit, and is not called one.
p, _ = replay(rec, "--limit", "0")
check(p.returncode == 0 and "WSLALLOC_LIMIT" not in p.stdout, f"--limit 0: no limit ({p.stdout[:200]!r})")

finish()
