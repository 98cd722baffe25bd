/* HIP hooks: hipMalloc and friends, recorded without touching HIP's last-error state. */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>

#include "ballast.h"
#include "real.h"
#include "vmm.h"

/* The deprecated spellings are still exported, and still called. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/*
 * Last-error rule.  HIP before ROCm 7 stores every call's status as the
 * thread's last error, success included, so any HIP call the shim made after
 * a client's failed hipMalloc would erase the error the client is about to
 * read.  The shim therefore asks HIP what it needs (device, memory info)
 * before the client's call, never after it; the client's call then sets the
 * status exactly as it would have.  An out-of-memory record carries the
 * newest view taken before the call, with its age.
 */


/* --- HIP's operations for the hook skeletons (skeleton.h) --- */

#define HOOK_T hipError_t
#define HOOK_OK hipSuccess
#define HOOK_OOM hipErrorOutOfMemory
#define HOOK_LIB WSLA_LIB_HIP
#define HOOK_FAMILY WSLA_LIB_HIP

#include "skeleton.h"

static int warned_missing;

static hipError_t family_missing(const char *name) {
  wsla_warn_once(&warned_missing, "no HIP runtime in this process provides %s",
                 name);
  return hipErrorSharedObjectSymbolNotFound;
}

/*
 * Before a device allocation: the current device, and a fresh view when the
 * sampling period has passed or when the request exceeds the free memory
 * last seen (the call is then likely to fail, and its record wants figures
 * from this moment rather than from the last sample).
 */
/* The current device, asked of HIP (-1 where it cannot say) and kept in
   the thread's device cache under the current context generation. */
static int current_device(void) {
  __typeof__(real_hipGetDevice) get = WSLA_REAL(WSLA_LIB_HIP, hipGetDevice);
  int d;
  return get && get(&d) == hipSuccess ? d : -1;
}
static int16_t hip_device_fresh(void) {
  return hook_device_fresh(WSLA_CACHE_HIP, current_device);
}

static int16_t family_device_before(struct wsla_proc *p, uint64_t size) {
  if (!p) return -1;
  int16_t d;
  unsigned long gen;
  /* A device limit's check is slow anyway: with one set, HIP is asked. */
  if (!wsla_device_cached(WSLA_CACHE_HIP, &d, &gen) ||
      WSLA_UNLIKELY(wsla_opts.limit.num))
    d = hip_device_fresh();
  if (d < 0 || d >= (int)WSLA_DEVICE_MAX) return d;
  struct wsla_device_counters *dc = &p->ctr->dev[d];
  bool likely_short = size > __atomic_load_n(&dc->free_bytes, __ATOMIC_RELAXED);
  if (!wsla_sample_claim(p, d, wsla_now(p)) && !likely_short) return d;
  /* A sample or a likely failure: slow anyway, so the device is asked anew
     (a context change no hook saw is caught here) and the cache corrected. */
  d = hip_device_fresh();
  if (d < 0 || d >= (int)WSLA_DEVICE_MAX) return d;
  __typeof__(real_hipMemGetInfo) info = WSLA_REAL(WSLA_LIB_HIP, hipMemGetInfo);
  size_t free_b, total_b;
  if (info && info(&free_b, &total_b) == hipSuccess) {
    struct wsla_view v = {free_b, total_b, wsla_now(p), WSLA_VIEW_SAMPLE};
    wsla_sample_store(p, d, &v);
  }
  return (int16_t)d;
}

/* The fast path's question before the call: the thread's cached device,
   while no sample is due and the request is within the free memory last
   seen; anything else goes the general way, which asks HIP first. */
static inline bool family_fast_before(uint64_t size, int16_t *device) {
  int16_t d;
  unsigned long gen;
  if (!wsla_device_cached(WSLA_CACHE_HIP, &d, &gen) || (uint16_t)d >= WSLA_DEVICE_MAX)
    return false;
  struct wsla_proc *p = &wsla_g;
  if (size > __atomic_load_n(&p->ctr->dev[d].free_bytes, __ATOMIC_RELAXED) ||
      wsla_now(p) >= __atomic_load_n(&p->sample_next[d], __ATOMIC_RELAXED))
    return false;
  *device = d;
  return true;
}
static inline int16_t family_fast_device(int16_t before) { return before; }
static inline int16_t family_ladder_device(int16_t before) { return before; }

