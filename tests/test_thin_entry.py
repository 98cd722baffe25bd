"""A nested driver call costs a jump: each driver hook's exported entry reaches the real function with no register saved and no stack reserved."""
import platform
import re
import shutil
import subprocess

from harness import *

if SANITIZER_RT:
    skip("sanitizer builds instrument every function's entry")
if platform.machine() != "x86_64" or not shutil.which("objdump"):
    skip("the check reads x86-64 code with objdump")

dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", SHIM], capture_output=True,
                      text=True, check=True).stdout
HOOKS = ["cuMemAlloc_v2", "cuMemFree_v2", "cuMemAllocAsync", "cuMemFreeAsync",
         "cuMemAllocFromPoolAsync", "cuMemAllocHost_v2", "cuMemHostAlloc", "cuMemFreeHost",
         "cuMemHostRegister_v2", "cuMemHostUnregister", "cuMemAllocPitch_v2",
         "cuMemAllocManaged", "cuMemCreate", "cuMemRelease", "cuMemMap", "cuMemUnmap",
         "cuMemAddressReserve", "cuMemAddressFree", "cuMemGetInfo_v2", "cuDeviceGetAttribute",
         # The context hooks, which move the generation only when not nested.
         "cuCtxSetCurrent", "cuCtxPushCurrent_v2", "cuCtxPopCurrent_v2", "cuCtxCreate_v2",
         "cuCtxCreate_v3", "cuCtxCreate_v4", "cuCtxDestroy_v2", "cuDevicePrimaryCtxRelease_v2",
         "cuDevicePrimaryCtxReset_v2"]
for name in HOOKS:
    m = re.search(rf"^[0-9a-f]+ <{re.escape(name)}>:\n(.*?)\n\n", dump, re.M | re.S)
    if not check(m is not None, f"{name}: found in the library"):
        continue
    code = [l.split("\t", 1)[-1].strip() for l in m.group(1).splitlines()]
    # The nested path: from the entry to the indirect jump to the real function.
    jump = next((i for i, ins in enumerate(code) if re.match(r"jmp\s+\*%r", ins)), None)
    if not check(jump is not None, f"{name}: jumps to the real function"):
        continue
    # Everything laid out before it (the nested test and the tail call to the
    # body) runs with no frame.
    before = code[:jump]
    saves = [ins for ins in before if re.match(r"(push|call)\b", ins) or
             re.match(r"sub\s+\$0x[0-9a-f]+,%rsp", ins)]
    equal(saves, [], f"{name}: nothing saved or reserved before the jump")
finish()
