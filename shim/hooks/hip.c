/* HIP hooks: hipMalloc and friends, recorded without touching HIP's last-error state. */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>

#include "budget.h"
#include "hooks.h"
#include "ballast.h"
#include "recover.h"
#include "vmm.h"
#include "owned.h"
#include "real.h"

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

static int warned_missing;

static hipError_t missing(const char *name) {
  wsla_warn_once(&warned_missing, "no HIP runtime in this process provides %s",
                 name);
  return hipErrorSharedObjectSymbolNotFound;
}

#define REAL_OR_MISSING(name)                                                  \
  __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_HIP, name);               \
  if (WSLA_UNLIKELY(!real)) return missing(#name)

/*
 * Before a device allocation: the current device, and a fresh view when the
 * sampling period has passed or when the request exceeds the free memory
 * last seen (the call is then likely to fail, and its record wants figures
 * from this moment rather than from the last sample).
 */
/* The current device, asked of HIP and kept in the thread's device cache
   under the current context generation (shim.h). */
static int16_t hip_device_fresh(void) {
  int16_t dev;
  unsigned long gen;
  (void)wsla_device_cached(WSLA_CACHE_HIP, &dev, &gen); /* the generation */
  __typeof__(real_hipGetDevice) get = WSLA_REAL(WSLA_LIB_HIP, hipGetDevice);
  int d;
  dev = get && get(&d) == hipSuccess && d >= 0 && d < INT16_MAX ? (int16_t)d : -1;
  wsla_device_note(WSLA_CACHE_HIP, gen, dev);
  return dev;
}

static int16_t before_device_alloc(struct wsla_proc *p, uint64_t size) {
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

/* Refuses a request as HIP itself would: a genuine out-of-memory failure
   from the real runtime sets its own last-error state. */
static hipError_t refuse(void) {
  __typeof__(real_hipMalloc) m = WSLA_REAL(WSLA_LIB_HIP, hipMalloc);
  void *none = NULL;
  if (m && m(&none, (size_t)1 << 62) == hipSuccess) hipFree(none);
  return hipErrorOutOfMemory;
}

static void done_alloc(struct wsla_proc *p, uint16_t api, int16_t device,
                       uint16_t flags, hipError_t rc, uint64_t addr,
                       uint64_t size, uint64_t site, uint16_t cause,
                       const struct wsla_ladder *ladder) {
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
    if (vp || (cause == WSLA_CAUSE_DEVICE && wsla_opts.probe.num)) refuse();
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

/* size_expr is the request, judged before the call; held_expr what the
   client holds after it (the two differ for pitched memory). */
#define DEVICE_ALLOC(name, api, flags, params, args, out, size_expr,          \
                     held_expr, can_serve)                                     \
  WSLA_EXPORT hipError_t name params {                                         \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    int16_t device = before_device_alloc(p, (size_expr));                      \
    int gate = wsla_gate_pass();                                               \
    uint16_t refused =                                                         \
        p ? wsla_budget_refusal(p, false, device, (size_expr)) : 0;            \
    hipError_t rc = refused ? refuse() : real args;                            \
    /* A probe in another thread ran meanwhile: retried after it, and the    \
       retry's status is the thread's, as a first attempt's would be. */      \
    if (WSLA_UNLIKELY(rc == hipErrorOutOfMemory) && !refused &&               \
        wsla_probe_overlapped(gate))                                           \
      rc = real args;                                                          \
    struct wsla_ladder ladder;                                                 \
    const struct wsla_ladder *laddered = NULL;                                 \
    if (WSLA_UNLIKELY(rc == hipErrorOutOfMemory && !refused && p &&            \
                      wsla_opts.recover.num)) {                                \
      wsla_ladder_begin(&ladder, p, WSLA_LIB_HIP, device, (size_expr));        \
      ladder.can_stitch = (can_serve) && (out) != NULL;                        \
      for (int move; rc == hipErrorOutOfMemory &&                              \
                     (move = wsla_ladder_next(&ladder)) != WSLA_LADDER_DONE;) {\
        if (move == WSLA_LADDER_SERVED) {                                      \
          *(out) = (void *)(uintptr_t)ladder.served;                           \
          rc = hipSuccess;                                                     \
        } else {                                                               \
          rc = real args;                                                      \
        }                                                                      \
      }                                                                        \
      wsla_ladder_end(&ladder, rc == hipSuccess);                              \
      laddered = &ladder;                                                      \
      /* The ladder's own HIP calls may have been the last: the thread's     \
         status must be the failure's, as without the shim. */                \
      if (rc != hipSuccess) refuse();                                          \
    }                                                                          \
    if (p)                                                                     \
      done_alloc(p, api, device, flags, rc, HOOK_OUT(rc == hipSuccess, out),   \
                 (held_expr), HOOK_SITE, refused, laddered);                   \
    hook_leave();                                                              \
    return rc;                                                                 \
  }

#define HOST_ALLOC(name, api, params, args, out, size_expr)                    \
  WSLA_EXPORT hipError_t name params {                                         \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    uint16_t refused = p ? wsla_budget_refusal(p, true, -1, (size_expr)) : 0;  \
    hipError_t rc = refused ? refuse() : real args;                            \
    if (p)                                                                     \
      done_alloc(p, api, -1, WSLA_F_HOST, rc,                                  \
                 HOOK_OUT(rc == hipSuccess, out), (size_expr), HOOK_SITE,      \
                 refused, NULL);                                               \
    hook_leave();                                                              \
    return rc;                                                                 \
  }

#define FREE(name, api, params, args, ptr)                                     \
  WSLA_EXPORT hipError_t name params {                                         \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_taken taken;                                                   \
    struct wsla_proc *p = hook_enter_free((uint64_t)(uintptr_t)ptr, &taken);  \
    hipError_t rc = wsla_free_if_own((uint64_t)(uintptr_t)ptr) ? hipSuccess   \
                                                               : real args;    \
    if (p)                                                                     \
      wsla_track_free(p, api, rc, rc == hipSuccess, (uint64_t)(uintptr_t)ptr,  \
                      &taken, HOOK_SITE, wsla_now(p));                         \
    hook_leave_free();                                                         \
    return rc;                                                                 \
  }

DEVICE_ALLOC(hipMalloc, WSLA_API_hipMalloc, 0, (void **ptr, size_t size),
             (ptr, size), ptr, size, size, true)
DEVICE_ALLOC(hipMallocManaged, WSLA_API_hipMallocManaged, WSLA_F_MANAGED,
             (void **ptr, size_t size, unsigned int flags), (ptr, size, flags),
             ptr, size, size, false)
DEVICE_ALLOC(hipExtMallocWithFlags, WSLA_API_hipExtMallocWithFlags, 0,
             (void **ptr, size_t size, unsigned int flags), (ptr, size, flags),
             ptr, size, size, true)
DEVICE_ALLOC(hipMallocPitch, WSLA_API_hipMallocPitch, 0,
             (void **ptr, size_t *pitch, size_t width, size_t height),
             (ptr, pitch, width, height), ptr, hook_mul(width, height),
             hook_pitched(rc == hipSuccess, pitch, width, height), false)
DEVICE_ALLOC(hipMallocAsync, WSLA_API_hipMallocAsync, WSLA_F_ASYNC,
             (void **ptr, size_t size, hipStream_t stream),
             (ptr, size, stream), ptr, size, size, false)
DEVICE_ALLOC(hipMallocFromPoolAsync, WSLA_API_hipMallocFromPoolAsync,
             WSLA_F_ASYNC,
             (void **ptr, size_t size, hipMemPool_t pool, hipStream_t stream),
             (ptr, size, pool, stream), ptr, size, size, false)

HOST_ALLOC(hipHostMalloc, WSLA_API_hipHostMalloc,
           (void **ptr, size_t size, unsigned int flags), (ptr, size, flags),
           ptr, size)
HOST_ALLOC(hipMallocHost, WSLA_API_hipMallocHost, (void **ptr, size_t size),
           (ptr, size), ptr, size)

FREE(hipFree, WSLA_API_hipFree, (void *ptr), (ptr), ptr)
FREE(hipFreeAsync, WSLA_API_hipFreeAsync, (void *ptr, hipStream_t stream),
     (ptr, stream), ptr)
FREE(hipHostFree, WSLA_API_hipHostFree, (void *ptr), (ptr), ptr)
FREE(hipFreeHost, WSLA_API_hipFreeHost, (void *ptr), (ptr), ptr)
FREE(hipHostUnregister, WSLA_API_hipHostUnregister, (void *ptr), (ptr), ptr)

WSLA_EXPORT hipError_t hipHostRegister(void *ptr, size_t size,
                                       unsigned int flags) {
  REAL_OR_MISSING(hipHostRegister);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = p ? wsla_budget_refusal(p, true, -1, size) : 0;
  hipError_t rc = refused ? refuse() : real(ptr, size, flags);
  if (p)
    done_alloc(p, WSLA_API_hipHostRegister, -1, WSLA_F_HOST | WSLA_F_REGISTER,
               rc, rc == hipSuccess ? (uint64_t)(uintptr_t)ptr : 0, size,
               HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

WSLA_EXPORT hipError_t hipMemGetInfo(size_t *free_b, size_t *total_b) {
  REAL_OR_MISSING(hipMemGetInfo);
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
  REAL_OR_MISSING(hipMemCreate);
  struct wsla_proc *p = hook_enter();
  bool on_device = prop && prop->location.type == hipMemLocationTypeDevice;
  int16_t device = on_device ? (int16_t)prop->location.id : -1;
  int gate = on_device ? wsla_gate_pass() : 0;
  uint16_t refused = p && on_device ? wsla_budget_refusal(p, false, device, size) : 0;
  hipError_t rc = refused ? refuse() : real(handle, size, prop, flags);
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

/* A VMM call that allocates nothing: counted, and on success handed to the
   bookkeeping (done, with the call's own arguments in scope). */
#define VMM_CALL(name, params, args, done)                                     \
  WSLA_EXPORT hipError_t name params {                                         \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    hipError_t rc = real args;                                                 \
    if (p) {                                                                   \
      wsla_track_call(p, WSLA_API_##name, rc == hipSuccess);                  \
      if (rc == hipSuccess) done;                                              \
    }                                                                          \
    hook_leave();                                                              \
    return rc;                                                                 \
  }

VMM_CALL(hipMemRelease, (hipMemGenericAllocationHandle_t handle), (handle),
         wsla_vmm_released(p, WSLA_API_hipMemRelease, handle_key(handle), HOOK_SITE))
VMM_CALL(hipMemMap,
         (void *ptr, size_t size, size_t offset, hipMemGenericAllocationHandle_t handle,
          unsigned long long flags),
         (ptr, size, offset, handle, flags),
         wsla_vmm_mapped(p, WSLA_API_hipMemMap, (uint64_t)(uintptr_t)ptr, size,
                         handle_key(handle), HOOK_SITE))
VMM_CALL(hipMemUnmap, (void *ptr, size_t size), (ptr, size),
         wsla_vmm_unmapped(p, WSLA_API_hipMemUnmap, (uint64_t)(uintptr_t)ptr, size, HOOK_SITE))
VMM_CALL(hipMemAddressReserve,
         (void **ptr, size_t size, size_t align, void *addr, unsigned long long flags),
         (ptr, size, align, addr, flags),
         if (ptr) wsla_vmm_reserved(p, WSLA_API_hipMemAddressReserve,
                                    (uint64_t)(uintptr_t)*ptr, size, HOOK_SITE, true))
VMM_CALL(hipMemAddressFree, (void *ptr, size_t size), (ptr, size),
         wsla_vmm_reserved(p, WSLA_API_hipMemAddressFree, (uint64_t)(uintptr_t)ptr, size,
                           HOOK_SITE, false))

/* --- Context changes: passed through untouched, recorded nowhere; each
   success moves the context generation (shim.h), so that every thread asks
   HIP for its device again before its next allocation.  The context calls
   are deprecated in HIP, and still called. --- */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define CONTEXT_HOOK(name, params, args)                                       \
  WSLA_EXPORT hipError_t name params {                                         \
    REAL_OR_MISSING(name);                                                     \
    hipError_t rc = real args;                                                 \
    if (rc == hipSuccess) wsla_ctx_changed();                                  \
    return rc;                                                                 \
  }

CONTEXT_HOOK(hipSetDevice, (int device), (device))
CONTEXT_HOOK(hipCtxSetCurrent, (hipCtx_t ctx), (ctx))
CONTEXT_HOOK(hipCtxPushCurrent, (hipCtx_t ctx), (ctx))
CONTEXT_HOOK(hipCtxPopCurrent, (hipCtx_t *ctx), (ctx))
CONTEXT_HOOK(hipCtxCreate, (hipCtx_t *ctx, unsigned int flags, hipDevice_t device),
             (ctx, flags, device))
CONTEXT_HOOK(hipCtxDestroy, (hipCtx_t ctx), (ctx))
CONTEXT_HOOK(hipDevicePrimaryCtxRelease, (hipDevice_t dev), (dev))
CONTEXT_HOOK(hipDevicePrimaryCtxReset, (hipDevice_t dev), (dev))

#pragma GCC diagnostic pop
