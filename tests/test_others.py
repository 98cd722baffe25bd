"""Other programs on the GPU: NVML's lists at an OOM, under WDDM, and the Windows side through `wslalloc run`, on fakes of the documented formats."""
import os
import shutil
import stat
import subprocess
import tempfile
import time

from harness import *

NVML = os.environ.get("WSLA_SIM_NVML")
if not NVML:
    skip("built without nvml.h")
NVML_OLD = os.environ["WSLA_SIM_NVML_OLD"]
FAKE_WIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim", "windows",
                        "fake_windows.py")
GIB = 1 << 30
PROCS = "1234:chrome:2G:g,5678:blender:1G"
# NVML's pids are this /proc's only in the initial pid namespace.
INITIAL_NS = os.readlink("/proc/self/ns/pid") == f"pid:[{0xEFFFFFFC}]"


def libs(nvml=NVML):
    return ":".join(SIM["cuda13"] + [nvml])


def others_of(rep):
    return [(o["label"], o["bytes"]) for o in rep["ooms"][0]["others"]]


def text_report(path):
    return subprocess.run([TOOL, "report", path], capture_output=True, text=True,
                          timeout=120).stdout


# --- NVML at the OOM: "chrome" 2 GiB (graphics list), "blender" 1 GiB ---
env = {"LD_LIBRARY_PATH": libs(), "WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "3G@0",
       "WSLSIM_NVML_PROCS": PROCS}
r = run("llm_like", env=env)
rep = r.report()
if INITIAL_NS:
    equal(others_of(rep), [("chrome", 2 * GIB), ("blender", GIB)],
          "the OOM record keeps NVML's others, largest first")
    equal([o["name_from"] for o in rep["ooms"][0]["others"]], ["nvml", "nvml"],
          "names from nvmlSystemGetProcessName")
    first_aid = r.err[r.err.rfind("ran out of GPU memory"):]
    check("others hold 3.00 GiB: chrome 2.00 GiB, blender 1.00 GiB\n" in first_aid,
          f"the first aid names them with their sizes: {first_aid}")
    fix = next((l for l in first_aid.splitlines() if "likely fix" in l), "")
    check("(chrome 2.00 GiB, blender 1.00 GiB): close those" in fix,
          f"the likely fix names them: {fix}")
    check("(chrome 2.00 GiB, blender 1.00 GiB)" in rep["ooms"][0]["diagnosis"],
          f"and the report's diagnosis: {rep['ooms'][0]['diagnosis']}")
    text = text_report(r.recordings()[0])
    check("others on the device (NVML, right after): 3.00 GiB in 2 programs" in text,
          f"report text: the others' line: {text}")
    check(any(l.split()[:3] == ["1234", "chrome", "2.00"] for l in text.splitlines()) and
          any(l.split()[:3] == ["5678", "blender", "1.00"] for l in text.splitlines()),
          "report text: a line per other, pid, name and size")
equal(rep["ooms"][0]["others_source"]["listed_bytes"], 3 * GIB, "the listed bytes summed")
equal(rep["ooms"][0]["others_source"]["source"], "nvml", "source named")

# NVML lists this process too: it is not one of its own others.
selfish = run("llm_like", env={**env, "WSLSIM_NVML_PROCS": "self:llm_like:4G," + PROCS}).report()
if INITIAL_NS:
    equal([n for n, _ in others_of(selfish)], ["chrome", "blender"], "this process is left out")
    equal(selfish["ooms"][0]["others_source"]["listed_bytes"], 3 * GIB, "and not summed")

# Refused by WSLALLOC_LIMIT, not the device: the others are beside the point.
limited = run("llm_like", env={**env, "WSLALLOC_LIMIT": "4G"}).report()["ooms"][0]
equal((limited["cause"], limited["others"]), ("limit", None), "a limit's refusal lists no others")

# An older driver: the plain (v1) ABI of the lists, the same answer.
old = run("llm_like", env={**env, "LD_LIBRARY_PATH": libs(NVML_OLD)}).report()
equal([b for _, b in others_of(old)], [2 * GIB, GIB], "the plain ABI's lists read alike")

