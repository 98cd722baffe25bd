# Shared by scripts/demo and scripts/test: installs what wslalloc needs and builds it.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Debian packages.  Building and running (scripts/demo): meson and ninja, a C
# compiler with its C library headers and binutils, pkgconf (meson finds
# libdw with it), python3 (the build generates the error-name tables with it;
# the tests are Python) and pip (NVML's header, below), uthash, elfutils'
# libdw for the function names and source lines in reports, and the HIP
# headers with Debian's real libamdhip64 for the HIP hooks.
BUILD_PACKAGES=(meson ninja-build gcc libc6-dev binutils pkgconf python3 python3-pip uthash-dev
                libdw-dev libamdhip64-dev)
# The tests add (scripts/test): g++ for the C++ client whose call sites the
# report must demangle, valgrind for the instruction counts, clang and its
# libFuzzer runtime for fuzzing the recording reader, Chromium to render the
# plot's HTML, and heaptrack for the overhead benchmark's comparison.
TEST_PACKAGES=(g++ valgrind clang libclang-rt-14-dev chromium heaptrack)

# packages_for demo|test: the packages that set-up installs, one a line.
packages_for() {
  printf '%s\n' "${BUILD_PACKAGES[@]}"
  [ "${1:-demo}" = test ] && printf '%s\n' "${TEST_PACKAGES[@]}"
  return 0
}

# install_packages [test]: what building and running need, and with "test"
# what the tests need too; only those missing, with sudo when not root.
install_packages() {
  local missing=() p
  for p in $(packages_for "${1:-demo}"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "wslalloc: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_cuda_headers() {
  local d
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr; do
    [ -n "$d" ] && [ -f "$d/include/cuda_runtime_api.h" ] && return 0
  done
  echo "wslalloc: no CUDA headers found (set CUDA_HOME, or install the CUDA toolkit);" >&2
  echo "wslalloc: the CUDA hooks and the simulated GPU need them" >&2
  return 1
}

# NVML's header: the CUDA toolkit usually carries it; where it does not,
# NVIDIA's own copy comes from its nvidia-nvml-dev wheel on PyPI (Debian's
# main archive has none).  Without it the NVML hooks are left out.
NVML_WHEEL_VERSION=13.4.92
fetch_nvml_header() {
  local d
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [ -n "$d" ] && [ -f "$d/include/nvml.h" ] && return 0
  done
  [ -f build-deps/nvml/include/nvml.h ] && return 0
  local tmp
  tmp=$(mktemp -d)
  if python3 -m pip download -q --no-deps -d "$tmp" "nvidia-nvml-dev==$NVML_WHEEL_VERSION" >/dev/null 2>&1; then
    mkdir -p build-deps/nvml/include
    python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
name = next(n for n in wheel.namelist() if n.endswith("include/nvml.h"))
open("build-deps/nvml/include/nvml.h", "wb").write(wheel.read(name))
PY
  else
    echo "wslalloc: could not fetch nvml.h; building without the NVML hooks" >&2
  fi
  rm -rf "$tmp"
}

# build DIR [meson options...]: configures once, then compiles.
build() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  # Quiet when it works; the compiler's own words when it does not.
  if ! meson compile -C "$dir" >"$dir/compile.log" 2>&1; then
    echo "FAIL: building $dir (the end of $dir/compile.log follows)"
    tail -n 40 "$dir/compile.log"
    return 1
  fi
}
