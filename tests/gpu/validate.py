#!/usr/bin/env python3
"""Real-GPU validation: the shim under a CUDA C client, PyTorch and llama.cpp, held against what each knows it allocated."""
import argparse
import ctypes
import glob
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import traceback

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MiB = 1 << 20

DEVICE_ALLOC = {"cudaMalloc", "cudaMallocPitch", "cudaMalloc3D", "cudaMallocManaged",
                "cudaMallocAsync", "cudaMallocFromPoolAsync", "cuMemAlloc_v2",
                "cuMemAllocPitch_v2", "cuMemAllocManaged", "cuMemAllocAsync",
                "cuMemAllocFromPoolAsync"}
PINNED_ALLOC = {"cudaMallocHost", "cudaHostAlloc", "cuMemAllocHost_v2", "cuMemHostAlloc"}
SECTIONS = ("client", "stitch", "torch", "bench", "llama")


class Results:
    """Every check and figure, printed as it comes and kept for results.json:
    one run shows every discrepancy, not the first."""

    def __init__(self, out):
        self.out, self.rows = out, []

    def check(self, section, name, ok, detail="", **figures):
        self.rows.append({"section": section, "name": name, "ok": bool(ok), "detail": detail,
                          **figures})
        print(f"{'ok  ' if ok else 'FAIL'} {section}: {name}" +
              (f" ({detail})" if detail and not ok else ""), flush=True)
        return ok

    def equal(self, section, name, actual, expected):
        return self.check(section, name, actual == expected,
                          f"recorded {actual!r}, expected {expected!r}",
                          actual=actual, expected=expected)

    def figure(self, section, name, **figures):
        self.rows.append({"section": section, "name": name, "ok": None, **figures})
        print(f"info {section}: {name}: {json.dumps(figures)}", flush=True)

    def skipped(self, section, why):
        self.rows.append({"section": section, "name": "skipped", "ok": None, "detail": why})
        print(f"skip {section}: {why}", flush=True)

    def save(self, device):
        failed = [r for r in self.rows if r["ok"] is False]
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump({"device": device, "failed": len(failed), "rows": self.rows}, f, indent=1)
        return failed


class Runner:
    """Runs a program bare or under the shim, each run with a recording
    folder of its own, and reads the recording back with the tool."""

    def __init__(self, args, results):
        self.args, self.results = args, results
        self.build = args.build
        self.shim = os.path.join(self.build, "shim", "libwslalloc.so")
        self.tool = os.path.join(self.build, "tools", "wslalloc")
        deps = os.path.join(self.build, "deps")
        self.tool_env = dict(os.environ)
        if os.path.isdir(deps):  # the tool's own libraries, staged beside a carried build
            self.tool_env["LD_LIBRARY_PATH"] = deps + ":" + os.environ.get("LD_LIBRARY_PATH", "")
        self.rec_root = os.path.join(args.out, "recordings")
        os.makedirs(self.rec_root, exist_ok=True)

    def env(self, preload, extra, rec_dir):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("WSLALLOC_"):
                del env[k]
        if self.args.sim:
            env["LD_LIBRARY_PATH"] = self.args.sim_libs + ":" + env.get("LD_LIBRARY_PATH", "")
        # A sanitized build (the test suite's) needs its runtime first, in
        # every process; a real GPU run has none.
        preloads = [os.environ["WSLA_SANITIZER_RT"]] if os.environ.get("WSLA_SANITIZER_RT") else []
        if preload:
            preloads.append(self.shim)
        # Never the user's recordings directory, preloaded or not (a
        # program may preload the library itself, as replay and run do).
        env["WSLALLOC_DIR"] = rec_dir
        if preloads:
            env["LD_PRELOAD"] = ":".join(preloads)
        else:
            env.pop("LD_PRELOAD", None)
        env.update(extra or {})
        return env

    def run(self, name, cmd, preload=True, extra=None, timeout=300):
        rec_dir = os.path.join(self.rec_root, name)
        shutil.rmtree(rec_dir, ignore_errors=True)
        os.makedirs(rec_dir)
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, env=self.env(preload, extra, rec_dir), capture_output=True,
                               text=True, errors="replace", timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout", e.stdout or "", e.stderr or ""
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
            err = err.decode(errors="replace") if isinstance(err, bytes) else err
        with open(os.path.join(rec_dir, "output.txt"), "w") as f:
            f.write(f"$ {' '.join(cmd)}\nexit {rc} after {time.monotonic() - t0:.1f} s\n"
                    f"--- stdout\n{out}\n--- stderr\n{err}\n")
        return Run(self, name, rc, out, err, rec_dir)

    def tool_run(self, args, timeout=120):
        return subprocess.run([self.tool] + args, env=self.tool_env, capture_output=True,
                              text=True, errors="replace", timeout=timeout)