static inline uint16_t family_refusal(struct wsla_proc *p, uint16_t flags, int16_t device,
                                      uint64_t size) {
  return wsla_budget_refusal(p, flags & WSLA_F_HOST, device, size);
}

/* Refuses a request as HIP itself would: a genuine out-of-memory failure
   from the real runtime sets its own last-error state. */
static hipError_t family_refuse(void) {
  __typeof__(real_hipMalloc) m = WSLA_REAL(WSLA_LIB_HIP, hipMalloc);
  void *none = NULL;
  if (m && m(&none, (size_t)1 << 62) == hipSuccess) hipFree(none);
  return hipErrorOutOfMemory;
}

/* HIP keeps no error from before the call to protect (its every call sets
   the status); a retry's status is the thread's, as a first attempt's
   would be; the ladder's own HIP calls may have been the last, so a call
   it could not rescue refuses again, leaving the failure's status. */
static inline hipError_t family_pending_error(void) { return hipSuccess; }
static inline void family_retried(hipError_t rc) { (void)rc; }
static inline void family_after_ladder(bool ok, hipError_t prior) {
  (void)prior;
  if (!ok) family_refuse();
}

/* No forced stitch on HIP: WSLALLOC_STITCH=force proves CUDA's VMM. */
static inline bool family_forced_stitch(struct wsla_proc *p, uint64_t size, uint64_t *va) {
  (void)p, (void)size, (void)va;
  return false;
}

static void family_done_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                              int16_t device, hipError_t rc, uint64_t addr, uint64_t size,
                              uint64_t site, uint16_t cause, const struct wsla_ladder *ladder) {
  struct wsla_call c = {api,  device, flags, rc,          rc == hipSuccess,
                        rc == hipErrorOutOfMemory, addr, size, site,
                        wsla_now(p), cause, ladder, 0, 0};
  struct wsla_view v, *vp = NULL;
  if (c.oom && device >= 0 && device < (int)WSLA_DEVICE_MAX) {
    struct wsla_device_counters *d = &p->ctr->dev[device];
    v.time_ns = __atomic_load_n(&d->view_time_ns, __ATOMIC_RELAXED);
    v.free_bytes = __atomic_load_n(&d->free_bytes, __ATOMIC_RELAXED);
    v.total_bytes = __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED);
    v.source = WSLA_VIEW_SAMPLE;
    if (v.total_bytes) vp = &v;
    if (vp) c.pool_cached = wsla_pool_cached(WSLA_LIB_HIP, device);
    if (cause == WSLA_CAUSE_DEVICE)
      c.largest_block = wsla_probe_largest(WSLA_LIB_HIP, device,
                                           vp ? v.free_bytes : size);
    /* The pool's queries and the probe's trials were HIP calls: the
       thread's status goes back to the failure's. */
    if (vp || (cause == WSLA_CAUSE_DEVICE && wsla_opts.probe.num)) family_refuse();
  }
  wsla_track_alloc(p, &c, vp);
  /* The ballast comes after the client's block, as on CUDA: taken before
     it, it would leave a hole in front when given back. */
  if (WSLA_UNLIKELY(wsla_opts.reserve.num) && c.ok && !(flags & WSLA_F_HOST)) {
    struct wsla_device_counters *d =
        device >= 0 && device < (int)WSLA_DEVICE_MAX ? &p->ctr->dev[device] : NULL;
    wsla_ballast_tend(p, WSLA_LIB_HIP, device,
                      d ? __atomic_load_n(&d->free_bytes, __ATOMIC_RELAXED) : 0);
  }
}

static inline bool family_free_own(uint64_t addr, bool outer) {
  (void)outer;
  return wsla_free_if_own(addr);
}

static void family_done_free(struct wsla_proc *p, uint16_t api, hipError_t rc, uint64_t addr,
                             const struct wsla_taken *taken, uint64_t site) {
  wsla_track_free(p, api, rc, rc == hipSuccess, addr, taken, site, wsla_now(p));
}

/* --- The hooks --- */

HOOK_DEVICE_ALLOC(hipMalloc, WSLA_API_hipMalloc, 0, (void **ptr, size_t size), (ptr, size),
                  ptr, size, size, true)
HOOK_DEVICE_ALLOC(hipMallocManaged, WSLA_API_hipMallocManaged, WSLA_F_MANAGED,
                  (void **ptr, size_t size, unsigned int flags), (ptr, size, flags), ptr, size,
                  size, false)
