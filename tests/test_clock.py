"""One clock per recording: the time-stamp counter where the kernel keeps time with it (or WSLALLOC_CLOCK=tsc), else CLOCK_MONOTONIC; either way the times are nanoseconds that keep the client's own pauses and never run backwards."""
import os
import platform
import struct
import time

from harness import *

FEAT_TSC = 1 << 8
TSC_OFF = 3376 + 8 * 16  # format.h: tsc_base, tsc_mult, tsc_hz, tsc_calibration_ns


def cpu_has_invariant_tsc():
    if platform.machine() != "x86_64":
        return False
    flags = open("/proc/cpuinfo").read()
    return " constant_tsc" in flags and " nonstop_tsc" in flags


def kernel_clock():
    try:
        return open("/sys/devices/system/clocksource/clocksource0/current_clocksource").read().strip()
    except OSError:
        return ""


def recorded(mode):
    """The scenario client's 'healthy' run: ten compute buffers, 100 ms apart."""
    began = time.monotonic_ns()
    r = run("scenario", ["healthy"], env={"WSLSIM_MEM": "24G", "WSLALLOC_CLOCK": mode})
    wall = time.monotonic_ns() - began
    equal(r.rc, 0, f"{mode}: the client ran")
    raw = open(r.recordings()[0], "rb").read()
    features = struct.unpack_from("<Q", raw, 24)[0]
    start_mono, end_ns = struct.unpack_from("<q", raw, 152)[0], struct.unpack_from("<q", raw, 176)[0]
    tsc_base, tsc_mult, tsc_hz, calibration = struct.unpack_from("<4Q", raw, TSC_OFF)
    ring_off, event_size, ring_cap = (struct.unpack_from("<Q", raw, 64)[0],
                                      struct.unpack_from("<I", raw, 104)[0],
                                      struct.unpack_from("<Q", raw, 112)[0])
    events = []
    for k in range(ring_cap):
        commit, t, _addr, size, _site, _aux, _tid, _res, typ = struct.unpack_from(
            "<QQQQQQIiH", raw, ring_off + event_size * k)
        if commit:
            events.append((commit, t, typ, size))
    events.sort()
    proc = report_json(r.recordings()[0]).get("process", {})
    return dict(report_clock=proc.get("clock"), report_hz=proc.get("tsc_hz"), features=features, start_mono=start_mono, end_ns=end_ns, tsc_hz=tsc_hz,
                tsc_mult=tsc_mult, calibration=calibration, events=events, wall=wall,
                began=began)


def same_clock_checks(mode, rec):
    ev = rec["events"]
    check(len(ev) > 20, f"{mode}: events recorded ({len(ev)})")
    times = [t for _seq, t, _typ, _size in ev]
    equal(times, sorted(times), f"{mode}: in one thread, times never run backwards")
    # The client pauses 100 ms nine times between its compute buffers (ALLOC
    # events of 256 MiB and up after the 1 GiB KV cache): the span between
    # the first and the last of them holds all nine, and no more time than
    # the process lived.
    ALLOC = 1
    computes = [t for _seq, t, typ, size in ev if typ == ALLOC and size >= 256 << 20][21:]
    equal(len(computes), 10, f"{mode}: ten compute buffers")
    span = computes[-1] - computes[0]
    check(900e6 <= span <= rec["wall"], f"{mode}: the nine 100 ms pauses span {span / 1e6:.1f} ms "
          f"(the whole run took {rec['wall'] / 1e6:.1f} ms)")
    check(times[-1] <= rec["end_ns"], f"{mode}: the end is after the last event")
    # Time 0 is the recording's start on CLOCK_MONOTONIC, the clock Python's
    # monotonic_ns reads: the start lies within the run.
    check(rec["began"] <= rec["start_mono"] <= rec["began"] + rec["wall"],
          f"{mode}: the start is a CLOCK_MONOTONIC time within the run")


mono = recorded("monotonic")
equal(mono["features"] & FEAT_TSC, 0, "monotonic: no TSC in the header")
equal(mono["tsc_mult"], 0, "monotonic: no calibration")
same_clock_checks("monotonic", mono)
equal((mono["report_clock"], mono["report_hz"]), ("monotonic", None), "monotonic: report --json says so")

if cpu_has_invariant_tsc():
    tsc = recorded("tsc")
    equal(tsc["features"] & FEAT_TSC, FEAT_TSC, "tsc: the header says the times came from the TSC")
    equal(tsc["calibration"], 2000000, "tsc: calibrated over 2 ms")
    check(100e6 < tsc["tsc_hz"] < 10e9, f"tsc: a plausible rate ({tsc['tsc_hz']} Hz)")
    # ns = ticks * mult >> 32: the rate and the multiplier say the same.
    check(abs(tsc["tsc_hz"] * tsc["tsc_mult"] / 2**32 / 1e9 - 1) < 1e-6, "tsc: rate and multiplier agree")
    same_clock_checks("tsc", tsc)
    equal((tsc["report_clock"], tsc["report_hz"]), ("tsc", tsc["tsc_hz"]), "tsc: report --json says so")
    auto = recorded("auto")
    uses = kernel_clock() == "tsc"
    equal(bool(auto["features"] & FEAT_TSC), uses,
          f"auto: the TSC exactly where the kernel keeps time with it ({kernel_clock()!r})")
else:
    print("no invariant TSC here: only CLOCK_MONOTONIC is tested")
finish()
