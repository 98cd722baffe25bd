#!/usr/bin/env bash
# Builds libwslalloc.so and wslalloc into build-gpu/, with the tool's own libraries beside it, for a GPU machine that has neither meson nor elfutils.
#
# The GPU machine is often a bare image with a driver, CUDA and PyTorch and
# no network: build here, carry build-gpu/ there, and run
# tests/gpu/validate.py, which finds build-gpu/ by itself.  Only glibc is
# taken from that machine (2.34 or newer: this build asks for nothing newer).
source "$(dirname "$0")/../../scripts/common.sh"

install_packages
check_cuda_headers
fetch_nvml_header
rm -rf build-gpu
build build-gpu --buildtype=release -Dtests=false
mkdir -p build-gpu/deps
ldd build-gpu/tools/wslalloc | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|ld-linux*) ;;
    *) cp -L "$lib" build-gpu/deps/ ;;
  esac
done
newest=$(objdump -T build-gpu/shim/libwslalloc.so build-gpu/tools/wslalloc build-gpu/deps/* |
         grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
# What to carry is the library, the tool and their libraries, not the objects.
find build-gpu -name '*.o' -delete
echo "build-gpu: $(du -sh build-gpu | cut -f1); needs $newest or newer on the GPU machine"
