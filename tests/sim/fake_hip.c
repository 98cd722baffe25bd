/* Simulated libamdhip64.so.5: HIP over the simulated device model, with HIP 5's last-error rules. */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#include <stdint.h>

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

EXPORT hipError_t hipSetDevice(int d) {
  READY();
  if (d < 0 || d >= sim_device_count()) return ret(hipErrorInvalidDevice);
  current_device = d;
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