HOOK_DEVICE_ALLOC(hipExtMallocWithFlags, WSLA_API_hipExtMallocWithFlags, 0,
                  (void **ptr, size_t size, unsigned int flags), (ptr, size, flags), ptr, size,
                  size, true)
HOOK_DEVICE_ALLOC(hipMallocPitch, WSLA_API_hipMallocPitch, 0,
                  (void **ptr, size_t *pitch, size_t width, size_t height),
                  (ptr, pitch, width, height), ptr, hook_mul(width, height),
                  hook_pitched(rc == hipSuccess, pitch, width, height), false)
HOOK_DEVICE_ALLOC(hipMallocAsync, WSLA_API_hipMallocAsync, WSLA_F_ASYNC,
                  (void **ptr, size_t size, hipStream_t stream), (ptr, size, stream), ptr, size,
                  size, false)
HOOK_DEVICE_ALLOC(hipMallocFromPoolAsync, WSLA_API_hipMallocFromPoolAsync, WSLA_F_ASYNC,
                  (void **ptr, size_t size, hipMemPool_t pool, hipStream_t stream),
                  (ptr, size, pool, stream), ptr, size, size, false)

HOOK_HOST_ALLOC(hipHostMalloc, WSLA_API_hipHostMalloc,
                (void **ptr, size_t size, unsigned int flags), (ptr, size, flags), ptr, size)
HOOK_HOST_ALLOC(hipMallocHost, WSLA_API_hipMallocHost, (void **ptr, size_t size), (ptr, size),
                ptr, size)
HOOK_HOST_REGISTER(hipHostRegister, WSLA_API_hipHostRegister)

HOOK_FREE(hipFree, WSLA_API_hipFree, (void *ptr), (ptr), ptr)
HOOK_FREE(hipFreeAsync, WSLA_API_hipFreeAsync, (void *ptr, hipStream_t stream), (ptr, stream),
          ptr)
HOOK_FREE(hipHostFree, WSLA_API_hipHostFree, (void *ptr), (ptr), ptr)
HOOK_FREE(hipFreeHost, WSLA_API_hipFreeHost, (void *ptr), (ptr), ptr)
HOOK_FREE(hipHostUnregister, WSLA_API_hipHostUnregister, (void *ptr), (ptr), ptr)

WSLA_EXPORT hipError_t hipMemGetInfo(size_t *free_b, size_t *total_b) {
  HOOK_REAL_OR_MISSING(hipMemGetInfo);
  struct wsla_proc *p = hook_enter();
  /* The device is asked first, for the same last-error reason as above. */
  int d = p ? hip_device_fresh() : -1;
  hipError_t rc = real(free_b, total_b);
  if (p) {
    wsla_track_call(p, WSLA_API_hipMemGetInfo, rc == hipSuccess);
    if (rc == hipSuccess && free_b && total_b) {
      if (d >= 0 && wsla_sample_claim(p, d, wsla_now(p))) {
        struct wsla_view v = {*free_b, *total_b, wsla_now(p), WSLA_VIEW_SAMPLE};
        wsla_sample_store(p, d, &v);
      }
      uint64_t f = *free_b, t = *total_b;
      wsla_budget_shape(p, d, &f, &t);
      *free_b = (size_t)f;
      *total_b = (size_t)t;
    }
  }
  hook_leave();
  return rc;
}

/* --- VMM: physical memory counts from hipMemCreate until released and
   unmapped, on the device its properties name, as on CUDA's driver. --- */


static uint64_t handle_key(hipMemGenericAllocationHandle_t h) { return (uint64_t)(uintptr_t)h; }

