"""The library's glibc baseline: every version it asks of libc is 2.28 or older, so it preloads into Ubuntu 20.04, Debian 11 and RHEL 8 images."""
import re
import subprocess

from harness import SHIM, check, equal, finish, skip

BASELINE = (2, 28)


def key(v):
    return tuple(int(x) for x in v.split("."))


def main():
    try:
        out = subprocess.run(["objdump", "-T", SHIM], check=True, capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        skip("objdump (binutils) is not installed")
    needed = {}  # symbol -> version, the undefined symbols only
    for line in out.splitlines():
        m = re.search(r"\*UND\*\s+[0-9a-f]+\s+\(?GLIBC_([0-9.]+)\)?\s+(\S+)$", line)
        if m:
            needed[m.group(2)] = m.group(1)
    # The check must see the references at all: the library calls dlvsym
    # (a sanitizer's runtime may take others, such as mmap, unversioned).
    check("dlvsym" in needed and len(needed) >= 10,
          f"objdump -T shows the library's glibc references ({len(needed)} read)")
    above = sorted(f"{s}@GLIBC_{v}" for s, v in needed.items() if key(v) > BASELINE)
    equal(above, [], "glibc versions above 2.28 (add the function to common/glibc_compat.h)")
    # The version requirements (readelf's .gnu.version_r) tell the same from
    # the loader's side: no GLIBC_2.29 or later node is required at all.
    vr = subprocess.run(["readelf", "-V", SHIM], check=True, capture_output=True,
                        text=True).stdout
    nodes = sorted(set(re.findall(r"Name: GLIBC_([0-9.]+)", vr)), key=key)
    check(nodes != [], "readelf -V lists the library's GLIBC version needs")
    equal([n for n in nodes if key(n) > BASELINE], [], "GLIBC version nodes above 2.28")
    # dlopen and pthread_once were in libdl and libpthread before 2.34: the
    # old versions are found there, so the library must load both.
    dyn = subprocess.run(["readelf", "-d", SHIM], check=True, capture_output=True,
                         text=True).stdout
    for lib in ("libdl.so.2", "libpthread.so.0"):
        check(f"[{lib}]" in dyn, f"the library names {lib} (NEEDED)")
    finish()


main()
