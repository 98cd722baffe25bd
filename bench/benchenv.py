"""What every benchmark over bench/pair_bench shares: the built files, a clean environment per run, and a temp dir that goes with the run."""
import atexit
import os
import shutil
import tempfile

# Recordings made here go with the run.
tempfile.tempdir = tempfile.mkdtemp(prefix="wsla-bench-")
atexit.register(shutil.rmtree, tempfile.tempdir, ignore_errors=True)

# meson's benchmark() sets these; run by hand, they default to the build in
# the repository's build/ (or $WSLA_BUILD), so that `python3 bench/overhead.py` is the
# whole command.
_BUILD = os.path.abspath(os.environ.get(
    "WSLA_BUILD", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")))
SHIM = os.environ.get("WSLA_SHIM", os.path.join(_BUILD, "shim", "libwslalloc.so"))
BENCH = os.environ.get("WSLA_PAIR_BENCH", os.path.join(_BUILD, "bench", "pair_bench"))
MALLOC_LOOP = os.environ.get("WSLA_MALLOC_LOOP", os.path.join(_BUILD, "bench", "malloc_loop"))
LIBS = os.environ.get("WSLA_SIM_LIBS", ":".join(
    os.path.join(_BUILD, "tests", "sim", d) for d in ("cuda13", "driver")))


def need(*paths):
    """One clear line, not a traceback, when a benchmark's files are not built."""
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"bench: {path} is not built (meson compile -C build, "
                             f"or set WSLA_BUILD to the build directory)")


def plain():
    """The caller's environment without anything that would change what is
    measured: no preload, none of the library's or the simulator's settings."""
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith(("WSLALLOC_", "WSLSIM_"))}


def env(preload, extra=None):
    """pair_bench's environment on the simulated CUDA 13 runtime over the
    simulated driver, each run recording into a fresh directory."""
    e = dict(plain(), LD_LIBRARY_PATH=LIBS, WSLALLOC_DIR=tempfile.mkdtemp(),
             WSLSIM_MEM="64G", **(extra or {}))
    if preload:
        e["LD_PRELOAD"] = SHIM
    return e
