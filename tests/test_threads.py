"""Exact counts: many threads allocating at once, with the ring large or far too small."""
import json
import subprocess
import sys

from harness import *

threads, pairs = int(sys.argv[1]), int(sys.argv[2])
for events in ("262144", "1024"):
    r = run("threads", [str(threads), str(pairs)], env={"WSLALLOC_EVENTS": events})
    equal(r.rc, 0, "threads client exit status")
    want = json.loads(r.out)
    rep = r.report()
    apis = rep["by_api"]
    tag = f"ring of {events}"
    equal(apis["cudaMalloc"]["calls"], want["malloc_calls"], f"{tag}: cudaMalloc calls")
    equal(apis["cudaMalloc"]["bytes"], want["bytes"], f"{tag}: cudaMalloc bytes")
    equal(apis["cudaFree"]["calls"], want["free_calls"], f"{tag}: cudaFree calls")
    equal(apis["cudaMalloc"]["failed"] + apis["cudaFree"]["failed"], 0, f"{tag}: no failures")
    dev = rep["devices"][0]
    equal(dev["live_bytes"], want["live_bytes"], f"{tag}: live bytes")
    equal(dev["live_allocs"], want["live_allocs"], f"{tag}: live allocations")
    check(dev["peak_bytes"] >= want["live_bytes"], f"{tag}: peak covers the live set")
    leaked = sum(l["bytes"] for l in rep["leaks"])
    equal(leaked, want["live_bytes"], f"{tag}: leaks sum to the live bytes")
    total = 2 * want["free_calls"] + want["live_allocs"]
    if events == "1024":
        check(rep["totals"]["events_lost"] > 0, f"{tag}: the ring wrapped")
    else:
        # In sequence order an address is freed before another thread is
        # handed it again: a free's event is claimed before the real free
        # gives the address back.  (The ring has wrapped: frees of addresses
        # allocated before the kept window are not counted.)
        csv = subprocess.run([TOOL, "export", "--format", "csv", "-o", "-", r.recordings()[0]],
                             capture_output=True, text=True).stdout.splitlines()[1:]
        live, reused = set(), 0
        for row in csv:
            _, _, action, ptr, _, _ = row.split(",")
            if action == "allocate":
                reused += ptr in live
                live.add(ptr)
            elif action == "free":
                live.discard(ptr)
        check(len(csv) > 100000, f"{tag}: the events exported ({len(csv)})")
        equal(reused, 0, f"{tag}: no address handed out again before its free, in sequence order")
    check(rep["totals"]["events"] + rep["totals"]["events_lost"] >= total,
          f"{tag}: every event kept or counted lost")
finish()
