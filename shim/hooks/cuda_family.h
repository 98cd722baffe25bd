/* The operations both CUDA layers (cudart.c, driver.c) give the hook skeletons alike: the device asked after the call, forced stitching, and the records through cuda_common.c. */
#ifndef WSLA_CUDA_FAMILY_H
#define WSLA_CUDA_FAMILY_H

/*
 * Included after skeleton.h, with the layer's HOOK_T, HOOK_OK and HOOK_OOM
 * defined, and HOOK_LAYER naming it ("CUDA runtime") and HOOK_MISSING its
 * code for a function no loaded library has.  What differs between the two
 * layers (the budget's question, the refusal and the last-error state, what
 * a nested free may give back) stays in each file.
 */

#include "cuda_common.h"

static int warned_missing;

static HOOK_T family_missing(const char *name) {
  wsla_warn_once(&warned_missing, "no " HOOK_LAYER " in this process provides %s", name);
  return HOOK_MISSING;
}

/* The runtime makes its context inside the first call, and the driver's
   device is the current context's: the device is asked after the call,
   never before. */
static inline int16_t family_device_before(struct wsla_proc *p, uint64_t size) {
  (void)p, (void)size;
  return -1;
}
static inline bool family_fast_before(uint64_t size, int16_t *device) {
  (void)size;
  *device = -1;
  return true;
}
static inline int16_t family_fast_device(int16_t before) {
  (void)before;
  return wsla_cuda_device();
}
static inline int16_t family_ladder_device(int16_t before) {
  (void)before;
  return wsla_cuda_device_fresh();
}

static inline bool family_forced_stitch(struct wsla_proc *p, uint64_t size, uint64_t *va) {
  return WSLA_UNLIKELY(wsla_opts.stitch.num == WSLA_STITCH_FORCE) &&
         wsla_cuda_forced_stitch(p, size, va);
}

static void family_done_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                              int16_t device, HOOK_T rc, uint64_t addr, uint64_t size,
                              uint64_t site, uint16_t cause, const struct wsla_ladder *ladder) {
  (void)device;
  wsla_cuda_alloc(p, api, flags, rc == HOOK_OK, rc == HOOK_OOM, rc, addr, size, site, cause,
                  ladder);
}

static void family_done_free(struct wsla_proc *p, uint16_t api, HOOK_T rc, uint64_t addr,
                             const struct wsla_taken *taken, uint64_t site) {
  wsla_cuda_free(p, api, rc == HOOK_OK, rc, addr, taken, site);
}

#endif
