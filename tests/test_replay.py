"""wslalloc replay: a recording or an RMM log re-run on the simulated GPU, under limits and the ladder; its OOMs named, its status telling."""
import json
import os
import subprocess
import tempfile

from harness import *

GiB, MiB = 1 << 30, 1 << 20
rec_run = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
rec = rec_run.recordings()[0]
recorded = rec_run.report()
sim = env_for("cuda13", False, {"WSLSIM_MEM": "8G"})


def replay(*args, env=None):
    p = subprocess.run([TOOL, "replay", *args], capture_output=True, text=True, timeout=120,
                       env={**sim, **(env or {})})
    return p, (json.loads(p.stdout) if "--json" in args and p.stdout.startswith("{") else None)


# On the same card without the browser: it fits; the recorded failure is left out.
p, j = replay(rec, "--json")
equal(p.returncode, 0, f"fits: status 0 ({p.stderr})")
equal(j["ooms"], [], "no OOM")
equal(j["skipped_recorded_failures"], 1, "the recorded failure left out")
equal(j["devices"], [{"device": 0, "peak_bytes": recorded["devices"][0]["peak_bytes"]}],
      "the replayed peak is the recorded peak")
equal(j["host_pinned_peak_bytes"], 512 * MiB, "pinned memory replayed as pinned")
equal(j["calls"], 40, "36 allocations, 3 frees, 1 pinned allocation")
equal(j["frees_without_allocation"], 0, "every free found its allocation")
check({t["api"] for t in j["timing"]} == {"cudaMalloc", "cudaFree", "cudaMallocHost"}, "time per call by API")

# Reproducing the failure: without the browser the 1 GiB buffer fits.
p, j = replay(rec, "--json", "--failures", "reproduce")
equal((p.returncode, j["ooms"]), (0, []), "the failed request fits on the whole card")
equal(j["devices"][0]["peak_bytes"], 6656 * MiB, "and the peak it would have reached")

# "Does it fit in 6 GiB?": the buffer that failed, named by its event.
p, j = replay(rec, "--json", "--failures", "reproduce", "--limit", "6G")
equal(p.returncode, 3, "out of memory: status 3")
equal(len(j["ooms"]), 1, "one OOM")
o = j["ooms"][0]
equal((o["api"], o["size"], o["device"], o["tid"]), ("cudaMalloc", GiB, 0, recorded["ooms"][0]["tid"]),
      "the OOM's API, size, device and thread")
check(abs(o["time"] - recorded["ooms"][0]["time"]) < 0.01, "and its time in the recording")
equal((o["total_bytes"], o["free_bytes"]), (6 * GiB, 512 * MiB), "the device as the limit shows it")
text, _ = replay(rec, "--failures", "reproduce", "--limit", "6G")
check("event " in text.stdout and "cudaMalloc of 1.00 GiB on device 0" in text.stdout, f"text names it: {text.stdout}")

# 5 GiB: the KV cache already fails, at the start.
p, j = replay(rec, "--json", "--limit", "5G")
equal(p.returncode, 3, "5 GiB: out of memory")
equal((j["ooms"][0]["size"], j["ooms"][0]["time"] < 0.1), (GiB, True), "the KV cache, at the start")

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
equal((p.returncode, j["devices"][0]["peak_bytes"]), (0, recorded["devices"][0]["peak_bytes"]),
      "RMM log: fits, with the same peak")

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
          (0, "HIP", recorded["devices"][0]["peak_bytes"]), "HIP: fits, with the recorded peak")
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
finish()
