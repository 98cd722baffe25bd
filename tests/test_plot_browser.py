"""wslalloc plot's HTML in a real headless Chromium: it renders, offline, with this process's, the others' and the free memory drawn."""
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

from harness import *


def read_png(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file")
    at, idat, w = 8, b"", 0
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            equal((depth, colour in (2, 6)), (8, True), "8-bit RGB(A)")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


browser = shutil.which("chromium") or shutil.which("chromium-browser")
check(browser is not None, "Chromium is installed (scripts/test installs Debian's chromium)")
r = run("llm_like", env={"WSLSIM_MEM": "8G", "WSLSIM_FOREIGN": "1536M@500"})
d = tempfile.mkdtemp()
page = os.path.join(d, "plot.html")
p = subprocess.run([TOOL, "plot", r.recordings()[0], "-o", page], capture_output=True, text=True)
equal(p.returncode, 0, f"plot: status ({p.stderr})")
shot = os.path.join(d, "shot.png")
# No network: every host resolves nowhere, so a page that needed one would
# show it as missing pieces.
b = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={d}/profile",
                    "--window-size=1200,800", f"--screenshot={shot}", "file://" + page],
                   capture_output=True, text=True, timeout=120)
check(os.path.exists(shot), f"Chromium took a screenshot (status {b.returncode}): {b.stderr[-400:]}")
w, h, rows = read_png(shot)
equal((w, h), (1200, 800), "the window's size")
pixels = [px for row in rows for px in row]
white = sum(1 for px in pixels if px == (255, 255, 255))
check(white < 0.9 * len(pixels), f"not blank: {white} of {len(pixels)} pixels white")


def near(px, rgb, tol=24):
    return all(abs(a - b) <= tol for a, b in zip(px, rgb))


# The others' 1.5 GiB is seen only at the failure, so its band is narrow.
for name, rgb, least in (("this process (blue)", (0x3b, 0x6f, 0xd8), 50000),
                         ("others (orange)", (0xe8, 0x90, 0x3a), 300),
                         ("free (green)", (0xcf, 0xe8, 0xc9), 20000)):
    n = sum(1 for px in pixels if near(px, rgb))
    check(n > least, f"{name} drawn: {n} pixels")
# What the memory was for: the weights' line (the first purpose, purple)
# and the KV cache's (teal), with their names.
for name, rgb in (("the weights' line", (0x6a, 0x1b, 0x9a)), ("the KV cache's line", (0x00, 0x83, 0x8f))):
    n = sum(1 for px in pixels if near(px, rgb, 16))
    check(n > 400, f"{name} drawn: {n} pixels")
red = sum(1 for px in pixels if px[0] > 180 and px[1] < 80 and px[2] < 80)
check(red > 100, f"the OOM's red line drawn: {red} pixels")
finish()
