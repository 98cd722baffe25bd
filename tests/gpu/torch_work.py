"""PyTorch workloads for the GPU validation: each prints what PyTorch says it holds, for comparing with the recording."""
import ctypes
import json
import os
import random
import sys
import time

import torch

MiB = 1 << 20


def emit(obj):
    """Prints the result and leaves at once: PyTorch's own teardown must not
    free anything after the figures were taken, so the recording's live
    bytes at exit are the bytes held when they were."""
    print(json.dumps(obj), flush=True)
    sys.stderr.flush()
    os._exit(0)


def stats():
    s = torch.cuda.memory_stats()
    keep = ("num_alloc_retries", "num_ooms", "num_device_alloc", "num_device_free",
            "num_sync_all_streams")
    return {
        "backend": torch.cuda.get_allocator_backend(),
        "reserved": torch.cuda.memory_reserved(),
        "max_reserved": torch.cuda.max_memory_reserved(),
        "allocated": torch.cuda.memory_allocated(),
        "max_allocated": torch.cuda.max_memory_allocated(),
        "stats": {k: s[k] for k in keep if k in s},
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def churn(iterations=1500, live_max=40):
    """Tensors of log-uniform sizes from 4 KiB to 96 MiB, some computed on,
    a bounded number live: the caching allocator splits, caches and grows."""
    rng = random.Random(7)
    live = []
    for i in range(iterations):
        size = int(2 ** rng.uniform(12, 26.6))
        t = torch.empty(size, dtype=torch.uint8, device="cuda")
        t.fill_(i % 251)
        live.append(t)
        if i % 100 == 0:
            live[-1][: min(size, 1 << 16)].float().sum().item()
        while len(live) > live_max or (live and rng.random() < 0.3):
            live.pop(rng.randrange(len(live)))
    torch.cuda.synchronize()
    emit({"mode": "churn", "live_tensors": len(live),
          "live_tensor_bytes": sum(t.numel() * t.element_size() for t in live), **stats()})


def oom(catch):
    """512 MiB tensors until PyTorch raises its out-of-memory error.  Caught,
    the script lets them go and carries on with a smaller tensor."""
    held = []
    try:
        while True:
            held.append(torch.ones(512 * MiB // 4, dtype=torch.float32, device="cuda"))
    except torch.cuda.OutOfMemoryError as e:
        if not catch:
            raise
        message = str(e)
        kind = type(e).__name__
    got = len(held)
    held.clear()
    torch.cuda.empty_cache()
    after = torch.ones(256 * MiB // 4, device="cuda")
    value = float(after.sum().item())
    torch.cuda.synchronize()
    emit({"mode": "oom", "error": kind, "message": message, "tensors_before_oom": got,
          "carried_on": value == 256 * MiB // 4, **stats()})


def physical_chunks(ptr, size, granule=2 * MiB):
    """The physical allocations behind [ptr, ptr + size), asked of the driver."""
    cuda = ctypes.CDLL("libcuda.so.1")
    retain, release = cuda.cuMemRetainAllocationHandle, cuda.cuMemRelease
    retain.argtypes = [ctypes.POINTER(ctypes.c_ulonglong), ctypes.c_void_p]
    release.argtypes = [ctypes.c_ulonglong]
    n, last = 0, None
    for off in range(0, size, granule):
        h = ctypes.c_ulonglong()
        if retain(ctypes.byref(h), ctypes.c_void_p(ptr + off)) != 0:
            return 0
        if h.value != last:
            n += 1
        last = h.value
        release(h.value)
    return n


def stitch():
    """A 300 MiB tensor written by kernels, read back by kernels and by the
    host, with the physical chunks behind it; then given back."""
    torch.cuda.init()
    torch.cuda.synchronize()
    free_before, total = torch.cuda.mem_get_info()
    n = 300 * MiB // 8
    x = torch.arange(n, dtype=torch.int64, device="cuda")
    y = x * 3 + 1
    chunks = physical_chunks(y.data_ptr(), n * 8)
    flipped = torch.flip(y, dims=[0])
    result = {
        "mode": "stitch",
        "chunks": chunks,
        "sum_gpu": int(y.sum().item()),
        "sum_cpu": int(y.cpu().sum().item()),
        "expected": 3 * n * (n - 1) // 2 + n,
        "flip_ok": bool(flipped[0].item() == y[-1].item() and flipped[-1].item() == 1),
    }
    del x, y, flipped
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    free_after, _ = torch.cuda.mem_get_info()
    emit({**result, "free_before": free_before, "free_after": free_after, **stats()})


def train(steps=300):
    """Training steps of a small MLP: the throughput a user would feel."""
    torch.manual_seed(0)
    layers = []
    for _ in range(4):
        layers += [torch.nn.Linear(2048, 2048), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(512, 2048, device="cuda")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    emit({"mode": "train", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
          "loss": float(loss.item()), **stats()})


def alloc_speed(count=20000):
    """Allocation-bound work: with PYTORCH_NO_CUDA_MEMORY_CACHING=1 each tensor
    is a cudaMalloc and a cudaFree, the shim's worst case in PyTorch."""
    for _ in range(200):
        torch.empty(MiB, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(count):
        t = torch.empty(MiB, dtype=torch.uint8, device="cuda")
        del t
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    emit({"mode": "alloc_speed", "count": count, "seconds": seconds,
          "allocs_per_s": count / seconds, **stats()})


if __name__ == "__main__":
    if not torch.cuda.is_available():
        print("no CUDA device for PyTorch", file=sys.stderr)
        sys.exit(77)
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "churn":
        churn()
    elif mode in ("oom", "oom-uncaught"):
        oom(catch=mode == "oom")
    elif mode == "stitch":
        stitch()
    elif mode == "train":
        train()
    elif mode == "alloc_speed":
        alloc_speed()
    else:
        print("usage: torch_work.py churn|oom|oom-uncaught|stitch|train|alloc_speed", file=sys.stderr)
        sys.exit(2)
