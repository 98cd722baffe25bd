"""The one list of hooks (shim/interpose/hooks.def): the exports, the API ids and the README agree with it, and its compile-time checks refuse a list that does not."""
import re
import shutil
import subprocess
import tempfile

from harness import *

ROOT = os.environ["WSLA_SOURCE_ROOT"]
INTERPOSE = os.path.join(ROOT, "shim", "interpose")
DEF = open(os.path.join(INTERPOSE, "hooks.def")).read()

# The entries, one per line (hooks.def says so): kind, then its arguments.
LINE = re.compile(r"^(WSLA_HOOK|WSLA_HOOK_PTSZ|WSLA_CALLS|WSLA_LIBC_HOOK)\(([^()]*)\)\s*$", re.M)
lines = [(m.group(1), [a.strip() for a in m.group(2).split(",")]) for m in LINE.finditer(DEF)]
hooks = {}   # exported name -> (family, api, lookup)
calls = set()
for kind, args in lines:
    if kind in ("WSLA_HOOK", "WSLA_HOOK_PTSZ"):
        family, name, api, lookup = args
        hooks[name] = (family, api, lookup)
        if kind == "WSLA_HOOK_PTSZ":
            hooks[name + "_ptsz"] = (family, api, lookup)
    elif kind == "WSLA_CALLS":
        calls.add(args[1])
    else:
        hooks[args[0]] = ("LIBC", "none", "NOLOOKUP")
# Every entry line was read: no line the preprocessor sees and this does not.
entry_lines = [l for l in DEF.splitlines() if l.startswith("WSLA_")]
equal(len(entry_lines), len(lines), "every entry of hooks.def is on a line of its own")

# 1. The exports: the generated version script holds exactly the hooks.
with open(os.environ["WSLA_EXPORTS_MAP"]) as f:
    text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
body = text.split("global:")[1].split("local:")[0]
mapped = [s.strip() for s in body.split(";") if s.strip()]
equal(sorted(mapped), sorted(hooks), "exports.map is hooks.def's hooks, each once")
check(not calls & set(hooks), "a function the shim only calls is not exported")

# 2. Lookups hand out driver entry points only.
for name, (family, api, lookup) in sorted(hooks.items()):
    check(lookup in ("LOOKUP", "NOLOOKUP"), f"{name}: lookup column is LOOKUP or NOLOOKUP")
    if lookup == "LOOKUP":
        check(family == "CUDA" and re.match(r"cu[A-Z]", name), f"{name}: only driver names are looked up")
check(sum(1 for v in hooks.values() if v[2] == "LOOKUP") >= 30, "the driver's hooks are handed out")

# 3. The API ids: every id of format.h has its line, every line's id is one.
fmt = open(os.path.join(ROOT, "include", "wslalloc", "format.h")).read()
api_list = fmt.split("#define WSLA_API_LIST(X)")[1].split("enum wsla_api")[0]
ids = {name: int(idx) for idx, name in re.findall(r"X\((\d+), (\w+)\)", api_list)}
equal(sorted(ids.values()), list(range(len(ids))), "format.h's API ids are 0..n-1, each once")
recorded = [args[2] for kind, args in lines if kind in ("WSLA_HOOK", "WSLA_HOOK_PTSZ") and args[2] != "none"]
equal(sorted(recorded), sorted(n for n in ids if n != "unknown"),
      "each API id of format.h but unknown is named by exactly one line of hooks.def")
for name, (family, api, lookup) in hooks.items():
    if api != "none":
        check(name == api or name == api + "_ptsz", f"{name} records under its own name ({api})")

# 4. The README's list of wrapped calls.
readme = open(os.path.join(ROOT, "README.md")).read()
section = readme.split("## What is intercepted\n")[1].lstrip("\n").split("\n\n")[0]
check(section.startswith("- "), "README.md's 'What is intercepted' starts with its list")
CALL = re.compile(r"^(cuda|cu|hip|nvml)[A-Z]\w*$|^(dl|f?exec)\w*$")
named = set()
last = ""
for tok in re.findall(r"`([^`]+)`", section):
    m = re.fullmatch(r"(\w+)\((\w+)\)", tok)        # cudaGetDriverEntryPoint(ByVersion)
    if m:
        named |= {m.group(1), m.group(1) + m.group(2)}
        last = m.group(1)
    elif tok.startswith("_") and last:              # cuCtxCreate_v2`/`_v3`, (and the `_ptsz` exports)
        named.add(re.sub(r"_(v\d+|ptsz)$", "", last) + tok)
    elif CALL.match(tok):
        named.add(tok)
        last = tok
