/* Test client: the driver API directly, plain allocations and VMM in every order, printing the driver's own view. */
#include <cuda.h>
#include <stdio.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static size_t used(void) {
  size_t f, t;
  return cuMemGetInfo(&f, &t) == CUDA_SUCCESS ? t - f : 0;
}

#define SHOW(expr)                                                             \
  do {                                                                         \
    CUresult r_ = (expr);                                                      \
    printf("%-60s rc=%d used=%zu\n", #expr, (int)r_, used() / MiB);            \
  } while (0)

int main(void) {
  CUdevice dev;
  CUcontext ctx;
  SHOW(cuInit(0));
  SHOW(cuDeviceGet(&dev, 0));
  SHOW(cuDevicePrimaryCtxRetain(&ctx, dev));
  SHOW(cuCtxSetCurrent(ctx));
  int vmm = -1;
  SHOW(cuDeviceGetAttribute(&vmm, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev));
  printf("vmm_supported=%d\n", vmm);

  CUdeviceptr a = 0, b = 0, big = 0;
  SHOW(cuMemAlloc(&a, 64 * MiB));
  SHOW(cuMemAlloc(&big, 1ull << 40));
  SHOW(cuMemAlloc(&b, 8 * MiB));
  SHOW(cuMemFree(b));
  SHOW(cuMemFree(b));
  void *host = NULL;
  SHOW(cuMemAllocHost(&host, 2 * MiB));
  SHOW(cuMemFreeHost(host));

  CUmemAllocationProp prop;
  memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  size_t gran = 0;
  SHOW(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CUmemAccessDesc access = {{CU_MEM_LOCATION_TYPE_DEVICE, dev}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};

  /* llama.cpp's pool: one large reservation, grown by mapping granules. */
  CUdeviceptr va = 0;
  SHOW(cuMemAddressReserve(&va, 32ull << 30, 0, 0, 0));
  CUmemGenericAllocationHandle h1, h2, h3, h4, h5;
  /* A: create, map, unmap, release. */
  SHOW(cuMemCreate(&h1, 4 * gran, &prop, 0));
  SHOW(cuMemMap(va, 4 * gran, 0, h1, 0));
  SHOW(cuMemSetAccess(va, 4 * gran, &access, 1));
  SHOW(cuMemUnmap(va, 4 * gran));
  SHOW(cuMemRelease(h1));
  /* B: release while mapped: the memory stays until the unmap. */
  SHOW(cuMemCreate(&h2, 2 * gran, &prop, 0));
  SHOW(cuMemMap(va, 2 * gran, 0, h2, 0));
  SHOW(cuMemRelease(h2));
  SHOW(cuMemUnmap(va, 2 * gran));
  /* C: never mapped. */
  SHOW(cuMemCreate(&h3, gran, &prop, 0));
  SHOW(cuMemRelease(h3));
  SHOW(cuMemRelease(h3));
  /* D: two mappings side by side, released, then one unmap for both. */
  SHOW(cuMemCreate(&h4, gran, &prop, 0));
  SHOW(cuMemCreate(&h5, 3 * gran, &prop, 0));
  SHOW(cuMemMap(va, gran, 0, h4, 0));
  SHOW(cuMemMap(va + gran, 3 * gran, 0, h5, 0));
  SHOW(cuMemRelease(h4));
  SHOW(cuMemRelease(h5));
  SHOW(cuMemUnmap(va, 4 * gran));
  /* E: left mapped and released at the end: still live. */
  CUmemGenericAllocationHandle h6;
  SHOW(cuMemCreate(&h6, 5 * gran, &prop, 0));
  SHOW(cuMemMap(va, 5 * gran, 0, h6, 0));
  SHOW(cuMemRelease(h6));
  SHOW(cuMemCreate(&h1, 1ull << 40, &prop, 0));
  CUdeviceptr va2 = 0;
  SHOW(cuMemAddressReserve(&va2, 64ull << 30, 0, 0, 0));
  printf("final_used=%zu\n", used());
  return 0;
}
