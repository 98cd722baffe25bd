/* Stitching: serves a device allocation from smaller physical chunks mapped into one range. */
#include <stdlib.h>

#if WSLA_HAVE_CUDA
#include <cuda.h>
#endif
#if WSLA_HAVE_HIP
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#endif
#include "stitch.h"
#include "real.h"

/*
 * A stitched allocation is the shim's own: the client holds one ordinary
 * device pointer (kernels and copies see contiguous virtual memory), and
 * its free comes back here.  What cannot be done with it: IPC handles
 * (cudaIpcGetMemHandle wants memory from cudaMalloc), and anything that
 * asks the runtime what the pointer is (cudaPointerGetAttributes reports
 * VMM memory).  The CUDA side uses the driver, which keeps no last-error
 * state; on HIP the last call, when it works, is hipMemSetAccess, whose
 * success is the status a working allocation leaves.
 */

/* One family's VMM calls, in the shim's terms. */
struct vmm_ops {
  bool (*granularity)(int dev, uint64_t *g);
  bool (*reserve)(uint64_t size, uint64_t *va);
  void (*unreserve)(uint64_t va, uint64_t size);
  bool (*create)(int dev, uint64_t size, uint64_t *handle);
  void (*release)(uint64_t handle);
  bool (*map)(uint64_t va, uint64_t size, uint64_t handle);
  void (*unmap)(uint64_t va, uint64_t size);
  bool (*access)(int dev, uint64_t va, uint64_t size);
  void (*sync)(void);
};

#if WSLA_HAVE_CUDA
#define CU(name) __typeof__(real_##name) name##_ = WSLA_REAL(WSLA_LIB_CUDA, name)

