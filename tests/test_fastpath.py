"""The fast path records what the general path would: the same events, counters, peaks, live slots and call sites, for each API family, with nothing unusual on and with a setting that sends every call the general way and changes nothing else."""
import struct

from harness import *

SAMPLE, HOST = 5, 1


def events(path):
    """The ring's events by sequence, less what differs from run to run:
    times, threads, device-view samples (taken when the clock says), call
    sites and host addresses (placed anew by each run's ASLR)."""
    raw = open(path, "rb").read()
    ring_off, event_size, ring_cap = (struct.unpack_from("<Q", raw, 64)[0],
                                      struct.unpack_from("<I", raw, 104)[0],
                                      struct.unpack_from("<Q", raw, 112)[0])
    out = []
    for k in range(ring_cap):
        commit, _t, addr, size, site, aux, _tid, res, typ, api, dev, flags = struct.unpack_from(
            "<QQQQQQIiHHhH", raw, ring_off + event_size * k)
        if commit:
            out.append((commit, typ, api, dev, flags, res, 0 if flags & HOST else addr, size, aux))
    out.sort()
    kept = [e[1:] for e in out if e[1] != SAMPLE]
    return kept, sum(1 for e in out if e[1] == SAMPLE)


def summary(path):
    """What report --json derives that does not depend on timing."""
    j = report_json(path)
    devices = [{k: d[k] for k in ("index", "live_bytes", "live_allocs", "peak_bytes", "ooms")}
               for d in j.get("devices", [])]
    totals = {k: v for k, v in j.get("totals", {}).items() if k != "events"}
    failures = [{k: v for k, v in f.items() if k != "first_time"} for f in j.get("failures", [])]
    return dict(totals=totals, by_api=j.get("by_api"), devices=devices,
                host_pinned=j.get("host_pinned"), sites=j.get("sites"), leaks=j.get("leaks"),
                failures=failures, gpus=j.get("environment", {}).get("gpus"))


def compare(client, args, runtime, base):
    # Stacks off, so that no allocation is large enough to keep its stack
    # (that one goes the general way on purpose): every call can go fast.
    fast = run(client, args, runtime, env={**base, "WSLALLOC_STACKS": "0"})
    # A limit above any device (1 PiB, the most it takes) refuses nothing
    # and shapes no memory query, but holds the gate word's BUDGET flag:
    # every call goes the general way.
    general = run(client, args, runtime,
                  env={**base, "WSLALLOC_STACKS": "0", "WSLALLOC_LIMIT": "1024T"})
    equal(general.err.count("wslalloc:"), fast.err.count("wslalloc:"),
          f"{client}: the limit was taken, with no warning")
    equal((fast.rc, fast.out), (general.rc, general.out), f"{client}: the client saw the same")
    ef, sf = events(fast.recordings()[0])
    eg, sg = events(general.recordings()[0])
    check(len(ef) > 10, f"{client}: events recorded ({len(ef)})")
    equal(ef, eg, f"{client}: the same events in the same order")
    check(sf >= 1 and sg >= 1, f"{client}: both took device views ({sf}, {sg})")
    sumf, sumg = summary(fast.recordings()[0]), summary(general.recordings()[0])
    for key in sumf:
        equal(sumf[key], sumg[key], f"{client}: report's {key}")
    # CUDA's first sample notes the GPUs for the report, on either path.
    if runtime != "hip":
        check(sumf["gpus"], f"{client}: the fast run noted the GPUs ({sumf['gpus']})")


compare("llm_like", [], "cuda13", {"WSLSIM_MEM": "24G"})
compare("driver", [], "cuda13", {})
if SIM["hip"][0]:
    compare("hip_transparency", [], "hip", {})

# A memory query before the first allocation takes the first sample; the
# allocations after it, within the sampling period, all go the fast way.
# The driver and GPUs are still noted for the report.
r = run("firsts", ["meminfo-first"])
equal(r.rc, 0, "meminfo-first: exit status")
env = report_json(r.recordings()[0]).get("environment", {})
check(env.get("cuda_driver_version", 0) > 0 and len(env.get("gpus", [])) == 1,
      f"meminfo-first: the driver and the GPU noted: {env}")
finish()
