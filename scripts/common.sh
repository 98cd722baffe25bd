# Shared by scripts/demo and scripts/test: installs what wslalloc needs and builds it.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Debian packages: the build (meson, ninja, a C compiler, uthash), the HIP
# headers and Debian's real libamdhip64 (the pass-through tests run against
# it), python3 for the test drivers, binutils for the export check and
# valgrind for the instruction counts.
PACKAGES=(meson ninja-build gcc libc6-dev python3 uthash-dev libamdhip64-dev
          binutils valgrind)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
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

# build DIR [meson options...]: configures once, then compiles.
build() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  meson compile -C "$dir" >/dev/null || return 1
}
