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
  } else if (!strcmp(mode, "vmm-pool")) {
    /* llama.cpp's CUDA backend with its VMM pool: weights by cudaMalloc,
       the compute pool grown in 64 MiB chunks of physical memory mapped
       back to back in reserved address space, shrunk by one chunk, and
       still mapped at the exit (llama.cpp leaves its pool to the driver). */
    must(512 * MiB, "weights");
    int dev = 0;
    cuCtxGetDevice(&dev);
    CUmemAllocationProp prop = {0};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = dev;
    CUmemAccessDesc access = {{CU_MEM_LOCATION_TYPE_DEVICE, dev}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CUdeviceptr va;
    CUmemGenericAllocationHandle chunk[3];
    if (cuMemAddressReserve(&va, 1024 * MiB, 0, 0, 0) != CUDA_SUCCESS) abort();
    for (int i = 0; i < 3; i++) {
      if (cuMemCreate(&chunk[i], 64 * MiB, &prop, 0) != CUDA_SUCCESS ||
          cuMemMap(va + i * 64 * MiB, 64 * MiB, 0, chunk[i], 0) != CUDA_SUCCESS ||
          cuMemSetAccess(va + i * 64 * MiB, 64 * MiB, &access, 1) != CUDA_SUCCESS)
        abort();
      cuMemRelease(chunk[i]); /* held by its mapping, as llama.cpp does */
      sleep_ms(20);
    }
    cuMemUnmap(va + 128 * MiB, 64 * MiB);
    printf("pool at 0x%llx\n", (unsigned long long)va);
  }
  printf("done\n");
  return 0;
}
