/* CUDA driver hooks: cuMemAlloc_v2 and friends, and VMM, under the names the driver exports. */
#include <cuda.h>

#include "budget.h"
#include "cuda_common.h"
#include "recover.h"
#include "owned.h"
#include "vmm.h"
#include "real.h"

static int warned_missing;

static CUresult missing(const char *name) {
  wsla_warn_once(&warned_missing, "no CUDA driver in this process provides %s",
                 name);
  return CUDA_ERROR_NOT_FOUND;
}

#define REAL_OR_MISSING(name)                                                  \
  __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_CUDA, name);              \
  if (WSLA_UNLIKELY(!real)) return missing(#name)

/* The budget's verdict on a request (0: go ahead); the device is the
   current context's, asked only when a device limit is set. */
static uint16_t refusal(struct wsla_proc *p, uint16_t flags, uint64_t size) {
  if (!p) return 0;
  bool host = flags & WSLA_F_HOST;
  /* A limit's check is slow anyway: the driver is asked, and the cache
     corrected (see wsla_cuda_device). */
  int dev = !host && WSLA_UNLIKELY(wsla_opts.limit.num) ? wsla_cuda_device_fresh() : -1;
  return wsla_budget_refusal(p, host, dev, size);
}

/* The driver keeps no last-error state: its own code is the whole refusal.
   Through the gate (budget.h): a device request that fails while a
   largest-block probe ran in another thread is retried after it. */
#define WITHIN_BUDGET(flags, size, call)                                       \
  __extension__({                                                              \
    int gate_ = wsla_gate();                                                   \
    CUresult rc_;                                                              \
    if (WSLA_UNLIKELY(gate_ & (WSLA_GATE_BUDGET | WSLA_GATE_PROBE)) &&         \
        (gate_ = (flags) & WSLA_F_HOST ? gate_ : wsla_probe_yield(gate_),      \
         gate_ & WSLA_GATE_BUDGET) &&                                          \
        (refused = refusal(p, (flags), (size))) != 0) {                        \
      rc_ = CUDA_ERROR_OUT_OF_MEMORY;                                          \
    } else {                                                                   \
      rc_ = (call);                                                            \
      if (WSLA_UNLIKELY(rc_ == CUDA_ERROR_OUT_OF_MEMORY) &&                    \
          !((flags) & WSLA_F_HOST) && wsla_probe_overlapped(gate_))            \
        rc_ = (call);                                                          \
    }                                                                          \
    rc_;                                                                       \
  })

#define LADDER_STATE                                                           \
  struct wsla_ladder ladder;                                                   \
  const struct wsla_ladder *laddered = NULL

/* On an out-of-memory failure, with WSLALLOC_RECOVER: the ladder's steps,
   retrying the same call after each. */
#define RECOVER(size, call)                                                    \
  WSLA_CUDA_RECOVER(CUDA_ERROR_OUT_OF_MEMORY, CUDA_SUCCESS, size, call, false, \
                    WSLA_NO_SERVE, (void)0)

static inline bool forced_stitch(struct wsla_proc *p, uint64_t size,
                                 CUdeviceptr *out) {
  uint64_t va;
  if (WSLA_LIKELY(wsla_opts.stitch.num != WSLA_STITCH_FORCE) || !out ||
      !wsla_cuda_forced_stitch(p, size, &va))
    return false;
  *out = (CUdeviceptr)va;
  return true;
}

static void done_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                       CUresult rc, uint64_t addr, uint64_t size,
                       uint64_t site, uint16_t cause,
                       const struct wsla_ladder *ladder) {
  wsla_cuda_alloc(p, api, flags, rc == CUDA_SUCCESS,
                  rc == CUDA_ERROR_OUT_OF_MEMORY, rc, addr, size, site, cause,
                  ladder);
}

#define DEVICE_OUT(rc, pp) ((rc) == CUDA_SUCCESS && (pp) ? (uint64_t)*(pp) : 0)

