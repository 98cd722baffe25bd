/* Spill: serves a failed device allocation from mapped pinned host memory, slow but alive. */
#include <stdlib.h>

#if WSLA_HAVE_CUDA
#include <cuda.h>
#endif
#if WSLA_HAVE_HIP
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#endif
#include "budget.h"
#include "spill.h"
#include "real.h"

/*
 * The Linux counterpart of the Windows driver's sysmem fallback, which WSL
 * processes cannot use: kernels reach the memory over the bus.  The client
 * holds the device pointer of a mapped pinned host block; its free comes
 * back here.
 */

struct spilled {
  struct wsla_owned owned; /* first: the registry's record */
  void *host;
  enum wsla_lib family;
};

/* A mapped pinned host block of size and its device pointer. */
static bool host_block(enum wsla_lib family, uint64_t size, void **host,
                       uint64_t *dptr) {
#if WSLA_HAVE_CUDA
  if (family == WSLA_LIB_CUDA) {
    __typeof__(real_cuMemHostAlloc) alloc = WSLA_REAL(WSLA_LIB_CUDA, cuMemHostAlloc);
    __typeof__(real_cuMemHostGetDevicePointer_v2) device_of =
        WSLA_REAL(WSLA_LIB_CUDA, cuMemHostGetDevicePointer_v2);
    __typeof__(real_cuMemFreeHost) release = WSLA_REAL(WSLA_LIB_CUDA, cuMemFreeHost);
    CUdeviceptr d;
    if (!alloc || !device_of || !release ||
        alloc(host, size, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE) !=
            CUDA_SUCCESS)
      return false;
    if (device_of(&d, *host, 0) != CUDA_SUCCESS) {
      release(*host);
      return false;
    }
    *dptr = d;
    return true;
  }
#endif
#if WSLA_HAVE_HIP
  if (family == WSLA_LIB_HIP) {
    __typeof__(real_hipHostMalloc) alloc = WSLA_REAL(WSLA_LIB_HIP, hipHostMalloc);
    __typeof__(real_hipHostGetDevicePointer) device_of =
        WSLA_REAL(WSLA_LIB_HIP, hipHostGetDevicePointer);
    __typeof__(real_hipHostFree) release = WSLA_REAL(WSLA_LIB_HIP, hipHostFree);
    void *d;
    if (!alloc || !device_of || !release ||
        alloc(host, size, hipHostMallocMapped | hipHostMallocPortable) != hipSuccess)
      return false;
    if (device_of(&d, *host, 0) != hipSuccess) {
      release(*host);
      return false;
    }
    *dptr = (uint64_t)(uintptr_t)d;
    return true;
  }
#endif
  (void)family, (void)size, (void)host, (void)dptr;
  return false;
}

/* Waits for the device, as the client's free would, and gives it back. */
static void host_block_free(enum wsla_lib family, void *host) {
#if WSLA_HAVE_CUDA
  if (family == WSLA_LIB_CUDA) {
    __typeof__(real_cuCtxSynchronize) sync = WSLA_REAL(WSLA_LIB_CUDA, cuCtxSynchronize);
    __typeof__(real_cuMemFreeHost) release = WSLA_REAL(WSLA_LIB_CUDA, cuMemFreeHost);
    if (sync) sync();
    if (release) release(host);
  }
#endif
#if WSLA_HAVE_HIP
  if (family == WSLA_LIB_HIP) {
    __typeof__(real_hipDeviceSynchronize) sync =
        WSLA_REAL(WSLA_LIB_HIP, hipDeviceSynchronize);
    __typeof__(real_hipHostFree) release = WSLA_REAL(WSLA_LIB_HIP, hipHostFree);
    if (sync) sync();
    if (release) release(host);
  }
#endif
  (void)family, (void)host;
}

bool wsla_spill_alloc(struct wsla_proc *p, enum wsla_lib family,
                      uint64_t size, uint64_t *dptr) {
  /* The request now lands in pinned memory, not on the device: it gives
     up the device's reservation and holds one against the pinned limit
     until its call is counted (wsla_track_alloc releases it), as a plain
     pinned allocation does, so that spills racing in many threads cannot
     all pass the limit together. */
  wsla_budget_release();
  if (wsla_budget_refusal(p, true, -1, size)) return false;
  struct spilled *s = calloc(1, sizeof *s);
  void *host;
  uint64_t d;
  if (!s || !host_block(family, size, &host, &d)) {
    free(s);
    wsla_budget_release();
    return false;
  }
  s->owned.addr = d;
  s->owned.kind = WSLA_OWNED_SPILLED;
  s->host = host;
  s->family = family;
  wsla_owned_put(&s->owned);
  *dptr = d;
  return true;
}

void wsla_spill_release(struct wsla_owned *o) {
  struct spilled *s = (struct spilled *)o;
  host_block_free(s->family, s->host);
  free(s);
}