static CUmemAllocationProp cu_prop(int dev) {
  CUmemAllocationProp prop = {0};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  return prop;
}
static bool cu_granularity(int dev, uint64_t *g) {
  CU(cuMemGetAllocationGranularity);
  CUmemAllocationProp prop = cu_prop(dev);
  size_t n = 0;
  bool ok = cuMemGetAllocationGranularity_ &&
            cuMemGetAllocationGranularity_(&n, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
                CUDA_SUCCESS && n;
  *g = n;
  return ok;
}
static bool cu_reserve(uint64_t size, uint64_t *va) {
  CU(cuMemAddressReserve);
  CUdeviceptr p;
  if (!cuMemAddressReserve_ || cuMemAddressReserve_(&p, size, 0, 0, 0) != CUDA_SUCCESS)
    return false;
  *va = p;
  return true;
}
static void cu_unreserve(uint64_t va, uint64_t size) {
  CU(cuMemAddressFree);
  if (cuMemAddressFree_) cuMemAddressFree_(va, size);
}
static bool cu_create(int dev, uint64_t size, uint64_t *handle) {
  CU(cuMemCreate);
  CUmemAllocationProp prop = cu_prop(dev);
  CUmemGenericAllocationHandle h;
  if (!cuMemCreate_ || cuMemCreate_(&h, size, &prop, 0) != CUDA_SUCCESS) return false;
  *handle = h;
  return true;
}
static void cu_release(uint64_t handle) {
  CU(cuMemRelease);
  if (cuMemRelease_) cuMemRelease_(handle);
}
static bool cu_map(uint64_t va, uint64_t size, uint64_t handle) {
  CU(cuMemMap);
  return cuMemMap_ && cuMemMap_(va, size, 0, handle, 0) == CUDA_SUCCESS;
}
static void cu_unmap(uint64_t va, uint64_t size) {
  CU(cuMemUnmap);
  if (cuMemUnmap_) cuMemUnmap_(va, size);
}
static bool cu_access(int dev, uint64_t va, uint64_t size) {
  CU(cuMemSetAccess);
  CUmemAccessDesc rw = {{CU_MEM_LOCATION_TYPE_DEVICE, dev},
                        CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  return cuMemSetAccess_ && cuMemSetAccess_(va, size, &rw, 1) == CUDA_SUCCESS;
}
static void cu_sync(void) {
  CU(cuCtxSynchronize);
  if (cuCtxSynchronize_) cuCtxSynchronize_();
}
static const struct vmm_ops cuda_ops = {cu_granularity, cu_reserve, cu_unreserve,
                                        cu_create,      cu_release, cu_map,
                                        cu_unmap,       cu_access,  cu_sync};
#endif

#if WSLA_HAVE_HIP
#define HIP(name) __typeof__(real_##name) name##_ = WSLA_REAL(WSLA_LIB_HIP, name)
#define HIP_PTR(va) ((void *)(uintptr_t)(va))
#define HIP_HANDLE(h) ((hipMemGenericAllocationHandle_t)(uintptr_t)(h))

static hipMemAllocationProp hip_prop(int dev) {
  hipMemAllocationProp prop = {0};
  prop.type = hipMemAllocationTypePinned;
  prop.location.type = hipMemLocationTypeDevice;
  prop.location.id = dev;
  return prop;
}
static bool hip_granularity(int dev, uint64_t *g) {
  HIP(hipMemGetAllocationGranularity);
  hipMemAllocationProp prop = hip_prop(dev);
  size_t n = 0;
  bool ok = hipMemGetAllocationGranularity_ &&
            hipMemGetAllocationGranularity_(&n, &prop,
                                            hipMemAllocationGranularityMinimum) ==
                hipSuccess && n;
  *g = n;
  return ok;
}
static bool hip_reserve(uint64_t size, uint64_t *va) {
  HIP(hipMemAddressReserve);
  void *p;
  if (!hipMemAddressReserve_ || hipMemAddressReserve_(&p, size, 0, NULL, 0) != hipSuccess)
    return false;
  *va = (uint64_t)(uintptr_t)p;
  return true;
}
static void hip_unreserve(uint64_t va, uint64_t size) {
  HIP(hipMemAddressFree);
  if (hipMemAddressFree_) hipMemAddressFree_(HIP_PTR(va), size);
}
static bool hip_create(int dev, uint64_t size, uint64_t *handle) {
  HIP(hipMemCreate);
  hipMemAllocationProp prop = hip_prop(dev);
  hipMemGenericAllocationHandle_t h;
  if (!hipMemCreate_ || hipMemCreate_(&h, size, &prop, 0) != hipSuccess) return false;
  *handle = (uint64_t)(uintptr_t)h;
  return true;
}
static void hip_release(uint64_t handle) {
  HIP(hipMemRelease);
  if (hipMemRelease_) hipMemRelease_(HIP_HANDLE(handle));
}
static bool hip_map(uint64_t va, uint64_t size, uint64_t handle) {
  HIP(hipMemMap);
  return hipMemMap_ && hipMemMap_(HIP_PTR(va), size, 0, HIP_HANDLE(handle), 0) == hipSuccess;
}
static void hip_unmap(uint64_t va, uint64_t size) {
  HIP(hipMemUnmap);
  if (hipMemUnmap_) hipMemUnmap_(HIP_PTR(va), size);
}
static bool hip_access(int dev, uint64_t va, uint64_t size) {
  HIP(hipMemSetAccess);
  hipMemAccessDesc rw = {{hipMemLocationTypeDevice, dev}, hipMemAccessFlagsProtReadWrite};
  return hipMemSetAccess_ && hipMemSetAccess_(HIP_PTR(va), size, &rw, 1) == hipSuccess;
}
static void hip_sync(void) {
  HIP(hipDeviceSynchronize);
  if (hipDeviceSynchronize_) hipDeviceSynchronize_();
}
static const struct vmm_ops hip_ops = {hip_granularity, hip_reserve, hip_unreserve,
                                       hip_create,      hip_release, hip_map,
                                       hip_unmap,       hip_access,  hip_sync};
#endif

static const struct vmm_ops *ops_of(enum wsla_lib family) {
#if WSLA_HAVE_CUDA
  if (family == WSLA_LIB_CUDA) return &cuda_ops;
#endif
#if WSLA_HAVE_HIP
  if (family == WSLA_LIB_HIP) return &hip_ops;
#endif
  (void)family;
  return NULL;
}

struct stitched {
  struct wsla_owned owned; /* first: the registry's record; owned.addr is va */
  uint64_t va, span;
  const struct vmm_ops *ops;
  unsigned n;
  uint64_t *handle;
  uint64_t *length;
};

/* Unmaps and releases the first s->n chunks and frees the range. */
static void give_back(struct stitched *s) {
  uint64_t off = 0;
  for (unsigned i = 0; i < s->n; i++) {
    s->ops->unmap(s->va + off, s->length[i]);
    s->ops->release(s->handle[i]);
    off += s->length[i];
  }
  s->ops->unreserve(s->va, s->span);
  free(s->handle);
  free(s->length);
  free(s);
}

bool wsla_stitch_alloc(enum wsla_lib family, int device, uint64_t size,
                       uint64_t *va, unsigned *chunks) {
  const struct vmm_ops *ops = ops_of(family);
  uint64_t g;
  if (!ops || device < 0 || size == 0 || !ops->granularity(device, &g)) return false;
  struct stitched *s = calloc(1, sizeof *s);
  uint64_t span = (size + g - 1) / g * g, most = span / g;
  if (!s) return false;
  s->span = span;
  s->ops = ops;
  s->handle = calloc(most, sizeof *s->handle);
  s->length = calloc(most, sizeof *s->length);
  if (!s->handle || !s->length || !ops->reserve(span, &s->va)) {
    free(s->handle);
    free(s->length);
    free(s);
    return false;
  }
  uint64_t off = 0, chunk = span, cap = wsla_opts.stitch_chunk.num / g * g;
  if (cap && chunk > cap) chunk = cap;
  while (off < span) {
    uint64_t want = chunk < span - off ? chunk : span - off, h;
    if (ops->create(device, want, &h)) {
      if (!ops->map(s->va + off, want, h)) {
        ops->release(h);
        give_back(s);
        return false;
      }
      s->handle[s->n] = h;
      s->length[s->n++] = want;
      off += want;
      continue;
    }
    if (chunk == g) { /* not even one granule: no memory left to stitch */
      give_back(s);
      return false;
    }
    chunk = chunk / 2 / g * g;
    if (chunk < g) chunk = g;
  }
  if (!ops->access(device, s->va, span)) {
    give_back(s);
    return false;
  }
  s->owned.addr = s->va;
  s->owned.kind = WSLA_OWNED_STITCHED;
  wsla_owned_put(&s->owned);
  *va = s->va;
  *chunks = s->n;
  return true;
}

void wsla_stitch_release(struct wsla_owned *o) {
  struct stitched *s = (struct stitched *)o;
  /* The client's free waits for the device; so does this, before the
     memory goes. */
  s->ops->sync();
  give_back(s);
}
