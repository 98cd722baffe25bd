/* Spill: serves a failed device allocation from mapped pinned host memory, slow but alive. */
#include <pthread.h>
#include <stdlib.h>

#include <cuda.h>
#include <uthash.h>

#include "stitch.h"

/*
 * The Linux counterpart of the Windows driver's sysmem fallback, which WSL
 * processes cannot use: kernels reach the memory over the bus.  The client
 * holds the device pointer of a mapped pinned host block; its free comes
 * back here.
 */

WSLA_REAL_DECL(cuMemHostAlloc);
WSLA_REAL_DECL(cuMemHostGetDevicePointer_v2);
WSLA_REAL_DECL(cuMemFreeHost);
WSLA_REAL_DECL(cuCtxSynchronize);

struct spilled {
  uint64_t device_ptr;
  void *host;
  UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct spilled *all;

bool wsla_spill_alloc(struct wsla_proc *p, uint64_t size, uint64_t *dptr) {
  uint64_t cap = wsla_opts.pinned_limit.num;
  uint64_t live = __atomic_load_n(&p->ctr->host_live_bytes, __ATOMIC_RELAXED);
  if (cap && (size > cap || live > cap - size)) return false; /* budget */
  __typeof__(real_cuMemHostAlloc) alloc = WSLA_REAL(WSLA_LIB_CUDA, cuMemHostAlloc);
  __typeof__(real_cuMemHostGetDevicePointer_v2) device_of =
      WSLA_REAL(WSLA_LIB_CUDA, cuMemHostGetDevicePointer_v2);
  __typeof__(real_cuMemFreeHost) release = WSLA_REAL(WSLA_LIB_CUDA, cuMemFreeHost);
  struct spilled *s = calloc(1, sizeof *s);
  void *host;
  CUdeviceptr d;
  if (!s || !alloc || !device_of || !release ||
      alloc(&host, size, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE) !=
          CUDA_SUCCESS) {
    free(s);
    return false;
  }
  if (device_of(&d, host, 0) != CUDA_SUCCESS) {
    release(host);
    free(s);
    return false;
  }
  s->device_ptr = d;
  s->host = host;
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
  __typeof__(real_cuCtxSynchronize) sync = WSLA_REAL(WSLA_LIB_CUDA, cuCtxSynchronize);
  __typeof__(real_cuMemFreeHost) release = WSLA_REAL(WSLA_LIB_CUDA, cuMemFreeHost);
  if (sync) sync(); /* as cudaFree waits for the device */
  if (release) release(s->host);
  free(s);
  return true;
}