/*
 * Every driver hook is two functions.  The exported entry only tests the
 * nesting depth: under a runtime call (cudaMalloc reaching cuMemAlloc_v2)
 * the call was counted already, so it loads the real pointer and jumps to
 * it, with no prologue (this is every driver call NVIDIA's runtime makes for
 * the client).  Otherwise it tail-calls the hook's body, kept out of line so
 * that the body's register saves and stack frame stay off the nested path.
 * The body gets the client's return address from the entry, since a build
 * that does not make tail calls (sanitizers) would see the entry's instead.
 *
 *   THIN_ENTRY(name, (params), (args)) { body }
 *
 * The frees, whose first argument is the address freed, take the thin path
 * only under the runtime's free of that same address (cudaFree reaching
 * cuMemFree_v2, its entry taken by the outer hook).  Another nested free
 * may be the client's, from a signal handler that interrupted a hook, and
 * goes to the body (hook_enter_free records it):
 *
 *   THIN_FREE_ENTRY(name, (params), (args), address) { body }
 */
#define THIN_ENTRY(name, params, args) THIN_ENTRY_IF(name, params, args, 1)
#define THIN_FREE_ENTRY(name, params, args, addr_expr)                         \
  THIN_ENTRY_IF(name, params, args,                                            \
                (uint64_t)(uintptr_t)(addr_expr) == wsla_tls.freeing)
#define THIN_ENTRY_IF(name, params, args, thin)                                \
  static __attribute__((noinline)) CUresult name##_body SITE_PARAM params;    \
  static __attribute__((noinline, cold)) CUresult name##_nested params {       \
    __typeof__(real_##name) fn_ = WSLA_REAL(WSLA_LIB_CUDA, name);              \
    if (fn_) return fn_ args;                                                  \
    return name##_body SITE_ARG args;                                          \
  }                                                                            \
  WSLA_EXPORT CUresult name params {                                           \
    if (WSLA_UNLIKELY(wsla_tls.depth != 0) && (thin)) {                        \
      /* The slot WSLA_REAL fills; while it is empty, the cold path asks      \
         WSLA_REAL.  Acquire: pairs with the release store that fills it. */  \
      __typeof__(real_##name) fn_ =                                            \
          __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);                     \
      if (WSLA_LIKELY(fn_ != NULL)) return fn_ args;                           \
      return name##_nested args;                                               \
    }                                                                          \
    return name##_body SITE_ARG args;                                          \
  }                                                                            \
  static __attribute__((noinline)) CUresult name##_body SITE_PARAM params
#define SITE_PARAM(...) (uint64_t site_ __attribute__((unused)), __VA_ARGS__)
#define SITE_ARG(...) ((uint64_t)(uintptr_t)__builtin_return_address(0), __VA_ARGS__)
/* In a body, the client's call site is the one its entry passed. */
#undef HOOK_SITE
#define HOOK_SITE site_

/* A free hook's body.  Nested (see THIN_FREE_ENTRY), it is a free from a
   signal handler, recorded when the table has its address, else passed on
   to the real free as nested calls are. */
#define FREE_BODY(name, api, addr_expr, args)                                  \
  uint64_t addr = (addr_expr);                                                 \
  REAL_OR_MISSING(name);                                                       \
  bool outer = wsla_tls.depth == 0;                                            \
  struct wsla_taken taken;                                                     \
  struct wsla_proc *p = hook_enter_free(addr, &taken);                         \
  CUresult rc = outer && wsla_free_if_own(addr) ? CUDA_SUCCESS : real args;   \
  if (p) wsla_cuda_free(p, api, rc == CUDA_SUCCESS, rc, addr, &taken, HOOK_SITE); \
  hook_leave_free();                                                           \
  return rc

