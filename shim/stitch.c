/* Stitching: serves a device allocation from smaller physical chunks mapped into one range. */
#include <pthread.h>
#include <stdlib.h>

#include <cuda.h>
#include <uthash.h>

#include "stitch.h"

/*
 * A stitched allocation is the shim's own: the client holds one ordinary
 * device pointer (kernels and copies see contiguous virtual memory), and
 * its free comes back here.  What cannot be done with it: IPC handles
 * (cudaIpcGetMemHandle wants memory from cudaMalloc), and anything that
 * asks the runtime what the pointer is (cudaPointerGetAttributes reports
 * VMM memory).
 */

WSLA_REAL_DECL(cuMemGetAllocationGranularity);
WSLA_REAL_DECL(cuMemAddressReserve);
WSLA_REAL_DECL(cuMemAddressFree);
WSLA_REAL_DECL(cuMemCreate);
WSLA_REAL_DECL(cuMemRelease);
WSLA_REAL_DECL(cuMemMap);
WSLA_REAL_DECL(cuMemUnmap);
WSLA_REAL_DECL(cuMemSetAccess);
WSLA_REAL_DECL(cuCtxSynchronize);

struct stitched {
  uint64_t va, span;
  unsigned n;
  CUmemGenericAllocationHandle *handle;
  uint64_t *length;
  UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct stitched *all;

#define R(name) WSLA_REAL(WSLA_LIB_CUDA, name)

/* Unmaps and releases the first s->n chunks and frees the range. */
static void give_back(struct stitched *s) {
  __typeof__(real_cuMemUnmap) unmap = R(cuMemUnmap);
  __typeof__(real_cuMemRelease) release = R(cuMemRelease);
  __typeof__(real_cuMemAddressFree) address_free = R(cuMemAddressFree);
  uint64_t off = 0;
  for (unsigned i = 0; i < s->n; i++) {
    if (unmap) unmap(s->va + off, s->length[i]);
    if (release) release(s->handle[i]);
    off += s->length[i];
  }
  if (address_free) address_free(s->va, s->span);
  free(s->handle);
  free(s->length);
  free(s);
}

bool wsla_stitch_alloc(int device, uint64_t size, uint64_t *va,
                       unsigned *chunks) {
  __typeof__(real_cuMemGetAllocationGranularity) granularity =
      R(cuMemGetAllocationGranularity);
  __typeof__(real_cuMemAddressReserve) reserve = R(cuMemAddressReserve);
  __typeof__(real_cuMemCreate) create = R(cuMemCreate);
  __typeof__(real_cuMemRelease) release = R(cuMemRelease);
  __typeof__(real_cuMemMap) map = R(cuMemMap);
  __typeof__(real_cuMemSetAccess) access = R(cuMemSetAccess);
  if (!granularity || !reserve || !create || !release || !map || !access ||
      device < 0 || size == 0)
    return false;
  CUmemAllocationProp prop = {0};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  size_t g = 0;
  if (granularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || !g)
    return false;
  struct stitched *s = calloc(1, sizeof *s);
  uint64_t span = (size + g - 1) / g * g, most = span / g;
  if (!s) return false;
  s->span = span;
  s->handle = calloc(most, sizeof *s->handle);
  s->length = calloc(most, sizeof *s->length);
  CUdeviceptr base;
  if (!s->handle || !s->length || reserve(&base, span, 0, 0, 0) != CUDA_SUCCESS) {
    free(s->handle);
    free(s->length);
    free(s);
    return false;
  }
  s->va = base;
  uint64_t off = 0, chunk = span;
  while (off < span) {
    uint64_t want = chunk < span - off ? chunk : span - off;
    CUmemGenericAllocationHandle h;
    if (create(&h, want, &prop, 0) == CUDA_SUCCESS) {
      if (map(base + off, want, 0, h, 0) != CUDA_SUCCESS) {
        release(h);
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
  CUmemAccessDesc rw = {{CU_MEM_LOCATION_TYPE_DEVICE, device},
                        CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  if (access(base, span, &rw, 1) != CUDA_SUCCESS) {
    give_back(s);
    return false;
  }
  pthread_mutex_lock(&lock);
  HASH_ADD(hh, all, va, sizeof(uint64_t), s);
  __atomic_fetch_add(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&lock);
  *va = base;
  *chunks = s->n;
  return true;
}

bool wsla_stitch_free(uint64_t addr) {
  struct stitched *s;
  pthread_mutex_lock(&lock);
  HASH_FIND(hh, all, &addr, sizeof addr, s);
  if (s) {
    HASH_DEL(all, s);
    __atomic_fetch_sub(&wsla_owned_live, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&lock);
  if (!s) return false;
  /* cudaFree waits for the device; so does this, before the memory goes. */
  __typeof__(real_cuCtxSynchronize) sync = R(cuCtxSynchronize);
  if (sync) sync();
  give_back(s);
  return true;
}
