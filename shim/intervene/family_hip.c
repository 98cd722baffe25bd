/* HIP's table of the interventions' calls (family.h). */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>

#include "family.h"
#include "real.h"

/*
 * HIP keeps the status of the thread's last call (hipGetLastError), and
 * these calls set it: the ladder's are made before the client's retry,
 * whose own status then stands; the pool's and the probe's are put back
 * by the hook (hip.c); the ballast's failure is cleared with status_clear;
 * a stitch that works ends with hipMemSetAccess, whose success is the
 * status a working allocation leaves.
 */

/* HIP's status for name(...), hipErrorNotFound where the library lacks name. */
#define HIP(name, ...)                                                         \
  __extension__({                                                              \
    __typeof__(real_##name) fn_ = WSLA_REAL(WSLA_LIB_HIP, name);               \
    fn_ ? fn_(__VA_ARGS__) : hipErrorNotFound;                                 \
  })
#define HAS(name) (WSLA_REAL(WSLA_LIB_HIP, name) != NULL)
/* The shim's 64-bit addresses and handles as HIP's pointers. */
#define PTR(va) ((void *)(uintptr_t)(va))
#define HANDLE(h) ((hipMemGenericAllocationHandle_t)(uintptr_t)(h))

static bool device_alloc(uint64_t size, uint64_t *ptr) {
  void *d;
  if (!HAS(hipFree) || HIP(hipMalloc, &d, size) != hipSuccess) return false;
  *ptr = (uint64_t)(uintptr_t)d;
  return true;
}

static void device_free(uint64_t ptr) { HIP(hipFree, PTR(ptr)); }

/* hipGetDevice cannot fail where a call just worked: its success is the
   thread's status again. */
static void status_clear(void) {
  int device;
  HIP(hipGetDevice, &device);
}

static bool host_alloc_mapped(uint64_t size, void **host, uint64_t *dptr) {
  void *d;
  if (!HAS(hipHostGetDevicePointer) || !HAS(hipHostFree) ||
      HIP(hipHostMalloc, host, size, hipHostMallocMapped | hipHostMallocPortable) != hipSuccess)
    return false;
  if (HIP(hipHostGetDevicePointer, &d, *host, 0) != hipSuccess) {
    HIP(hipHostFree, *host);
    return false;
  }
  *dptr = (uint64_t)(uintptr_t)d;
  return true;
}

static void host_free(void *host) { HIP(hipHostFree, host); }

static bool mem_info(uint64_t *free_b, uint64_t *total_b) {
  size_t f, t;
  if (HIP(hipMemGetInfo, &f, &t) != hipSuccess) return false;
  *free_b = f;
  *total_b = t;
  return true;
}

static bool capturing(void) {
  hipStreamCaptureStatus st;
  return HIP(hipStreamIsCapturing, NULL, &st) != hipSuccess ||
         st != hipStreamCaptureStatusNone;
}

static void synchronize(void) { HIP(hipDeviceSynchronize); }

static void pool_trim(int device) {
  hipMemPool_t pool;
  if (HAS(hipMemPoolTrimTo) && HIP(hipDeviceGetDefaultMemPool, &pool, device) == hipSuccess)
    HIP(hipMemPoolTrimTo, pool, 0);
}

static bool pool_usage(int device, uint64_t *reserved, uint64_t *used) {
  hipMemPool_t pool;
  if (HIP(hipDeviceGetDefaultMemPool, &pool, device) != hipSuccess ||
      HIP(hipMemPoolGetAttribute, pool, hipMemPoolAttrReservedMemCurrent, reserved) !=
          hipSuccess ||
      HIP(hipMemPoolGetAttribute, pool, hipMemPoolAttrUsedMemCurrent, used) != hipSuccess)
    return false;
  return true;
}

/* Pinned device memory on device, as stitching asks for it. */
static hipMemAllocationProp vmm_prop(int device) {
  hipMemAllocationProp prop = {0};
  prop.type = hipMemAllocationTypePinned;
  prop.location.type = hipMemLocationTypeDevice;
  prop.location.id = device;
  return prop;
}

static bool vmm_granularity(int device, uint64_t *g) {
  hipMemAllocationProp prop = vmm_prop(device);
  size_t n = 0;
  bool ok = HIP(hipMemGetAllocationGranularity, &n, &prop,
                hipMemAllocationGranularityMinimum) == hipSuccess && n;
  *g = n;
  return ok;
}

static bool vmm_reserve(uint64_t size, uint64_t *va) {
  void *p;
  if (HIP(hipMemAddressReserve, &p, size, 0, NULL, 0) != hipSuccess) return false;
  *va = (uint64_t)(uintptr_t)p;
  return true;
}

static void vmm_unreserve(uint64_t va, uint64_t size) { HIP(hipMemAddressFree, PTR(va), size); }

static bool vmm_create(int device, uint64_t size, uint64_t *handle) {
  hipMemAllocationProp prop = vmm_prop(device);
  hipMemGenericAllocationHandle_t h;
  if (HIP(hipMemCreate, &h, size, &prop, 0) != hipSuccess) return false;
  *handle = (uint64_t)(uintptr_t)h;
  return true;
}

static void vmm_release(uint64_t handle) { HIP(hipMemRelease, HANDLE(handle)); }

static bool vmm_map(uint64_t va, uint64_t size, uint64_t handle) {
  return HIP(hipMemMap, PTR(va), size, 0, HANDLE(handle), 0) == hipSuccess;
}

static void vmm_unmap(uint64_t va, uint64_t size) { HIP(hipMemUnmap, PTR(va), size); }

static bool vmm_access(int device, uint64_t va, uint64_t size) {
  hipMemAccessDesc rw = {{hipMemLocationTypeDevice, device}, hipMemAccessFlagsProtReadWrite};
  return HIP(hipMemSetAccess, PTR(va), size, &rw, 1) == hipSuccess;
}

const struct wsla_family_ops wsla_family_hip = WSLA_FAMILY_TABLE;