THIN_ENTRY(cuMemAlloc_v2, (CUdeviceptr *dptr, size_t size), (dptr, size)) {
  REAL_OR_MISSING(cuMemAlloc_v2);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  CUresult rc = WITHIN_BUDGET(
      0, size, forced_stitch(p, size, dptr) ? CUDA_SUCCESS : real(dptr, size));
#define SERVE(va) (*dptr = (CUdeviceptr)(va))
  WSLA_CUDA_RECOVER(CUDA_ERROR_OUT_OF_MEMORY, CUDA_SUCCESS, size,
                    real(dptr, size), dptr != NULL, SERVE, (void)0);
#undef SERVE
  if (p)
    done_alloc(p, WSLA_API_cuMemAlloc_v2, 0, rc, DEVICE_OUT(rc, dptr), size,
               HOOK_SITE, refused, laddered);
  hook_leave();
  return rc;
}

THIN_FREE_ENTRY(cuMemFree_v2, (CUdeviceptr dptr), (dptr), dptr) {
  FREE_BODY(cuMemFree_v2, WSLA_API_cuMemFree_v2, dptr, (dptr));
}

THIN_ENTRY(cuMemAllocPitch_v2, (CUdeviceptr *dptr, size_t *pitch,
                                        size_t width, size_t height,
                                        unsigned int element), (dptr, pitch, width, height, element)) {
  REAL_OR_MISSING(cuMemAllocPitch_v2);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  CUresult rc = WITHIN_BUDGET(0, hook_mul(width, height),
                             real(dptr, pitch, width, height, element));
  RECOVER(hook_mul(width, height), real(dptr, pitch, width, height, element));
  if (p)
    done_alloc(p, WSLA_API_cuMemAllocPitch_v2, 0, rc, DEVICE_OUT(rc, dptr),
               hook_pitched(rc == CUDA_SUCCESS, pitch, width, height), HOOK_SITE,
               refused, laddered);
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemAllocManaged, (CUdeviceptr *dptr, size_t size,
                                       unsigned int flags), (dptr, size, flags)) {
  REAL_OR_MISSING(cuMemAllocManaged);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  CUresult rc = WITHIN_BUDGET(WSLA_F_MANAGED, size,
                             real(dptr, size, flags));
  RECOVER(size, real(dptr, size, flags));
  if (p)
    done_alloc(p, WSLA_API_cuMemAllocManaged, WSLA_F_MANAGED, rc,
               DEVICE_OUT(rc, dptr), size, HOOK_SITE, refused, laddered);
  hook_leave();
  return rc;
}

#define ALLOC_ASYNC(name)                                                      \
  THIN_ENTRY(name, (CUdeviceptr *dptr, size_t size, CUstream s), (dptr, size, s)) {      \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    uint16_t refused = 0;                                                      \
    LADDER_STATE;                                                              \
    CUresult rc = WITHIN_BUDGET(WSLA_F_ASYNC, size,                            \
                               real(dptr, size, s));                           \
    RECOVER(size, real(dptr, size, s));                                        \
    if (p)                                                                     \
      done_alloc(p, WSLA_API_cuMemAllocAsync, WSLA_F_ASYNC, rc,                \
                 DEVICE_OUT(rc, dptr), size, HOOK_SITE, refused, laddered);                       \
    hook_leave();                                                              \
    return rc;                                                                 \
  }
ALLOC_ASYNC(cuMemAllocAsync)
ALLOC_ASYNC(cuMemAllocAsync_ptsz)

#define FREE_ASYNC(name)                                                       \
  THIN_FREE_ENTRY(name, (CUdeviceptr dptr, CUstream s), (dptr, s), dptr) {        \
    FREE_BODY(name, WSLA_API_cuMemFreeAsync, dptr, (dptr, s));                 \
  }
FREE_ASYNC(cuMemFreeAsync)
FREE_ASYNC(cuMemFreeAsync_ptsz)

