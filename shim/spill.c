/* Spill: serves a failed device allocation from mapped pinned host memory, slow but alive. */
#include <pthread.h>
#include <stdlib.h>

#if WSLA_HAVE_CUDA
#include <cuda.h>
#endif
#if WSLA_HAVE_HIP
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#endif
#include <uthash.h>

#include "spill.h"

/*
 * The Linux counterpart of the Windows driver's sysmem fallback, which WSL
 * processes cannot use: kernels reach the memory over the bus.  The client
 * holds the device pointer of a mapped pinned host block; its free comes
 * back here.
 */

#if WSLA_HAVE_CUDA
WSLA_REAL_DECL(cuMemHostAlloc);
WSLA_REAL_DECL(cuMemHostGetDevicePointer_v2);
WSLA_REAL_DECL(cuMemFreeHost);
WSLA_REAL_DECL(cuCtxSynchronize);
#endif
#if WSLA_HAVE_HIP
WSLA_REAL_DECL(hipHostMalloc);
WSLA_REAL_DECL(hipHostGetDevicePointer);
WSLA_REAL_DECL(hipHostFree);
WSLA_REAL_DECL(hipDeviceSynchronize);
#endif

struct spilled {
  uint64_t device_ptr;
  void *host;
  enum wsla_lib family;
  UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct spilled *all;
int wsla_owned_live;

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
  uint64_t cap = wsla_opts.pinned_limit.num;
  uint64_t live = __atomic_load_n(&p->ctr->host_live_bytes, __ATOMIC_RELAXED);
  if (cap && (size > cap || live > cap - size)) return false; /* budget */
  struct spilled *s = calloc(1, sizeof *s);
  void *host;
  uint64_t d;
  if (!s || !host_block(family, size, &host, &d)) {
    free(s);
    return false;
  }
  s->device_ptr = d;
  s->host = host;
  s->family = family;
  pthread_mutex_lock(&lock);
  HASH_ADD(hh, all, device_ptr, sizeof(uint64_t), s);
  __atomic_fetch_add(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&lock);
  *dptr = d;
  return true;
}

bool wsla_spill_free(uint64_t addr) {
  struct spilled *s;
  pthread_mutex_lock(&lock);
  HASH_FIND(hh, all, &addr, sizeof addr, s);
  if (s) {
    HASH_DEL(all, s);
    __atomic_fetch_sub(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&lock);
  if (!s) return false;
  host_block_free(s->family, s->host);
  free(s);
  return true;
}