class Run:
    def __init__(self, runner, name, rc, out, err, rec_dir):
        self.runner, self.name, self.rc, self.out, self.err, self.dir = (
            runner, name, rc, out, err, rec_dir)
        self._report = None

    def json_line(self):
        """The last line of stdout that is a JSON object: what the client says."""
        for line in reversed(self.out.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    pass
        return None

    def report(self):
        """The recording's report, kept as text and JSON beside it; the
        recording itself is kept compressed."""
        if self._report is not None:
            return self._report
        recs = sorted(glob.glob(os.path.join(self.dir, "*.wsla")))
        self._report = {}
        if not recs:
            self.runner.results.check(self.name, "a recording was written", False, f"none in {self.dir}")
            return self._report
        # The largest process's recording: a launcher may record too.
        rec = max(recs, key=lambda r: os.path.getsize(r))
        text = self.runner.tool_run(["report", rec])
        js = self.runner.tool_run(["report", "--json", rec])
        with open(os.path.join(self.dir, "report.txt"), "w") as f:
            f.write(text.stdout + text.stderr)
        if js.returncode == 0:
            self._report = json.loads(js.stdout)
            with open(os.path.join(self.dir, "report.json"), "w") as f:
                f.write(js.stdout)
        else:
            self.runner.results.check(self.name, "the report reads the recording", False, js.stderr.strip())
        for r in recs:
            with open(r, "rb") as src, gzip.open(r + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.unlink(r)
        return self._report


def calls(report, names):
    return sum(v["calls"] for k, v in report.get("by_api", {}).items() if k in names)


def device0(report):
    devs = report.get("devices") or [{}]
    return devs[0]


def common_checks(res, section, rep):
    """What must hold in every recording: nothing lost, no free of an
    allocation the shim never saw."""
    t = rep.get("totals", {})
    res.equal(section, "no events lost", t.get("events_lost"), 0)
    res.equal(section, "no free of memory the shim never saw", t.get("untracked_frees"), 0)
    res.equal(section, "no live-table overflow", t.get("live_overflow"), 0)


def memory_comes_back(res, section, bare, shim, when):
    """Free memory before and after, under the shim as in the bare run:
    kernels load lazily and keep their code in device memory, so a run is
    held against the bare run's, not against itself."""
    kept_bare = bare["free_before"] - bare["free_after"]
    kept_shim = shim["free_before"] - shim["free_after"]
    res.check(section, f"memory comes back {when}, as in the bare run",
              abs(kept_shim - kept_bare) <= 2 * MiB,
              f"free memory not back: bare {kept_bare} bytes, shim {kept_shim} bytes")


# ---------------------------------------------------------------- GPU checks

def gpu_present():
    """A device the driver will count, asked as any client would."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        return None, f"no libcuda.so.1 ({e})"
    if cuda.cuInit(0) != 0:
        return None, "cuInit failed: no usable NVIDIA GPU"
    n = ctypes.c_int()
    if cuda.cuDeviceGetCount(ctypes.byref(n)) != 0 or n.value < 1:
        return None, "the driver counts no GPU"
    dev, name = ctypes.c_int(), ctypes.create_string_buffer(256)
    cuda.cuDeviceGet(ctypes.byref(dev), 0)
    cuda.cuDeviceGetName(name, 256, dev)
    ver = ctypes.c_int()
    cuda.cuDriverGetVersion(ctypes.byref(ver))
    return f"{name.value.decode()} (driver CUDA {ver.value // 1000}.{ver.value % 1000 // 10})", None


def build_clients(args, res):
    """The client, built by nvcc against the shared and the static runtime."""
    if args.sim:
        return {"sim": args.client}
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not os.path.exists(nvcc):
        res.skipped("client", "no nvcc")
        return {}
    bins = {}
    os.makedirs(os.path.join(args.out, "bin"), exist_ok=True)
    for runtime in ("shared", "static"):
        exe = os.path.join(args.out, "bin", f"client_{runtime}")
        for arch in (args.arch, "sm_90"):
            cmd = [nvcc, "-x", "cu", "-O2", f"-arch={arch}", f"-cudart={runtime}",
                   os.path.join(HERE, "client.c"), "-o", exe, "-lcuda"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode == 0:
                bins[runtime] = exe
                break
        res.check("client", f"nvcc builds the client ({runtime} runtime)", runtime in bins,
                  p.stderr.strip()[-500:])
    return bins


def client_section(runner, res, bins):
    for variant, exe in bins.items():
        sec = f"client-{variant}"
        bare = runner.run(f"{sec}-bare", [exe, "account"], preload=False)
        shim = runner.run(f"{sec}-shim", [exe, "account"])
        known = bare.json_line()
        if not res.check(sec, "runs bare", bare.rc == 0 and known, f"exit {bare.rc}: {bare.err[-300:]}"):
            continue
        res.check(sec, "same results with and without the shim", shim.json_line() == known,
                  f"bare {known}, shim {shim.json_line()}")
        res.equal(sec, "same exit status", shim.rc, bare.rc)
        if known.get("data_checked"):
            res.equal(sec, "kernels wrote and the host read back every word", known["wrong_words"], 0)
        rep = shim.report()
        if not rep:
            continue
        d = device0(rep)
        res.equal(sec, "device allocation calls", calls(rep, DEVICE_ALLOC), known["device_calls"])
        res.equal(sec, "pinned allocation calls", calls(rep, PINNED_ALLOC), known["pinned_calls"])
        res.equal(sec, "device peak bytes", d.get("peak_bytes"), known["device_peak"])
        res.equal(sec, "device live bytes at exit (the block kept on purpose)", d.get("live_bytes"),
                  known["device_live_at_exit"])
        res.equal(sec, "pinned peak bytes", rep.get("host_pinned", {}).get("peak_bytes"),
                  known["pinned_peak"])
        res.equal(sec, "no failed calls", rep.get("totals", {}).get("failed"), 0)
        leaks = [(l["api"], l["bytes"]) for l in rep.get("leaks", []) if l.get("memory") == "device"]
        res.check(sec, "the kept block is the one leak", [b for _, b in leaks] == [7 * MiB], str(leaks))
        common_checks(res, sec, rep)
        res.figure(sec, "APIs recorded", by_api={k: v["calls"] for k, v in rep.get("by_api", {}).items()},
                   lookups=rep.get("lookups"))


def stitch_section(runner, res, bins):
    size_mib, count, chunk_mib = 300, 3, 64
    want_chunks = -(-size_mib // chunk_mib)
    force = {"WSLALLOC_STITCH": "force", "WSLALLOC_STITCH_MIN": "64M",
             "WSLALLOC_STITCH_CHUNK": f"{chunk_mib}M"}
    for variant, exe in bins.items():
        sec = f"stitch-{variant}"
        args = [exe, "stitch", str(size_mib), str(count)]
        bare = runner.run(f"{sec}-bare", args, preload=False)
        shim = runner.run(f"{sec}-shim", args, extra=force)
        b, s = bare.json_line(), shim.json_line()
        if not res.check(sec, "runs bare and under the shim", b and s and bare.rc == 0,
                         f"bare exit {bare.rc}, shim exit {shim.rc}: {shim.err[-300:]}"):
            continue
        res.equal(sec, "every block stitched from its chunks", s["chunks"], [want_chunks] * count)
        res.figure(sec, "physical allocations behind each block, bare", chunks=b["chunks"])
        res.equal(sec, "kernel sums agree with the bare run", s["sums"], b["sums"])
        if s.get("data_checked"):
            res.equal(sec, "every word read back as written", s["wrong_words"], 0)
        res.equal(sec, "no errors under the shim", s["errors"], 0)
        memory_comes_back(res, sec, b, s, "after the frees")
        rep = shim.report()
        if rep:
            d = device0(rep)
            res.equal(sec, "device peak bytes", d.get("peak_bytes"), s["device_peak"])
            res.equal(sec, "device live bytes at exit", d.get("live_bytes"), 0)
            res.equal(sec, "device allocation calls", calls(rep, DEVICE_ALLOC), s["device_calls"])
            common_checks(res, sec, rep)


def torch_python(args):
    py = args.python or sys.executable
    p = subprocess.run([py, "-c", "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 3)"],
                       capture_output=True, text=True)
    return py if p.returncode == 0 else None


def torch_section(runner, res, args):
    py = torch_python(args)
    if not py:
        res.skipped("torch", "no PyTorch that sees a CUDA device")
        return
    work = os.path.join(HERE, "torch_work.py")
    backends = {
        "caching": {},
        "no-caching": {"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"},
        "expandable": {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"},
        "async": {"PYTORCH_CUDA_ALLOC_CONF": "backend:cudaMallocAsync"},
    }
    for name, extra in backends.items():
        sec = f"torch-{name}"
        r = runner.run(sec, [py, work, "churn"], extra=extra)
        t = r.json_line()
        if not res.check(sec, "churn runs under the shim", r.rc == 0 and t, f"exit {r.rc}: {r.err[-500:]}"):
            continue
        rep = r.report()
        if not rep:
            continue
        d = device0(rep)
        res.figure(sec, "PyTorch's figures", **{k: t[k] for k in t if k != "mode"})
        res.figure(sec, "APIs recorded", by_api={k: v["calls"] for k, v in rep.get("by_api", {}).items()},
                   lookups=rep.get("lookups"), vmm=rep.get("vmm"))
        if name == "async":
            # The pool keeps what PyTorch frees; what is live is what it asked for.
            res.equal(sec, "live bytes = memory_allocated()", d.get("live_bytes"), t["allocated"])
            res.equal(sec, "peak bytes = max_memory_allocated()", d.get("peak_bytes"), t["max_allocated"])
            res.check(sec, "cudaMallocAsync reached the shim",
                      calls(rep, {"cudaMallocAsync", "cudaMallocFromPoolAsync", "cuMemAllocAsync",
                                  "cuMemAllocFromPoolAsync"}) > 0)
        elif name == "no-caching" and not t["reserved"]:
            # Uncached, PyTorch keeps no statistics: each live tensor is one
            # cudaMalloc of its own size.
            res.equal(sec, "live bytes = the live tensors' bytes", d.get("live_bytes"), t["live_tensor_bytes"])
        else:
            res.equal(sec, "live bytes = memory_reserved()", d.get("live_bytes"), t["reserved"])
            res.equal(sec, "peak bytes = max_memory_reserved()", d.get("peak_bytes"), t["max_reserved"])
        if name in ("caching", "no-caching") and "num_device_alloc" in t["stats"]:
            res.equal(sec, "cudaMalloc calls = num_device_alloc", calls(rep, {"cudaMalloc"}),
                      t["stats"]["num_device_alloc"])
            res.equal(sec, "cudaFree calls = num_device_free", rep["by_api"].get("cudaFree", {}).get("calls", 0),
                      t["stats"]["num_device_free"])
        if name == "caching":
            labels = [p["label"] for p in rep.get("purposes", [])]
            res.check(sec, "the large segments' stacks tell PyTorch's allocator",
                      any(l.startswith("PyTorch") for l in labels), str(labels))
        if name == "expandable":
            res.check(sec, "the VMM calls reached the shim through entry-point lookups",
                      calls(rep, {"cuMemCreate"}) > 0 and rep.get("lookups", {}).get("wrapped", 0) > 0,
                      f"cuMemCreate {calls(rep, {'cuMemCreate'})}, lookups {rep.get('lookups')}")
        common_checks(res, sec, rep)

    # Out of memory under a limit well below the card: PyTorch's own error,
    # the process carries on, the recording explains it.
    limit = {"WSLALLOC_LIMIT": "4G"}
    sec = "torch-oom"
    r = runner.run(sec, [py, work, "oom"], extra=limit)
    t = r.json_line()
    if res.check(sec, "runs to the end", r.rc == 0 and t, f"exit {r.rc}: {r.err[-500:]}"):
        res.equal(sec, "PyTorch raised its own error", t["error"], "OutOfMemoryError")
        res.check(sec, "PyTorch's message reads as on a 4 GiB card", "4.00 GiB" in t["message"], t["message"])
        res.check(sec, "the process carried on", t["carried_on"])
        res.check(sec, "no first aid for an OOM the client handled", "wslalloc:" not in r.err, r.err[-500:])
        rep = r.report()
        oom = (rep.get("ooms") or [{}])[0]
        res.check(sec, "the recording holds the OOM", rep.get("totals", {}).get("ooms", 0) >= 1)
        res.check(sec, "the OOM is explained", bool(oom.get("diagnosis")), oom.get("diagnosis", ""))
        res.check(sec, "its stack tells PyTorch's allocator",
                  "PyTorch" in ((oom.get("phase") or {}).get("what") or ""), str(oom.get("stack", [])[:8]))
        res.figure(sec, "the OOM as recorded", message=t["message"], oom={k: oom.get(k) for k in (
            "api", "size", "free_bytes", "total_bytes", "own_bytes", "cause", "diagnosis", "outcome",
            "phase", "stack")})
        if rep:
            common_checks(res, sec, rep)
    sec = "torch-oom-uncaught"
    r = runner.run(sec, [py, work, "oom-uncaught"], extra=limit)
    err = r.err.rstrip()
    res.equal(sec, "exits as Python does on an uncaught error", r.rc, 1)
    res.check(sec, "PyTorch's error is in the output", "OutOfMemoryError" in err, err[-300:])
    first_aid = err.rfind("wslalloc: this process ran out of GPU memory")
    res.check(sec, "first aid ends the output", first_aid > err.rfind("OutOfMemoryError"), err[-1200:])
    res.figure(sec, "the output's end", tail=err[-1500:])

    # Stitched memory under PyTorch: kernels write and read it, the host reads it.
    sec = "torch-stitch"
    force = {"WSLALLOC_STITCH": "force", "WSLALLOC_STITCH_MIN": "64M", "WSLALLOC_STITCH_CHUNK": "64M"}
    bare = runner.run(sec + "-bare", [py, work, "stitch"], preload=False)
    shim = runner.run(sec, [py, work, "stitch"], extra=force)
    b, s = bare.json_line(), shim.json_line()
    if res.check(sec, "runs bare and under the shim", b and s, f"{bare.err[-300:]} {shim.err[-300:]}"):
        res.check(sec, "the tensor spans several physical chunks", s["chunks"] >= 5, f"{s['chunks']} chunks")
        res.equal(sec, "GPU sum", s["sum_gpu"], s["expected"])
        res.equal(sec, "host sum", s["sum_cpu"], s["expected"])
        res.equal(sec, "same sums as bare", (s["sum_gpu"], s["sum_cpu"]), (b["sum_gpu"], b["sum_cpu"]))
        res.check(sec, "a kernel reads it backwards across the chunks", s["flip_ok"])
        memory_comes_back(res, sec, b, s, "after empty_cache")
        rep = shim.report()
        if rep:
            res.equal(sec, "live bytes = memory_reserved()", device0(rep).get("live_bytes"), s["reserved"])
            common_checks(res, sec, rep)

    # Throughput, bare and under the shim, alternated.
    for mode, extra, key in (("train", {}, "steps_per_s"),
                             ("alloc_speed", {"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"}, "allocs_per_s")):
        sec = f"torch-{mode}"
        got = {"bare": [], "shim": []}
        for i in range(args.repeats):
            for kind in ("bare", "shim"):
                r = runner.run(f"{sec}-{kind}-{i}", [py, work, mode], preload=kind == "shim", extra=extra)
                t = r.json_line()
                if t:
                    got[kind].append(t[key])
        if res.check(sec, "every run finished", all(len(v) == args.repeats for v in got.values()), str(got)):
            bare_m, shim_m = statistics.median(got["bare"]), statistics.median(got["shim"])
            res.figure(sec, f"{key}, median of {args.repeats}", bare=bare_m, shim=shim_m,
                       change_percent=round((shim_m / bare_m - 1) * 100, 2), runs=got)


def bench_section(runner, res, args):
    out = os.path.join(args.out, "bench.json")
    env = dict(runner.tool_env)
    if args.sim:
        env["LD_LIBRARY_PATH"] = args.sim_libs + ":" + env.get("LD_LIBRARY_PATH", "")
        if os.environ.get("WSLA_SANITIZER_RT"):
            env["LD_PRELOAD"] = os.environ["WSLA_SANITIZER_RT"]
    else:
        libdirs = [d for d in [args.cudart_dir, "/usr/local/cuda/lib64"] if d and os.path.isdir(d)]
        env["LD_LIBRARY_PATH"] = ":".join(libdirs + [env.get("LD_LIBRARY_PATH", "")])
    p = subprocess.run([runner.tool, "bench", "--iterations", str(args.bench_iterations), "--json", out],
                       env=env, capture_output=True, text=True, timeout=600)
    with open(os.path.join(args.out, "bench.txt"), "w") as f:
        f.write(p.stdout + p.stderr)
    if not res.check("bench", "wslalloc bench runs", p.returncode == 0, p.stderr.strip()[-400:]):
        return
    with open(out) as f:
        b = json.load(f)
    res.check("bench", "bare really bare, shim really preloaded",
              b.get("bare_without_library") and b.get("shim_with_library"))
    res.figure("bench", "cudaMalloc+cudaFree latency (us, median)", latency=b.get("latency"),
               largest_block=b.get("largest_block_bytes"), free=b.get("free_bytes"),
               fragmentation=b.get("fragmentation"))


def llama_section(runner, res, args):
    exe = os.path.join(args.llama_bin or "", "llama-simple")
    if not args.llama_bin or not os.access(exe, os.X_OK):
        res.skipped("llama", "no --llama-bin folder with llama-simple")
        return
    model = os.path.join(args.out, "tiny.gguf")
    gen = [sys.executable, os.path.join(HERE, "make_tiny_gguf.py"), model]
    if args.gguf_py:
        gen += ["--gguf-py", args.gguf_py]
    p = subprocess.run(gen, capture_output=True, text=True)
    if not res.check("llama", "a tiny random model is written", p.returncode == 0, p.stderr[-400:]):
        return
    cmd = [exe, "-m", model, "-n", "16", "-ngl", "99", "Hello world"]
    bare = runner.run("llama-bare", cmd, preload=False)
    res.check("llama", "runs bare", bare.rc == 0, bare.err[-400:])
    base_peak = None
    for name, extra in (("llama-vmm", {}), ("llama-vmm-off", {"WSLALLOC_VMM": "off"})):
        r = runner.run(name, cmd, extra=extra)
        if not res.check(name, "runs under the shim", r.rc == 0, r.err[-400:]):
            continue
        res.check(name, "the same text as bare", r.out == bare.out, f"bare {bare.out[-200:]!r}, shim {r.out[-200:]!r}")
        rep = r.report()
        if not rep:
            continue
        d = device0(rep)
        res.check(name, "device memory recorded", d.get("peak_bytes", 0) > 0, str(d))
        res.figure(name, "what the report shows", peak=d.get("peak_bytes"), live=d.get("live_bytes"),
                   by_api={k: v["calls"] for k, v in rep.get("by_api", {}).items()},
                   vmm=rep.get("vmm"), lookups=rep.get("lookups"), libraries=rep.get("environment", {}).get("gpu_libraries"))
        labels = [p["label"] for p in rep.get("purposes", [])]
        res.check(name, "the stacks tell the weights and the KV cache apart",
                  "llama.cpp: model weights" in labels and "llama.cpp: KV cache" in labels, str(labels))
        res.figure(name, "what the memory was for", purposes=rep.get("purposes"))
        if name == "llama-vmm-off":
            res.check(name, "no VMM pool under WSLALLOC_VMM=off", calls(rep, {"cuMemCreate"}) == 0,
                      str(rep.get("by_api", {}).get("cuMemCreate")))
        common_checks(res, name, rep)
        if base_peak is None:
            base_peak = d.get("peak_bytes")
    if not base_peak:
        return
    name = "llama-limit"
    limit = str(base_peak // 2)
    r = runner.run(name, cmd, extra={"WSLALLOC_LIMIT": limit})
    rep = r.report()
    res.check(name, f"fails under a limit of half its peak ({limit} bytes)", r.rc != 0, f"exit {r.rc}")
    res.check(name, "the recording holds the OOM", rep.get("totals", {}).get("ooms", 0) >= 1)
    oom = (rep.get("ooms") or [{}])[0]
    res.check(name, "the OOM is explained", bool(oom.get("diagnosis")), oom.get("diagnosis", ""))
    res.check(name, "its stack tells the llama.cpp phase",
              "llama.cpp" in ((oom.get("phase") or {}).get("what") or ""), str(oom.get("stack", [])[:10]))
    res.check(name, "first aid ends the output", "wslalloc: this process ran out" in r.err[-2000:], r.err[-1500:])
    res.check(name, "first aid names the phase", "it ran out while llama.cpp" in r.err[-2500:], r.err[-1500:])
    res.check(name, "first aid says what the memory held", "of its large allocations: llama.cpp" in r.err[-2500:],
              r.err[-1500:])
    res.figure(name, "the OOM as recorded", oom={k: oom.get(k) for k in (
        "api", "size", "free_bytes", "total_bytes", "own_bytes", "cause", "diagnosis", "outcome",
        "phase", "stack")})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(HERE, "out"),
                    help="where results.json, reports and recordings go (default $OUT, else tests/gpu/out)")
    ap.add_argument("--build", help="meson build folder with shim/ and tools/ "
                    "(default: build-gpu, then build)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections to run: " + ",".join(SECTIONS))
    ap.add_argument("--arch", default="native", help="nvcc -arch (default native, then sm_90)")
    ap.add_argument("--python", help="the Python with PyTorch (default this one)")
    ap.add_argument("--cudart-dir", help="folder with libcudart.so for bench (default /usr/local/cuda/lib64)")
    ap.add_argument("--repeats", type=int, default=2, help="throughput runs each, bare and shim")
    ap.add_argument("--bench-iterations", type=int, default=1000)
    ap.add_argument("--llama-bin", help="folder with a CUDA build of llama.cpp's llama-simple")
    ap.add_argument("--gguf-py", help="llama.cpp's gguf-py folder, where the gguf package is not installed")
    ap.add_argument("--deadline", type=float, default=0,
                    help="seconds after which sections not yet begun are skipped (default: none)")
    ap.add_argument("--sim", action="store_true", help="on the simulated GPU (CI): needs --client and --sim-libs")
    ap.add_argument("--client", help="with --sim: the client built by the C compiler")
    ap.add_argument("--sim-libs", help="with --sim: the simulated runtime's folders, colon-separated")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        ap.error(f"unknown section(s): {', '.join(sorted(only - set(SECTIONS)))}")
    if args.sim and not (args.client and args.sim_libs):
        ap.error("--sim needs --client and --sim-libs")
    if not args.build:
        args.build = next((os.path.join(ROOT, d) for d in ("build-gpu", "build")
                           if os.path.exists(os.path.join(ROOT, d, "shim", "libwslalloc.so"))), None)
    if not args.build or not os.path.exists(os.path.join(args.build, "tools", "wslalloc")):
        print("validate: no built libwslalloc.so and wslalloc; run tests/gpu/stage.sh, "
              "or name a build with --build", file=sys.stderr)
        return 2

    if args.sim:
        device = "simulated GPU"
    else:
        device, why = gpu_present()
        if not device:
            print(f"SKIP: {why}")
            return SKIP
    os.makedirs(args.out, exist_ok=True)
    print(f"device: {device}\nbuild: {args.build}\nout: {args.out}", flush=True)
    res = Results(args.out)
    runner = Runner(args, res)
    bins = build_clients(args, res) if only & {"client", "stitch"} else {}
    sections = {"client": lambda: client_section(runner, res, bins),
                "stitch": lambda: stitch_section(runner, res, bins),
                "torch": lambda: torch_section(runner, res, args),
                "bench": lambda: bench_section(runner, res, args),
                "llama": lambda: llama_section(runner, res, args)}
    started = time.monotonic()
    for name in SECTIONS:
        if name not in only:
            continue
        spent = time.monotonic() - started
        if args.deadline and spent > args.deadline:
            res.skipped(name, f"past the deadline of {args.deadline} s ({spent:.0f} s spent)")
            continue
        print(f"== {name} ({spent:.0f} s in)", flush=True)
        # A section that breaks is a failed check; the others still run, since
        # time on a GPU is short.
        try:
            sections[name]()
        except Exception:
            res.check(name, "the section ran to its end", False, traceback.format_exc()[-1500:])
        # Saved after each section: a run cut off by a time limit still
        # leaves what it found.
        res.save(device)
    failed = res.save(device)
    checks = sum(r["ok"] is not None for r in res.rows)
    print(f"{checks - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