#define ALLOC_FROM_POOL(name)                                                  \
  THIN_ENTRY(name, (CUdeviceptr *dptr, size_t size, CUmemoryPool pool, \
                            CUstream s), (dptr, size, pool, s)) {                                      \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    uint16_t refused = 0;                                                      \
    LADDER_STATE;                                                              \
    CUresult rc = WITHIN_BUDGET(WSLA_F_ASYNC, size,                            \
                               real(dptr, size, pool, s));                     \
    RECOVER(size, real(dptr, size, pool, s));                                  \
    if (p)                                                                     \
      done_alloc(p, WSLA_API_cuMemAllocFromPoolAsync, WSLA_F_ASYNC, rc,        \
                 DEVICE_OUT(rc, dptr), size, HOOK_SITE, refused, laddered);                       \
    hook_leave();                                                              \
    return rc;                                                                 \
  }
ALLOC_FROM_POOL(cuMemAllocFromPoolAsync)
ALLOC_FROM_POOL(cuMemAllocFromPoolAsync_ptsz)

THIN_ENTRY(cuMemAllocHost_v2, (void **pp, size_t size), (pp, size)) {
  REAL_OR_MISSING(cuMemAllocHost_v2);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  CUresult rc = WITHIN_BUDGET(WSLA_F_HOST, size,
                             real(pp, size));
  if (p)
    done_alloc(p, WSLA_API_cuMemAllocHost_v2, WSLA_F_HOST, rc,
               HOOK_OUT(rc == CUDA_SUCCESS, pp), size, HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemHostAlloc, (void **pp, size_t size, unsigned int f), (pp, size, f)) {
  REAL_OR_MISSING(cuMemHostAlloc);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  CUresult rc = WITHIN_BUDGET(WSLA_F_HOST, size,
                             real(pp, size, f));
  if (p)
    done_alloc(p, WSLA_API_cuMemHostAlloc, WSLA_F_HOST, rc,
               HOOK_OUT(rc == CUDA_SUCCESS, pp), size, HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

THIN_FREE_ENTRY(cuMemFreeHost, (void *ptr), (ptr), ptr) {
  FREE_BODY(cuMemFreeHost, WSLA_API_cuMemFreeHost, (uint64_t)(uintptr_t)ptr,
            (ptr));
}

THIN_ENTRY(cuMemHostRegister_v2, (void *ptr, size_t size,
                                          unsigned int f), (ptr, size, f)) {
  REAL_OR_MISSING(cuMemHostRegister_v2);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  CUresult rc = WITHIN_BUDGET(WSLA_F_HOST | WSLA_F_REGISTER, size,
                             real(ptr, size, f));
  if (p)
    done_alloc(p, WSLA_API_cuMemHostRegister_v2, WSLA_F_HOST | WSLA_F_REGISTER,
               rc, rc == CUDA_SUCCESS ? (uint64_t)(uintptr_t)ptr : 0, size,
               HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

THIN_FREE_ENTRY(cuMemHostUnregister, (void *ptr), (ptr), ptr) {
  FREE_BODY(cuMemHostUnregister, WSLA_API_cuMemHostUnregister,
            (uint64_t)(uintptr_t)ptr, (ptr));
}

/* Physical memory belongs to the device its properties name, which need
   not be the current context's. */
THIN_ENTRY(cuMemCreate, (CUmemGenericAllocationHandle *handle,
                                 size_t size, const CUmemAllocationProp *prop,
                                 unsigned long long flags), (handle, size, prop, flags)) {
  REAL_OR_MISSING(cuMemCreate);
  struct wsla_proc *p = hook_enter();
  bool on_device = prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE;
  int gate = on_device ? wsla_gate_pass() : 0;
  uint16_t refused =
      p && on_device ? wsla_budget_refusal(p, false, prop->location.id, size) : 0;
  CUresult rc = refused ? CUDA_ERROR_OUT_OF_MEMORY
                        : real(handle, size, prop, flags);
  /* A probe in another thread ran meanwhile: retried after it (budget.h). */
  if (WSLA_UNLIKELY(rc == CUDA_ERROR_OUT_OF_MEMORY) && on_device && !refused &&
      wsla_probe_overlapped(gate))
    rc = real(handle, size, prop, flags);
  if (p) {
    struct wsla_call c = {WSLA_API_cuMemCreate,
                          on_device ? (int16_t)prop->location.id : -1,
                          on_device ? WSLA_F_VMM : WSLA_F_VMM | WSLA_F_HOST,
                          rc,
                          rc == CUDA_SUCCESS,
                          rc == CUDA_ERROR_OUT_OF_MEMORY,
                          rc == CUDA_SUCCESS && handle ? *handle : 0,
                          size,
                          HOOK_SITE,
                          wsla_now(p),
                          refused,
                          NULL,
                          0,
                          0};
    struct wsla_view v;
    bool have_view = c.oom && wsla_cuda_view(p, &v);
    if (have_view && on_device) c.pool_cached = wsla_pool_cached(WSLA_LIB_CUDA, c.device);
    wsla_track_alloc(p, &c, have_view ? &v : NULL);
    if (c.ok) wsla_vmm_created(p, c.addr, c.device);
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemRelease, (CUmemGenericAllocationHandle handle), (handle)) {
  REAL_OR_MISSING(cuMemRelease);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(handle);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemRelease, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS) wsla_vmm_released(p, WSLA_API_cuMemRelease, handle, HOOK_SITE);
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemMap, (CUdeviceptr ptr, size_t size, size_t offset,
                              CUmemGenericAllocationHandle handle,
                              unsigned long long flags), (ptr, size, offset, handle, flags)) {
  REAL_OR_MISSING(cuMemMap);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(ptr, size, offset, handle, flags);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemMap, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS) wsla_vmm_mapped(p, WSLA_API_cuMemMap, ptr, size, handle, HOOK_SITE);
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size)) {
  REAL_OR_MISSING(cuMemUnmap);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(ptr, size);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemUnmap, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS) wsla_vmm_unmapped(p, WSLA_API_cuMemUnmap, ptr, size, HOOK_SITE);
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemAddressReserve, (CUdeviceptr *ptr, size_t size,
                                         size_t align, CUdeviceptr addr,
                                         unsigned long long flags), (ptr, size, align, addr, flags)) {
  REAL_OR_MISSING(cuMemAddressReserve);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(ptr, size, align, addr, flags);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemAddressReserve, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS && ptr)
      wsla_vmm_reserved(p, WSLA_API_cuMemAddressReserve, *ptr, size, HOOK_SITE, true);
    else
      wsla_emit(p, WSLA_EV_FAIL, WSLA_API_cuMemAddressReserve, -1, WSLA_F_VMM,
                rc, 0, size, HOOK_SITE, 0, wsla_now(p));
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size)) {
  REAL_OR_MISSING(cuMemAddressFree);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(ptr, size);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemAddressFree, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS)
      wsla_vmm_reserved(p, WSLA_API_cuMemAddressFree, ptr, size, HOOK_SITE, false);
  }
  hook_leave();
  return rc;
}