# "(and the `_ptsz` exports)" after a list: each _ptsz line of the family.
ptsz = {n for n in hooks if n.endswith("_ptsz") and n[:-5] in named} if "`_ptsz`" in section else set()
named |= ptsz
equal(sorted(set(hooks) - named), [], "every hook of hooks.def is named in README.md's list")
equal(sorted(n for n in named if CALL.match(n) and n not in hooks), [],
      "every call README.md's list names is a hook of hooks.def")

# 5. The compile-time checks refuse a list that disagrees with format.h.
cc = os.environ.get("WSLA_CC", "").split()
if not cc:
    skip("no compiler given (WSLA_CC)")


def compile_check(mutate):
    """hooks_check.c against a changed copy of hooks.def: (status, messages)."""
    d = tempfile.mkdtemp()
    shutil.copy(os.path.join(INTERPOSE, "hooks_check.c"), d)
    with open(os.path.join(d, "hooks.def"), "w") as f:
        f.write(mutate(DEF))
    p = subprocess.run(cc + ["-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                             "-I", os.path.join(ROOT, "include"), os.path.join(d, "hooks_check.c")],
                       capture_output=True, text=True)
    return p.returncode, p.stderr


rc, err = compile_check(lambda s: s)
equal(rc, 0, f"hooks_check.c passes the list as it is: {err}")
rc, err = compile_check(lambda s: s.replace("WSLA_HOOK(CUDART, cudaFree, cudaFree, NOLOOKUP)\n", ""))
check(rc != 0 and "API id cudaFree has no line" in err, "a missing line is refused, naming its id")
rc, err = compile_check(lambda s: s.replace("WSLA_HOOK(HIP, hipFree, hipFree,", "WSLA_HOOK(HIP, hipFree, hipMalloc,"))
check(rc != 0 and "two lines of hooks.def record under one API id" in err,
      "two lines under one id are refused")
rc, err = compile_check(lambda s: s.replace("WSLA_HOOK(CUDA, cuMemMap, cuMemMap,", "WSLA_HOOK(CUDA, cuMemMap, cuMemMapped,"))
check(rc != 0 and "WSLA_API_cuMemMapped" in err, "an id format.h lacks is refused")
rc, err = compile_check(lambda s: s.replace("WSLA_HOOK(CUDART, cudaSetDevice, none,", "WSLA_HOOK(CUDART, cudaSetDevice, unknown,"))
check(rc != 0 and "no hook records under the id 'unknown'" in err, "the id 'unknown' is no hook's")

# WSLA_REAL's library is the list's: a call naming another does not compile.
cuda_inc = os.environ.get("WSLA_CUDA_INCLUDE", "")
if os.path.exists(os.path.join(cuda_inc, "cuda.h")):
    d = tempfile.mkdtemp()
    for lib, ok in (("WSLA_LIB_CUDA", True), ("WSLA_LIB_CUDART", False)):
        src = os.path.join(d, "real_call.c")
        with open(src, "w") as f:
            f.write('#include <cuda.h>\n#include "real.h"\n'
                    f"void *f(void) {{ return (void *)WSLA_REAL({lib}, cuMemAlloc_v2); }}\n")
        p = subprocess.run(cc + ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                                 "-I", cuda_inc, "-I", os.path.join(ROOT, "include"),
                                 "-I", os.path.join(ROOT, "shim", "core"), "-I", INTERPOSE, src],
                           capture_output=True, text=True)
        if ok:
            equal(p.returncode, 0, f"WSLA_REAL with the list's library compiles: {p.stderr}")
        else:
            check(p.returncode != 0 and "not the library hooks.def names" in p.stderr,
                  "WSLA_REAL with another library is refused")
finish()
