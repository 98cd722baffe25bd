/* What the CUDA runtime and driver hooks share: the device, its view, and completing a call. */
#ifndef WSLA_CUDA_COMMON_H
#define WSLA_CUDA_COMMON_H

#include "hooks.h"

/* The device of the calling thread's current context, or -1, asked of the
   driver (which keeps no last-error state to disturb) and kept in the
   thread's device cache under the current context generation (shim.h). */
int16_t wsla_cuda_device_fresh(void);

/* The same from the thread's cache while no context change the hooks saw
   has happened since: the allocation path's question, a TLS load and a
   compare.  NVIDIA's runtime can also switch contexts through its private
   table, which no hook sees: the paths that are slow anyway (a sample, an
   out-of-memory failure, a device limit's check) ask wsla_cuda_device_fresh,
   which corrects the cache. */
static inline int16_t wsla_cuda_device(void) {
  int16_t dev;
  unsigned long gen;
  if (WSLA_LIKELY(wsla_device_cached(WSLA_CACHE_CUDA, &dev, &gen))) return dev;
  return wsla_cuda_device_fresh();
}

/* A child after fork: its new recording notes the driver and GPUs anew. */
void wsla_cuda_reset_after_fork(void);

/* Records one allocation call of either layer.  On an out-of-memory failure
   asks the driver for the device's view; after a success, at most every
   WSLALLOC_SAMPLE_MS, takes a sample, when the real call has already paid
   for a trip to the driver. */
void wsla_cuda_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                     bool ok, bool oom, int32_t rc, uint64_t addr,
                     uint64_t size, uint64_t site, uint16_t cause,
                     const struct wsla_ladder *ladder);

/* Records one free call whose entry was taken (wsla_take, through the
   skeleton's hook_enter_free or its fast path) before the real free. */
void wsla_cuda_free(struct wsla_proc *p, uint16_t api, bool ok, int32_t rc,
                    uint64_t addr, const struct wsla_taken *taken, uint64_t site);

/* The current device's memory as the driver sees it; false if unknown. */
bool wsla_cuda_view(struct wsla_proc *p, struct wsla_view *v);

/* Takes the client's own successful memory-info answer as a sample (as the
   driver gave it), then shapes it by the budgets for the client. */
void wsla_cuda_meminfo(struct wsla_proc *p, size_t *free_b, size_t *total_b);

/* WSLALLOC_STITCH=force: serves a request of size from stitched chunks, to
   prove such memory on a real GPU.  True with *va set. */
bool wsla_cuda_forced_stitch(struct wsla_proc *p, uint64_t size, uint64_t *va);

#endif