THIN_ENTRY(cuMemGetInfo_v2, (size_t *free_b, size_t *total_b), (free_b, total_b)) {
  REAL_OR_MISSING(cuMemGetInfo_v2);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(free_b, total_b);
  if (p) {
    wsla_track_call(p, WSLA_API_cuMemGetInfo_v2, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS && free_b && total_b)
      wsla_cuda_meminfo(p, free_b, total_b);
  }
  hook_leave();
  return rc;
}

/* WSLALLOC_VMM=auto: whether a reservation as large as llama.cpp's pool
   makes (32 GiB) succeeds on this device; tried once per device, at the
   first query, and given back at once. */
static bool reservation_works(int dev) {
  static int8_t verdict[WSLA_DEVICE_MAX]; /* 0 unknown, 1 works, -1 refused */
  if (dev < 0 || dev >= (int)WSLA_DEVICE_MAX) return true;
  int8_t v = __atomic_load_n(&verdict[dev], __ATOMIC_RELAXED);
  if (v) return v > 0;
  __typeof__(real_cuMemAddressReserve) reserve =
      WSLA_REAL(WSLA_LIB_CUDA, cuMemAddressReserve);
  __typeof__(real_cuMemAddressFree) release =
      WSLA_REAL(WSLA_LIB_CUDA, cuMemAddressFree);
  CUdeviceptr va = 0;
  const size_t size = (size_t)32 << 30;
  bool works = reserve && reserve(&va, size, 0, 0, 0) == CUDA_SUCCESS;
  if (works && release) release(va, size);
  __atomic_store_n(&verdict[dev], works ? 1 : -1, __ATOMIC_RELAXED);
  return works;
}