WSLA_EXPORT hipError_t hipMemCreate(hipMemGenericAllocationHandle_t *handle, size_t size,
                                    const hipMemAllocationProp *prop, unsigned long long flags) {
  HOOK_REAL_OR_MISSING(hipMemCreate);
  struct wsla_proc *p = hook_enter();
  bool on_device = prop && prop->location.type == hipMemLocationTypeDevice;
  int16_t device = on_device ? (int16_t)prop->location.id : -1;
  int gate = on_device ? wsla_gate_pass() : 0;
  uint16_t refused = p && on_device ? wsla_budget_refusal(p, false, device, size) : 0;
  hipError_t rc = refused ? family_refuse() : real(handle, size, prop, flags);
  /* A probe in another thread ran meanwhile: retried after it (budget.h). */
  if (WSLA_UNLIKELY(rc == hipErrorOutOfMemory) && on_device && !refused &&
      wsla_probe_overlapped(gate))
    rc = real(handle, size, prop, flags);
  if (p) {
    struct wsla_call c = {WSLA_API_hipMemCreate, device,
                          on_device ? WSLA_F_VMM : WSLA_F_VMM | WSLA_F_HOST, rc,
                          rc == hipSuccess, rc == hipErrorOutOfMemory,
                          rc == hipSuccess && handle ? handle_key(*handle) : 0, size, HOOK_SITE,
                          wsla_now(p), refused, NULL, 0, 0};
    /* The device's view from its last sample: asking HIP now would change
       the thread's status, which must stay the failure's. */
    struct wsla_view v, *vp = NULL;
    if (c.oom && device >= 0 && device < (int)WSLA_DEVICE_MAX) {
      struct wsla_device_counters *d = &p->ctr->dev[device];
      v = (struct wsla_view){__atomic_load_n(&d->free_bytes, __ATOMIC_RELAXED),
                             __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED),
                             __atomic_load_n(&d->view_time_ns, __ATOMIC_RELAXED), WSLA_VIEW_SAMPLE};
      if (v.total_bytes) vp = &v;
    }
    wsla_track_alloc(p, &c, vp);
    if (c.ok) wsla_vmm_created(p, c.addr, c.device);
  }
  hook_leave();
  return rc;
}

HOOK_COUNTED(hipMemRelease, (hipMemGenericAllocationHandle_t handle), (handle),
             if (rc == hipSuccess)
                 wsla_vmm_released(p, WSLA_API_hipMemRelease, handle_key(handle), site_))
HOOK_COUNTED(hipMemMap,
             (void *ptr, size_t size, size_t offset, hipMemGenericAllocationHandle_t handle,
              unsigned long long flags),
             (ptr, size, offset, handle, flags),
             if (rc == hipSuccess)
                 wsla_vmm_mapped(p, WSLA_API_hipMemMap, (uint64_t)(uintptr_t)ptr, size,
                                 handle_key(handle), site_))
HOOK_COUNTED(hipMemUnmap, (void *ptr, size_t size), (ptr, size),
             if (rc == hipSuccess)
                 wsla_vmm_unmapped(p, WSLA_API_hipMemUnmap, (uint64_t)(uintptr_t)ptr, size, site_))
HOOK_COUNTED(hipMemAddressReserve,
             (void **ptr, size_t size, size_t align, void *addr, unsigned long long flags),
             (ptr, size, align, addr, flags),
             if (rc == hipSuccess && ptr)
                 wsla_vmm_reserved(p, WSLA_API_hipMemAddressReserve, (uint64_t)(uintptr_t)*ptr,
                                   size, site_, true))
HOOK_COUNTED(hipMemAddressFree, (void *ptr, size_t size), (ptr, size),
             if (rc == hipSuccess)
                 wsla_vmm_reserved(p, WSLA_API_hipMemAddressFree, (uint64_t)(uintptr_t)ptr, size,
                                   site_, false))

/* --- Context changes: passed through untouched, recorded nowhere; each
   success moves the context generation (shim.h), so that every thread asks
   HIP for its device again before its next allocation.  The context calls
   are deprecated in HIP, and still called. --- */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

HOOK_CONTEXT(hipSetDevice, (int device), (device))
HOOK_CONTEXT(hipCtxSetCurrent, (hipCtx_t ctx), (ctx))
HOOK_CONTEXT(hipCtxPushCurrent, (hipCtx_t ctx), (ctx))
HOOK_CONTEXT(hipCtxPopCurrent, (hipCtx_t *ctx), (ctx))
HOOK_CONTEXT(hipCtxCreate, (hipCtx_t *ctx, unsigned int flags, hipDevice_t device),
             (ctx, flags, device))
HOOK_CONTEXT(hipCtxDestroy, (hipCtx_t ctx), (ctx))
HOOK_CONTEXT(hipDevicePrimaryCtxRelease, (hipDevice_t dev), (dev))
HOOK_CONTEXT(hipDevicePrimaryCtxReset, (hipDevice_t dev), (dev))

#pragma GCC diagnostic pop