# Names: NVML cannot name one whose /proc entry exists (this test's own
# pid stands in) nor one that has gone.
gone = 4194303  # above any pid_max: never running
named = run("llm_like", env={**env, "WSLSIM_NVML_PROCS": f"{os.getpid()}:-:1G,{gone}:-:512M"}).report()
if INITIAL_NS:
    equal([(o["name"], o["name_from"], o["exited"]) for o in named["ooms"][0]["others"]],
          [(open(f"/proc/{os.getpid()}/comm").read().strip(), "proc", False), (None, None, True)],
          "a name from /proc/PID/comm where NVML has none; a gone pid is said to have exited")

# Per device: an OOM on device 1 lists device 1's others only.
multi = run("multidev", env={**env, "WSLSIM_DEVICES": "2", "WSLSIM_MEM": "1G,300M", "WSLSIM_FOREIGN": "",
                             "WSLSIM_NVML_PROCS": "0/11:zero:64M,1/22:one:32M"}).report()
equal([(o["device"], [x["pid"] for x in o["others"]]) for o in multi["ooms"]], [(1, [22])],
      "the OOM on device 1 names device 1's other")

# A burst of OOMs (four within a second) asks NVML once and keeps the list
# with each of them.
log = os.path.join(tempfile.mkdtemp(prefix="wsla-test-"), "nvml.log")
burst = run("budget", env={**env, "WSLSIM_MEM": "1G", "WSLSIM_FOREIGN": "",
                           "WSLSIM_NVML_LOG": log}).report()
equal([len(o["others"] or []) for o in burst["ooms"]], [2, 2, 2, 2], "each OOM of the burst keeps them")
equal(open(log).read().count("nvmlInit_v2"), 1, "NVML started once for the burst")

# --- WDDM: listed, never a size ---
wddm = run("llm_like", env={**env, "WSLSIM_NVML_WDDM": "1"})
wrep = wddm.report()
equal([o["bytes"] for o in wrep["ooms"][0]["others"]], [None, None], "WDDM: bytes are null")
equal([o["bytes_from"] for o in wrep["ooms"][0]["others"]], ["not available"] * 2,
      "WDDM: said to be not available")
equal(wrep["ooms"][0]["others_source"]["listed_bytes"], 0, "WDDM: nothing summed")
wtext = text_report(wddm.recordings()[0])
lines = [l for l in wtext.splitlines() if "blender" in l or "chrome" in l or "others on" in l]
check(lines and all("size n/a" in l or "not available" in l for l in lines),
      f"WDDM: the report's lines say n/a: {lines}")
check(not any(s in "\n".join(lines) for s in (" 0 B", "EiB", "16.0", "18446744073709551615")),
      "WDDM: no 0 B, no 16 EiB")
if INITIAL_NS:
    check("others on the device, sizes not available: blender, chrome" in wddm.err,
          f"WDDM: the first aid names them without sizes: {wddm.err[-600:]}")
check("(blender" not in wrep["ooms"][0]["diagnosis"], "WDDM: no sizes in the fix")

# --- another pid namespace: sizes kept, names not taken from this /proc ---
if shutil.which("unshare") and subprocess.run(["unshare", "-Urpf", "--mount-proc", "true"],
                                              capture_output=True).returncode == 0:
    ns = run("/usr/bin/unshare", ["-Urpf", "--mount-proc", os.path.join(CLIENTS, "llm_like")],
             env=env).report()
    equal([(o["name"], o["another_pid_namespace"], o["bytes"]) for o in ns["ooms"][0]["others"]],
          [(None, True, 2 * GIB), (None, True, GIB)],
          "another pid namespace: shown as such, not named from this /proc")
    check(ns["ooms"][0]["others"][0]["label"] == "pid 1234 (another pid namespace)",
          f"its label: {ns['ooms'][0]['others'][0]['label']}")

