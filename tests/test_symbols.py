"""Call sites in C++ code read as written: demangled names in the report, text and JSON."""
import os
import subprocess

from harness import *

if not os.path.exists(os.path.join(CLIENTS, "cxx_sites")):
    skip("no C++ compiler: the C++ client was not built")

bare, shim = same_as_bare("cxx_sites")
equal(bare.out, "weights=ok\n", "the client's allocation worked")
rep = shim.report()
want = "wsla_test::Pool<float>::grow(unsigned long)"
sites = [s.get("function", "") for s in rep.get("sites", [])]
check(any(f.startswith(want) for f in sites), f"the site's function, demangled: {sites}")
leaks = [l.get("function", "") for l in rep.get("leaks", [])]
check(any(f.startswith(want) for f in leaks), f"the leak's function, demangled: {leaks}")
check(not any("_ZN" in f for f in sites + leaks), f"no mangled name left: {sites + leaks}")
text = subprocess.run([TOOL, "report", shim.recordings()[0]], capture_output=True, text=True).stdout
check("in " + want in text, f"the text report too: {text}")
finish()
