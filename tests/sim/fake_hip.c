/* Simulated libamdhip64.so.5: HIP over the simulated device model, with HIP 5's last-error rules. */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#include <stdint.h>
#include <stdio.h>

#include "simdev.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define EXPORT __attribute__((visibility("default")))

/*
 * HIP before ROCm 7 stores the status of every call as the thread's last
 * error, success included; hipGetLastError returns it and resets it, and
 * hipPeekAtLastError returns it and stores it again.
 */
static __thread hipError_t last_error;
static __thread int current_device;

static hipError_t ret(hipError_t e) {
  last_error = e;
  return e;
}

static hipError_t from_sim(int rc) {
  switch (rc) {
  case SIM_OK: return hipSuccess;
  case SIM_OOM: return hipErrorOutOfMemory;
  case SIM_NODEV: return hipErrorInvalidDevice;
  default: return hipErrorInvalidValue;
  }
}

#define READY()                                                                \
  do {                                                                         \
    if (sim_device_count() == 0) return ret(hipErrorNoDevice);                 \
  } while (0)

EXPORT hipError_t hipGetLastError(void) {
  hipError_t e = last_error;
  last_error = hipSuccess;
  return e;
}

EXPORT hipError_t hipPeekAtLastError(void) { return ret(last_error); }

EXPORT hipError_t hipRuntimeGetVersion(int *v) {
  if (!v) return ret(hipErrorInvalidValue);
  *v = 50221153;
  return ret(hipSuccess);
}

EXPORT hipError_t hipGetDeviceCount(int *n) {
  if (!n) return ret(hipErrorInvalidValue);
  *n = sim_device_count();
  return ret(*n ? hipSuccess : hipErrorNoDevice);
}

EXPORT hipError_t hipGetDevice(int *d) {
  READY();
  if (!d) return ret(hipErrorInvalidValue);
  *d = current_device;
  return ret(hipSuccess);
}

EXPORT hipError_t hipDeviceGetName(char *name, int len, int d) {
  READY();
  if (!name || len <= 0) return ret(hipErrorInvalidValue);
  if (d < 0 || d >= sim_device_count()) return ret(hipErrorInvalidDevice);
  snprintf(name, (size_t)len, "wslsim GPU %d", d);
  return ret(hipSuccess);
}

EXPORT hipError_t hipSetDevice(int d) {
  READY();
  if (d < 0 || d >= sim_device_count()) return ret(hipErrorInvalidDevice);
  current_device = d;
  return ret(hipSuccess);
}

/* HIP's (deprecated) contexts: one primary context per device; making one
   current makes its device current, and the stack of pushed ones gives
   the previous back on pop. */