# --- top -n 1, metrics and doctor ask NVML now ---
rec_dir = tempfile.mkdtemp(prefix="wsla-test-")
live_env = env_for("cuda13", True, {**env, "WSLSIM_FOREIGN": ""}, rec_dir)
p = subprocess.Popen([os.path.join(CLIENTS, "crash"), "kill"], env=live_env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
check(p.stdout.readline().strip() == "ready", "crash kill: ready")
tool_env = {**live_env}
tool_env.pop("LD_PRELOAD", None)
top = subprocess.run([TOOL, "top", "-n", "1"], env=tool_env, capture_output=True, text=True,
                     timeout=60).stdout
# The recorded process, which NVML lists too, has its own line, not an other's.
ttop = subprocess.run([TOOL, "top", "-n", "1"],
                      env={**tool_env, "WSLSIM_NVML_PROCS": f"{p.pid}:crash:80M," + PROCS},
                      capture_output=True, text=True, timeout=60).stdout
if INITIAL_NS:
    check(not any("other (NVML)" in l and l.split()[0] == str(p.pid) for l in ttop.splitlines()),
          f"top: the recorded process is not listed as an other: {ttop}")
if INITIAL_NS:
    for pid, name, size in (("1234", "chrome", "2.00 GiB"), ("5678", "blender", "1.00 GiB")):
        check(any(l.split()[:2] == [pid, name] and size in l and "other (NVML)" in l
                  for l in top.splitlines()), f"top -n 1 lists {name} with {size}: {top}")
wtop = subprocess.run([TOOL, "top", "-n", "1"], env={**tool_env, "WSLSIM_NVML_WDDM": "1"},
                      capture_output=True, text=True, timeout=60).stdout
check([l for l in wtop.splitlines() if "other (NVML)" in l] and
      all(" n/a " in l for l in wtop.splitlines() if "other (NVML)" in l),
      f"top under WDDM: n/a, not a size: {wtop}")
metrics = subprocess.run([TOOL, "metrics"], env=tool_env, capture_output=True, text=True,
                         timeout=60).stdout
series = [l for l in metrics.splitlines() if l.startswith("wslalloc_other_bytes{")]
if INITIAL_NS:
    equal(series, ['wslalloc_other_bytes{device="0",name="chrome"} %d' % (2 * GIB),
                   'wslalloc_other_bytes{device="0",name="blender"} %d' % GIB,
                   'wslalloc_other_bytes{device="0",name="(rest)"} 0'],
          "metrics: the others by name, the rest summed")
many = ",".join(f"{100 + i}:prog{i}:{i + 1}M" for i in range(12))
mm = subprocess.run([TOOL, "metrics"], env={**tool_env, "WSLSIM_NVML_PROCS": many},
                    capture_output=True, text=True, timeout=60).stdout
mseries = [l for l in mm.splitlines() if l.startswith("wslalloc_other_bytes{")]
equal(len(mseries), 6, f"metrics: 12 others make 5 series and the rest: {mseries}")
if mseries:
    # prog11..prog7 shown (12..8 MiB); the rest of the 12 is 1+..+7 MiB.
    equal(mseries[-1], 'wslalloc_other_bytes{device="0",name="(rest)"} %d' % (28 << 20),
          "metrics: the rest summed exactly")
wm = subprocess.run([TOOL, "metrics"], env={**tool_env, "WSLSIM_NVML_WDDM": "1"},
                    capture_output=True, text=True, timeout=60).stdout
equal([l for l in wm.splitlines() if l.startswith("wslalloc_other_bytes{")], [],
      "metrics under WDDM: no made-up figure")
doc = subprocess.run([TOOL, "doctor"], env=tool_env, capture_output=True, text=True, timeout=120).stdout
check("[ok  ] other programs on the GPU: NVML sees 2 on GPU 0" in doc, f"doctor: {doc}")
p.kill()
p.communicate(timeout=60)


# --- the Windows side, through wslalloc run ---
def windows_dir(kind="fake"):
    d = tempfile.mkdtemp(prefix="wsla-win-")
    for name in ("typeperf.exe", "tasklist.exe"):
        path = os.path.join(d, name)
        if kind == "fake":
            os.symlink(FAKE_WIN, path)
        elif kind == "noexec":
            # What an .exe is to Linux when WSL interop is off: a file the
            # kernel cannot run (ENOEXEC).
            with open(path, "wb") as f:
                f.write(b"MZ\x90\x00" + b"\x00" * 60)
            os.chmod(path, 0o755)
    return d


def win_run(args, kind="fake", extra=None):
    rec = tempfile.mkdtemp(prefix="wsla-test-")
    e = env_for("cuda13", False, {"WSLALLOC_OTHERS": "windows", "WSLSIM_MEM": "8G",
                                  "WSLSIM_FOREIGN": "1536M@0",
                                  "PATH": windows_dir(kind) + ":/usr/bin:/bin", **(extra or {})}, rec)
    t0 = time.monotonic()
    res = subprocess.run([TOOL, "run", "--", *args], env=e, capture_output=True, text=True,
                         timeout=120)
    return res, rec, time.monotonic() - t0


res, rec, _ = win_run([os.path.join(CLIENTS, "llm_like")])
own_status = res.returncode  # llm_like aborts after its OOM, as llama.cpp does
equal(own_status, 128 + 6, "run: the command's own status (SIGABRT)")
recs = sorted(f for f in os.listdir(rec) if f.endswith(".wsla"))
check(len(recs) == 1 and os.path.exists(os.path.join(rec, recs[0] + ".others")),
      f"run keeps the Windows snapshot beside the recording: {os.listdir(rec)}")
if recs:
    side = os.path.join(rec, recs[0] + ".others")
    equal(stat.S_IMODE(os.lstat(side).st_mode), 0o600, "the snapshot file is private")
    wr = report_json(os.path.join(rec, recs[0]))
    o = wr["ooms"][0]
    equal([(x["name"], x["bytes"], x["wsl_vm"], x["exited"]) for x in o["others"]],
          [("vmmemWSL", 5 * GIB, True, False), ("chrome.exe", int(1.10 * GIB), False, False),
           ("dwm.exe", int(0.38 * GIB), False, False), (None, 200 << 20, False, True)],
          "Windows: the adapter of the VM's memory, its programs by Dedicated Usage, the VM "
          "flagged, one gone before naming")
    equal(o["others_source"]["adapter_luid"], "0x00000000_0x000095CA", "the adapter matched")
    equal(o["others_source"]["listed_bytes"], int(1.10 * GIB) + int(0.38 * GIB) + (200 << 20),
          "the VM's share is not an other's")
    check("(chrome.exe 1.10 GiB, dwm.exe 389.1 MiB): close those" in o["diagnosis"],
          f"Windows: the likely cause names them: {o['diagnosis']}")
    check(0 <= o["others_source"]["after_s"] < 30, f"taken after the OOM: {o['others_source']}")
    check("chrome.exe" in res.stderr and "vmmemWSL" in res.stderr,
          f"run's report shows them: {res.stderr[-1500:]}")
    check("explorer.exe" not in res.stderr, "the other adapter's programs are not this GPU's")

# The device's LUID (cuDeviceGetLuid, where the driver answers it) picks
# the adapter exactly, even one the WSL VM holds nothing on; a LUID not
# among the counters, or no LUID and the VM on two adapters, is said, not
# guessed.
for luid, mode, want in (("0x00000000_0x0000C1D2", "normal", ["dwm.exe", "explorer.exe"]),
                         ("0x00000000_0x0000FFFF", "normal", []),
                         (None, "twovm", [])):
    extra = {"WSLSIM_MEM": "2G", "WSLSIM_WIN": mode, **({"WSLSIM_LUID": luid} if luid else {})}
    res, rec, _ = win_run([os.path.join(CLIENTS, "scenario"), "spike"], extra=extra)
    recs = [f for f in os.listdir(rec) if f.endswith(".wsla")]
    if not check(len(recs) == 1, f"scenario spike under run: one recording ({res.stderr[-300:]})"):
        continue
    o = report_json(os.path.join(rec, recs[0]))["ooms"][0]
    equal([x["name"] for x in o["others"]], want, f"LUID {luid}, {mode}: the adapter's programs")
    if not want:
        check(o["others_source"]["status"].startswith("no Windows adapter could be matched"),
              f"LUID {luid}, {mode}: unmatched, and said: {o['others_source']}")
        line = next((l for l in res.stderr.splitlines() if "others on the" in l), "")
        check("not listed" in line and (luid is None or luid in line),
              f"LUID {luid}, {mode}: the report says why: {line}")

# The supervisor catches an OOM as it happens: the client lives on after it.
rec = tempfile.mkdtemp(prefix="wsla-test-")
log = os.path.join(rec, "windows.log")
e = env_for("cuda13", False, {"WSLALLOC_OTHERS": "windows", "WSLSIM_MEM": "8G",
                              "WSLSIM_WIN_LOG": log,
                              "PATH": windows_dir() + ":/usr/bin:/bin"}, rec)
sup = subprocess.Popen([TOOL, "run", "--", os.path.join(CLIENTS, "crash"), "oom-wait"], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
check(sup.stdout.readline().strip() == "ready", "crash oom-wait: ready after its OOM")
sample = None
deadline = time.monotonic() + 30
while time.monotonic() < deadline and not sample:
    for f in os.listdir(rec):
        if f.endswith(".others"):
            lines = open(os.path.join(rec, f)).read().splitlines()
            sample = next((l for l in lines if l.startswith("sample ")), None)
    time.sleep(0.1)
check(sample is not None and sample.split()[2] == "1",
      f"a snapshot for the OOM while the client still runs: {sample}")
child = [int(f.split(".")[-2]) for f in os.listdir(rec) if f.endswith(".wsla")]
for pid in child:
    os.kill(pid, 9)
_, err = sup.communicate(timeout=60)
check("chrome.exe" in err, f"run's report, after the kill, names chrome.exe: {err[-800:]}")

# Interop missing, off, slow or garbled: one line, no hang, no list.
for kind, extra, says in (("none", {}, "typeperf.exe not found: WSL interop is off"),
                          ("noexec", {}, "could not be started: WSL interop is off"),
                          ("fake", {"WSLSIM_WIN": "hang"}, "did not answer within 5.0 s: killed"),
                          ("fake", {"WSLSIM_WIN": "closehang"}, "did not answer within 5.0 s: killed"),
                          ("fake", {"WSLSIM_WIN": "garbage"}, "not the expected output"),
                          ("fake", {"WSLSIM_WIN": "fail"}, "typeperf.exe failed (status 1)")):
    res, rec, took = win_run([os.path.join(CLIENTS, "llm_like")], kind, extra)
    mine = [l for l in res.stderr.splitlines() if l.startswith("wslalloc run: the Windows side")]
    check(len(mine) == 1 and says in mine[0], f"{kind} {extra}: one line saying {says!r}: {mine}")
    check(took < 30, f"{kind} {extra}: no hang ({took:.1f} s)")
    equal(res.returncode, own_status, f"{kind} {extra}: the command's own status")
    recs = [f for f in os.listdir(rec) if f.endswith(".wsla")]
    if recs:
        o = report_json(os.path.join(rec, recs[0]))["ooms"][0]
        check(o["others"] is None or all(x["name"] != "chrome.exe" for x in o["others"]),
              f"{kind}: no Windows list")

# A hostile snapshot file beside a recording: read without trust.
hostile_dir = tempfile.mkdtemp(prefix="wsla-test-")
h = run("llm_like", env={**env, "WSLSIM_NVML_PROCS": ""}, rec_dir=hostile_dir)
for body in (b"wslalloc-others 1\nsample 1 99 7\nadapter 0x0_0x1\nproc 1 65535 18446744073709551615 0 "
             + b"\x1b[31m\xff\xfe" * 40 + b"\n", b"wslalloc-others 1\nsample 1 99 0\nadapter \x1b[2J\n", b"\x00" * 5000, b"wslalloc-others 1\nsample 1 9 0\x00\x00\nadapter 0x1_0x2\x00\nproc 1 1 5 0 a\x00b\n", b"wslalloc-others 1\nsample 1 1 0\n" * 5000):
    path = h.recordings()[0] + ".others"
    with open(path, "wb") as f:
        f.write(body)
    t = subprocess.run([TOOL, "report", "--json", h.recordings()[0]], capture_output=True,
                       timeout=60, errors="strict", text=True)
    equal(t.returncode, 0, f"a hostile snapshot file: report still works ({body[:20]!r})")
    check("\x1b" not in t.stdout, "no control characters from it reach the output")
finish()