/* WSLALLOC_VMM=off answers "no VMM support", so that llama.cpp takes its
   legacy pool instead of reserving 32 GiB of address space, which WDDM is
   reported to refuse; auto answers so only where that reservation fails.
   The default passes the attribute through. */
THIN_ENTRY(cuDeviceGetAttribute, (int *value, CUdevice_attribute attr,
                                          CUdevice dev), (value, attr, dev)) {
  REAL_OR_MISSING(cuDeviceGetAttribute);
  struct wsla_proc *p = hook_enter();
  CUresult rc = real(value, attr, dev);
  if (p) {
    wsla_track_call(p, WSLA_API_cuDeviceGetAttribute, rc == CUDA_SUCCESS);
    if (rc == CUDA_SUCCESS && value && *value &&
        attr == CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED &&
        (wsla_opts.vmm.num == WSLA_VMM_OFF ||
         (wsla_opts.vmm.num == WSLA_VMM_AUTO && !reservation_works(dev))))
      *value = 0;
  }
  hook_leave();
  return rc;
}

/* --- Context changes: passed through untouched, recorded nowhere; each
   success moves the context generation (shim.h), so that every thread asks
   the driver for its device again before its next allocation.  Nested
   (under a runtime call) they only jump, as every driver hook does: such a
   change is the runtime's own, either balanced (a push and its pop around
   the call) or binding a context on a thread whose cache is already empty
   (its first call, or one after a change the hooks saw), and the allocation
   is asked about after it.  Moving the shared generation there would put a
   locked add on a shared line into every call of a runtime that pushes and
   pops, and empty every thread's cache each time.  A nested change that
   does stay (one from a signal handler) is caught by the next sample. --- */

#define CONTEXT_HOOK(name, params, args)                                       \
  THIN_ENTRY(name, params, args) {                                             \
    REAL_OR_MISSING(name);                                                     \
    CUresult rc = real args;                                                   \
    if (rc == CUDA_SUCCESS) wsla_ctx_changed();                                \
    return rc;                                                                 \
  }

CONTEXT_HOOK(cuCtxSetCurrent, (CUcontext ctx), (ctx))
CONTEXT_HOOK(cuCtxPushCurrent_v2, (CUcontext ctx), (ctx))
CONTEXT_HOOK(cuCtxPopCurrent_v2, (CUcontext *pctx), (pctx))
CONTEXT_HOOK(cuCtxCreate_v2, (CUcontext *pctx, unsigned int flags, CUdevice dev),
             (pctx, flags, dev))
CONTEXT_HOOK(cuCtxCreate_v3, (CUcontext *pctx, CUexecAffinityParam *params,
                              int num_params, unsigned int flags, CUdevice dev),
             (pctx, params, num_params, flags, dev))
CONTEXT_HOOK(cuCtxCreate_v4, (CUcontext *pctx, CUctxCreateParams *params,
                              unsigned int flags, CUdevice dev),
             (pctx, params, flags, dev))
CONTEXT_HOOK(cuCtxDestroy_v2, (CUcontext ctx), (ctx))
CONTEXT_HOOK(cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev))
CONTEXT_HOOK(cuDevicePrimaryCtxReset_v2, (CUdevice dev), (dev))
