/* Scenario client: the out-of-memory situations WSL2 users meet, each ending as an inference server would (abort on failure). */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static void *must(size_t size, const char *what) {
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, size);
  if (e != cudaSuccess) {
    fprintf(stderr, "%s: %zu MiB: CUDA error: %s\n", what, size / MiB,
            cudaGetErrorString(e));
    abort();
  }
  return p;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "healthy";
  if (!strcmp(mode, "spike") || !strcmp(mode, "healthy")) {
    /* A model loads, then serves: a compute buffer per request. */
    for (int i = 0; i < 20; i++) must(256 * MiB, "weights");
    must(1024 * MiB, "kv_cache");
    size_t f, t;
    cudaMemGetInfo(&f, &t);
    printf("loaded; %zu MiB free\n", f / MiB);
    /* The context fills: the compute buffer grows to 1 GiB. */
    void *compute = must(256 * MiB, "compute");
    for (int r = 1; r < 10; r++) {
      sleep_ms(100);
      cudaFree(compute);
      compute = must((r < 4 ? r + 1 : 4) * 256 * MiB, "compute");
    }
  } else if (!strcmp(mode, "pool")) {
    /* A stream-ordered allocator keeps what it freed until a sync. */
    void *q;
    must(0, "init");
    if (cudaMallocAsync(&q, 3072 * MiB, 0) != cudaSuccess) abort();
    cudaFreeAsync(q, 0);
    must(3072 * MiB, "weights");
  } else if (!strcmp(mode, "fragment")) {
    /* Enough free in total, no block large enough. */
    void *b[8];
    for (int i = 0; i < 8; i++) b[i] = must(512 * MiB, "blocks");
    for (int i = 0; i < 8; i += 2) cudaFree(b[i]);
    must(1024 * MiB, "large");
  } else if (!strcmp(mode, "vmm")) {
    /* llama.cpp's start: the VMM pool if the device has VMM, reserving
       32 GiB of address space and aborting if that fails. */
    int dev = 0, vmm = 0;
    cudaFree(NULL);
    cuCtxGetDevice(&dev);
    cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev);
    if (vmm) {
      CUdeviceptr va;
      if (cuMemAddressReserve(&va, (size_t)32 << 30, 0, 0, 0) != CUDA_SUCCESS) {
        fprintf(stderr, "ggml_cuda_pool_vmm: cuMemAddressReserve failed\n");
        abort();
      }
      printf("VMM pool\n");
    } else {
      must(256 * MiB, "legacy pool");
      printf("legacy pool\n");
    }
  }
  printf("done\n");
  return 0;
}
