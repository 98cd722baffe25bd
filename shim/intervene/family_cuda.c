/* CUDA's table of the interventions' calls (family.h), all made through the driver. */
#include <cuda.h>

#include "family.h"
#include "real.h"

/*
 * The driver keeps no last-error state: whatever these calls return, the
 * client's cudaGetLastError reads what it would have.  The runtime's
 * clients are served by the same calls, on the context the runtime made
 * current.
 */

/* The driver's status for name(...), CUDA_ERROR_NOT_FOUND where it lacks name. */
#define CU(name, ...)                                                          \
  __extension__({                                                              \
    __typeof__(real_##name) fn_ = WSLA_REAL(WSLA_LIB_CUDA, name);              \
    fn_ ? fn_(__VA_ARGS__) : CUDA_ERROR_NOT_FOUND;                             \
  })
#define HAS(name) (WSLA_REAL(WSLA_LIB_CUDA, name) != NULL)

static bool device_alloc(uint64_t size, uint64_t *ptr) {
  CUdeviceptr d;
  if (!HAS(cuMemFree_v2) || CU(cuMemAlloc_v2, &d, size) != CUDA_SUCCESS) return false;
  *ptr = d;
  return true;
}

static void device_free(uint64_t ptr) { CU(cuMemFree_v2, (CUdeviceptr)ptr); }

static void status_clear(void) {}

static bool host_alloc_mapped(uint64_t size, void **host, uint64_t *dptr) {
  CUdeviceptr d;
  if (!HAS(cuMemHostGetDevicePointer_v2) || !HAS(cuMemFreeHost) ||
      CU(cuMemHostAlloc, host, size, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE) !=
          CUDA_SUCCESS)
    return false;
  if (CU(cuMemHostGetDevicePointer_v2, &d, *host, 0) != CUDA_SUCCESS) {
    CU(cuMemFreeHost, *host);
    return false;
  }
  *dptr = d;
  return true;
}

static void host_free(void *host) { CU(cuMemFreeHost, host); }

static bool mem_info(uint64_t *free_b, uint64_t *total_b) {
  size_t f, t;
  if (CU(cuMemGetInfo_v2, &f, &t) != CUDA_SUCCESS) return false;
  *free_b = f;
  *total_b = t;
  return true;
}

static bool capturing(void) {
  CUstreamCaptureStatus st;
  return CU(cuStreamIsCapturing, CU_STREAM_LEGACY, &st) != CUDA_SUCCESS ||
         st != CU_STREAM_CAPTURE_STATUS_NONE;
}

static void synchronize(void) { CU(cuCtxSynchronize); }

static void pool_trim(int device) {
  CUmemoryPool pool;
  if (HAS(cuMemPoolTrimTo) && CU(cuDeviceGetDefaultMemPool, &pool, device) == CUDA_SUCCESS)
    CU(cuMemPoolTrimTo, pool, 0);
}

static bool pool_usage(int device, uint64_t *reserved, uint64_t *used) {
  CUmemoryPool pool;
  cuuint64_t r = 0, u = 0;
  if (CU(cuDeviceGetDefaultMemPool, &pool, device) != CUDA_SUCCESS ||
      CU(cuMemPoolGetAttribute, pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &r) != CUDA_SUCCESS ||
      CU(cuMemPoolGetAttribute, pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &u) != CUDA_SUCCESS)
    return false;
  *reserved = r;
  *used = u;
  return true;
}

/* Pinned device memory on device, as stitching asks for it. */
static CUmemAllocationProp vmm_prop(int device) {
  CUmemAllocationProp prop = {0};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

static bool vmm_granularity(int device, uint64_t *g) {
  CUmemAllocationProp prop = vmm_prop(device);
  size_t n = 0;
  bool ok = CU(cuMemGetAllocationGranularity, &n, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
                CUDA_SUCCESS && n;
  *g = n;
  return ok;
}

static bool vmm_reserve(uint64_t size, uint64_t *va) {
  CUdeviceptr p;
  if (CU(cuMemAddressReserve, &p, size, 0, 0, 0) != CUDA_SUCCESS) return false;
  *va = p;
  return true;
}

static void vmm_unreserve(uint64_t va, uint64_t size) { CU(cuMemAddressFree, va, size); }

static bool vmm_create(int device, uint64_t size, uint64_t *handle) {
  CUmemAllocationProp prop = vmm_prop(device);
  CUmemGenericAllocationHandle h;
  if (CU(cuMemCreate, &h, size, &prop, 0) != CUDA_SUCCESS) return false;
  *handle = h;
  return true;
}

static void vmm_release(uint64_t handle) { CU(cuMemRelease, handle); }

static bool vmm_map(uint64_t va, uint64_t size, uint64_t handle) {
  return CU(cuMemMap, va, size, 0, handle, 0) == CUDA_SUCCESS;
}

static void vmm_unmap(uint64_t va, uint64_t size) { CU(cuMemUnmap, va, size); }

static bool vmm_access(int device, uint64_t va, uint64_t size) {
  CUmemAccessDesc rw = {{CU_MEM_LOCATION_TYPE_DEVICE, device},
                        CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  return CU(cuMemSetAccess, va, size, &rw, 1) == CUDA_SUCCESS;
}

const struct wsla_family_ops wsla_family_cuda = WSLA_FAMILY_TABLE;