struct ihipCtx_t { int dev; };
static struct ihipCtx_t hip_contexts[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
static __thread int hip_pushed[16];
static __thread int hip_pushed_n;

EXPORT hipError_t hipDevicePrimaryCtxRetain(hipCtx_t *ctx, hipDevice_t d) {
  READY();
  if (!ctx) return ret(hipErrorInvalidValue);
  if (d < 0 || d >= sim_device_count()) return ret(hipErrorInvalidDevice);
  *ctx = &hip_contexts[d];
  return ret(hipSuccess);
}

EXPORT hipError_t hipCtxSetCurrent(hipCtx_t ctx) {
  READY();
  if (!ctx) return ret(hipErrorInvalidValue);
  current_device = ctx->dev;
  return ret(hipSuccess);
}

EXPORT hipError_t hipCtxPushCurrent(hipCtx_t ctx) {
  READY();
  if (!ctx || hip_pushed_n == 16) return ret(hipErrorInvalidValue);
  hip_pushed[hip_pushed_n++] = current_device;
  current_device = ctx->dev;
  return ret(hipSuccess);
}

EXPORT hipError_t hipCtxPopCurrent(hipCtx_t *ctx) {
  READY();
  if (ctx) *ctx = &hip_contexts[current_device];
  if (hip_pushed_n) current_device = hip_pushed[--hip_pushed_n];
  return ret(hipSuccess);
}

EXPORT hipError_t hipDeviceSynchronize(void) {
  READY();
  sim_pool_trim(current_device, 0);
  return ret(hipSuccess);
}

EXPORT hipError_t hipStreamSynchronize(hipStream_t s) {
  (void)s;
  return hipDeviceSynchronize();
}

EXPORT hipError_t hipStreamIsCapturing(hipStream_t s, hipStreamCaptureStatus *st) {
  (void)s;
  READY();
  if (!st) return ret(hipErrorInvalidValue);
  *st = hipStreamCaptureStatusNone;
  return ret(hipSuccess);
}

EXPORT hipError_t hipMemGetInfo(size_t *free_b, size_t *total_b) {
  READY();
  if (!free_b || !total_b) return ret(hipErrorInvalidValue);
  uint64_t f, t;
  hipError_t e = from_sim(sim_meminfo(current_device, &f, &t));
  if (e == hipSuccess) *free_b = f, *total_b = t;
  return ret(e);
}

EXPORT hipError_t hipMalloc(void **p, size_t size) {
  READY();
  if (!p) return ret(hipErrorInvalidValue);
  if (size == 0) {
    *p = NULL;
    return ret(hipSuccess);
  }
  uint64_t a;
  hipError_t e = from_sim(sim_alloc(current_device, size, &a));
  *p = e == hipSuccess ? (void *)(uintptr_t)a : NULL;
  return ret(e);
}

EXPORT hipError_t hipExtMallocWithFlags(void **p, size_t size, unsigned f) {
  (void)f;
  return hipMalloc(p, size);
}

EXPORT hipError_t hipMallocManaged(void **p, size_t size, unsigned f) {
  (void)f;
  return hipMalloc(p, size);
}

EXPORT hipError_t hipMallocPitch(void **p, size_t *pitch, size_t width,
                                 size_t height) {
  if (!pitch) return ret(hipErrorInvalidValue);
  size_t row = (width + 511) & ~(size_t)511;
  hipError_t e = hipMalloc(p, row * height);
  if (e == hipSuccess) *pitch = row;
  return e;
}

EXPORT hipError_t hipFree(void *p) {
  READY();
  if (!p) return ret(hipSuccess);
  return ret(from_sim(sim_free((uint64_t)(uintptr_t)p)));
}

EXPORT hipError_t hipMallocAsync(void **p, size_t size, hipStream_t s) {
  (void)s;
  READY();
  if (!p || !size) return ret(hipErrorInvalidValue);
  uint64_t a;
  hipError_t e = from_sim(sim_pool_alloc(current_device, size, &a));
  if (e == hipSuccess) *p = (void *)(uintptr_t)a;
  return ret(e);
}

EXPORT hipError_t hipFreeAsync(void *p, hipStream_t s) {
  (void)s;
  READY();
  return ret(from_sim(sim_pool_free((uint64_t)(uintptr_t)p)));
}

EXPORT hipError_t hipDeviceGetDefaultMemPool(hipMemPool_t *pool, int dev) {
  READY();
  if (!pool) return ret(hipErrorInvalidValue);
  if (dev < 0 || dev >= sim_device_count()) return ret(hipErrorInvalidDevice);
  *pool = (hipMemPool_t)(uintptr_t)(dev + 1);
  return ret(hipSuccess);
}

EXPORT hipError_t hipMallocFromPoolAsync(void **p, size_t size,
                                         hipMemPool_t pool, hipStream_t s) {
  (void)s;
  READY();
  if (!p || !size || !pool) return ret(hipErrorInvalidValue);
  uint64_t a;
  hipError_t e =
      from_sim(sim_pool_alloc((int)(uintptr_t)pool - 1, size, &a));
  if (e == hipSuccess) *p = (void *)(uintptr_t)a;
  return ret(e);
}

EXPORT hipError_t hipMemPoolGetAttribute(hipMemPool_t pool, hipMemPoolAttr attr, void *value) {
  READY();
  if (!pool || !value) return ret(hipErrorInvalidValue);
  int dev = (int)(uintptr_t)pool - 1;
  uint64_t used = sim_pool_used(dev);
  if (attr == hipMemPoolAttrUsedMemCurrent) *(uint64_t *)value = used;
  else if (attr == hipMemPoolAttrReservedMemCurrent) *(uint64_t *)value = used + sim_pool_held(dev);
  else return ret(hipErrorInvalidValue);
  return ret(hipSuccess);
}

EXPORT hipError_t hipMemPoolTrimTo(hipMemPool_t pool, size_t keep) {
  READY();
  if (!pool) return ret(hipErrorInvalidValue);
  sim_pool_trim((int)(uintptr_t)pool - 1, keep);
  return ret(hipSuccess);
}

EXPORT hipError_t hipHostMalloc(void **p, size_t size, unsigned f) {
  (void)f;
  READY();
  if (!p) return ret(hipErrorInvalidValue);
  return ret(from_sim(sim_host_alloc(size, p)));
}

EXPORT hipError_t hipHostAlloc(void **p, size_t size, unsigned f) {
  return hipHostMalloc(p, size, f);
}

EXPORT hipError_t hipMallocHost(void **p, size_t size) {
  return hipHostMalloc(p, size, 0);
}

/* Unified addressing: a mapped host block's device pointer is its address. */
EXPORT hipError_t hipHostGetDevicePointer(void **d, void *h, unsigned flags) {
  READY();
  if (!d || !h || flags) return ret(hipErrorInvalidValue);
  *d = h;
  return ret(hipSuccess);
}

EXPORT hipError_t hipHostFree(void *p) {
  READY();
  if (!p) return ret(hipSuccess);
  return ret(from_sim(sim_host_free(p)));
}

EXPORT hipError_t hipFreeHost(void *p) { return hipHostFree(p); }

EXPORT hipError_t hipHostRegister(void *p, size_t size, unsigned f) {
  (void)f;
  READY();
  int rc = sim_host_register(p, size);
  return ret(rc == SIM_INVALID && p && size
                 ? hipErrorHostMemoryAlreadyRegistered
                 : from_sim(rc));
}

EXPORT hipError_t hipHostUnregister(void *p) {
  READY();
  return ret(sim_host_unregister(p) == SIM_OK
                 ? hipSuccess
                 : hipErrorHostMemoryNotRegistered);
}

/* VMM, over the device model's (shared with the simulated CUDA driver). */
static hipError_t from_vmm(int rc) {
  return rc == SIM_OK ? hipSuccess : rc == SIM_OOM ? hipErrorOutOfMemory
                                                   : hipErrorInvalidValue;
}

EXPORT hipError_t hipMemGetAllocationGranularity(
    size_t *g, const hipMemAllocationProp *prop,
    hipMemAllocationGranularity_flags option) {
  (void)option;
  READY();
  if (!g || !prop) return ret(hipErrorInvalidValue);
  *g = SIM_VMM_GRANULARITY;
  return ret(hipSuccess);
}

EXPORT hipError_t hipMemAddressReserve(void **ptr, size_t size, size_t align,
                                       void *addr, unsigned long long flags) {
  (void)align, (void)addr, (void)flags;
  READY();
  if (!ptr) return ret(hipErrorInvalidValue);
  uint64_t va;
  hipError_t e = from_vmm(sim_vmm_reserve(size, &va));
  if (e == hipSuccess) *ptr = (void *)(uintptr_t)va;
  return ret(e);
}

EXPORT hipError_t hipMemAddressFree(void *ptr, size_t size) {
  READY();
  return ret(from_vmm(sim_vmm_unreserve((uint64_t)(uintptr_t)ptr, size)));
}

EXPORT hipError_t hipMemCreate(hipMemGenericAllocationHandle_t *h, size_t size,
                               const hipMemAllocationProp *prop,
                               unsigned long long flags) {
  READY();
  if (!h || !prop || flags || prop->type != hipMemAllocationTypePinned ||
      prop->location.type != hipMemLocationTypeDevice)
    return ret(hipErrorInvalidValue);
  uint64_t handle;
  hipError_t e = from_vmm(sim_vmm_create(prop->location.id, size, &handle));
  if (e == hipSuccess) *h = (hipMemGenericAllocationHandle_t)(uintptr_t)handle;
  return ret(e);
}

EXPORT hipError_t hipMemRelease(hipMemGenericAllocationHandle_t h) {
  READY();
  return ret(from_vmm(sim_vmm_release((uint64_t)(uintptr_t)h)));
}

EXPORT hipError_t hipMemMap(void *ptr, size_t size, size_t offset,
                            hipMemGenericAllocationHandle_t h,
                            unsigned long long flags) {
  READY();
  if (offset || flags) return ret(hipErrorInvalidValue);
  return ret(from_vmm(sim_vmm_map((uint64_t)(uintptr_t)ptr, size,
                                  (uint64_t)(uintptr_t)h)));
}

EXPORT hipError_t hipMemUnmap(void *ptr, size_t size) {
  READY();
  return ret(from_vmm(sim_vmm_unmap((uint64_t)(uintptr_t)ptr, size)));
}

EXPORT hipError_t hipMemSetAccess(void *ptr, size_t size,
                                  const hipMemAccessDesc *desc, size_t count) {
  (void)ptr, (void)size;
  READY();
  return ret(desc && count ? hipSuccess : hipErrorInvalidValue);
}

EXPORT const char *hipGetErrorName(hipError_t e) {
  switch (e) {
  case hipSuccess: return "hipSuccess";
  case hipErrorInvalidValue: return "hipErrorInvalidValue";
  case hipErrorOutOfMemory: return "hipErrorOutOfMemory";
  case hipErrorNoDevice: return "hipErrorNoDevice";
  case hipErrorInvalidDevice: return "hipErrorInvalidDevice";
  default: return "hipErrorUnknown";
  }
}

EXPORT const char *hipGetErrorString(hipError_t e) { return hipGetErrorName(e); }
