#!/usr/bin/env python3
"""Simulated Windows side of WSL interop: typeperf.exe and tasklist.exe (by the name it is run as), printing the formats Microsoft documents.

WSLSIM_WIN says how it behaves: "normal" (the default), "twovm" (the WSL
VM holds memory on both adapters), "garbage", "hang" (never answers), "closehang" (closes its output, then
hangs),
"fail" (exits 1).  WSLSIM_WIN_LOG, when set, gets one line
per run: the program's name and the time, for the tests to see when it ran.

typeperf -sc 1 writes CSV: a header whose first column is "(PDH-CSV 4.0)"
and whose others are counter paths \\\\HOST\\Object(instance)\\Counter, then
one line of values whose first column is the sample's time.  Instances of
GPU Process Memory are named pid_<pid>_luid_<high>_<low>_phys_<n>.  A value
left blank is an instance that went away during the sample.
tasklist /fo csv /nh writes "Image Name","PID","Session Name","Session#","Mem Usage".
"""
import os
import sys
import time

GIB = 1 << 30
MIB = 1 << 20
DGPU = "0x00000000_0x000095CA"  # the adapter the WSL VM uses
IGPU = "0x00000000_0x0000C1D2"  # an integrated GPU beside it
# (pid, image name or None for one that exits between listing and naming,
#  adapter, dedicated bytes or None for a blank value, shared bytes)
PROCS = [
    (9524, "chrome.exe", DGPU, int(1.10 * GIB), 300 * MIB),
    (1432, "dwm.exe", DGPU, int(0.38 * GIB), 100 * MIB),
    (7777, "vmmemWSL", DGPU, 5 * GIB, 0),
    (4242, None, DGPU, 200 * MIB, 0),
    (5150, "Teams.exe", DGPU, None, 0),
    (1432, "dwm.exe", IGPU, 128 * MIB, 64 * MIB),
    (6060, "explorer.exe", IGPU, 64 * MIB, 0),
]


def typeperf():
    heads, values = ['"(PDH-CSV 4.0)"'], ['"11/30/2026 00:35:00.123"']
    for counter in ("Dedicated Usage", "Shared Usage"):
        for pid, _, luid, ded, shared in PROCS:
            heads.append(f'"\\\\DESKTOP-SIM\\GPU Process Memory(pid_{pid}_luid_{luid}_phys_0)\\{counter}"')
            v = ded if counter == "Dedicated Usage" else shared
            values.append('" "' if v is None else f'"{v}.000000"')
    out = "\r\n" + ",".join(heads) + "\r\n" + ",".join(values) + "\r\n"
    out += "Exiting, please wait...\r\nThe command completed successfully.\r\n"
    sys.stdout.write(out)


def tasklist():
    seen = set()
    for pid, name, *_ in PROCS:
        if name and pid not in seen:
            seen.add(pid)
            sys.stdout.write(f'"{name}","{pid}","Console","1","123,456 K"\r\n')
    sys.stdout.write('"System Idle Process","0","Services","0","8 K"\r\n')


def main():
    prog = os.path.basename(sys.argv[0])
    log = os.environ.get("WSLSIM_WIN_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{prog} {time.time():.3f}\n")
    mode = os.environ.get("WSLSIM_WIN", "normal")
    if mode == "hang":
        time.sleep(3600)
    if mode == "closehang":
        os.close(1)
        time.sleep(3600)
    if mode == "fail":
        sys.exit(1)
    if mode == "garbage":
        sys.stdout.write("\x00\xff garbage, not CSV\r\n\"(PDH-CSV\n" * 3)
        return
    if mode == "twovm":
        PROCS.append((7777, "vmmemWSL", IGPU, 256 * MIB, 0))
    typeperf() if prog.startswith("typeperf") else tasklist()


main()
