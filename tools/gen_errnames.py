#!/usr/bin/env python3
"""Writes the C tables of GPU error names (cudaError_t, CUresult, hipError_t, nvmlReturn_t) from the installed headers.

Usage: gen_errnames.py OUT.c [--family=NAME,HEADER,ENUM[,CFLAG...]]... -- CC [CC ARGS...]

Each family's header goes through the C preprocessor (so that its include
path, macros and attributes are resolved as the compiler sees them), and the
enum's members are read from the result: the names are the headers' own,
never a list typed here.  A family whose header is missing gets an empty
table, so that the tool builds without the CUDA or HIP headers.  The tables
are sorted by code, for a binary search; where several names share a code
(hipErrorOutOfMemory and hipErrorMemoryAllocation), the first declared wins.
"""
import re
import subprocess
import sys

FAMILIES = ("cudart", "cu", "hip", "nvml")


def members(cc, header, enum, flags):
    src = f"#include <{header}>\n"
    pre = subprocess.run([*cc, *flags, "-E", "-P", "-x", "c", "-"], input=src,
                         capture_output=True, text=True)
    if pre.returncode != 0:
        sys.exit(f"gen_errnames: preprocessing {header} failed:\n{pre.stderr}")
    m = re.search(r"\benum\s+(?:__attribute__\s*\(\(.*?\)\)\s*)?" + re.escape(enum) + r"\s*\{(.*?)\}",
                  pre.stdout, re.S)
    if not m:
        sys.exit(f"gen_errnames: enum {enum} not found in {header}")
    values, out, nxt = {}, {}, 0
    for item in m.group(1).split(","):
        item = item.strip()
        if not item:
            continue
        name, _, expr = (s.strip() for s in item.partition("="))
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            continue
        if expr:
            expr = re.sub(r"^\((.*)\)$", r"\1", expr).strip()
            if re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", expr):
                value = int(expr.rstrip("uUlL"), 0)
            elif expr in values:
                value = values[expr]
            else:
                continue  # an expression this reader does not follow: left out
        else:
            value = nxt
        values[name] = value
        nxt = value + 1
        if not (-2**31 <= value < 2**31):
            continue
        out.setdefault(value, name)
    return sorted(out.items())


def main(argv):
    split = argv.index("--")
    out_path, specs, cc = argv[1], argv[2:split], argv[split + 1:]
    tables = {}
    for spec in specs:
        fam, header, enum, *flags = spec[len("--family="):].split(",")
        if fam not in FAMILIES:
            sys.exit(f"gen_errnames: unknown family {fam}")
        tables[fam] = (header, members(cc, header, enum, flags))
    lines = ["/* The GPU APIs' error names, generated at build time by tools/gen_errnames.py",
             "   from the headers the build found: do not edit. */",
             '#include "tool.h"', ""]
    for fam in FAMILIES:
        if fam in tables:
            header, rows = tables[fam]
            lines.append(f"/* from {header} */")
            lines.append(f"static const struct err_name {fam}_names[] = {{")
            lines += [f'    {{{code}, "{name}"}},' for code, name in rows]
            lines.append("};")
            lines.append(f"const struct err_table err_table_{fam} = {{{fam}_names, {len(rows)}}};")
        else:
            lines.append(f"const struct err_table err_table_{fam} = {{0, 0}}; /* no header */")
        lines.append("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))


main(sys.argv)
