/* CUDA driver hooks: cuMemAlloc_v2 and friends, and VMM, under the names the driver exports. */
#include <cuda.h>

#include "vmm.h"
#include "real.h"

/* --- The driver's operations for the hook skeletons (skeleton.h) --- */

#define HOOK_T CUresult
#define HOOK_OK CUDA_SUCCESS
#define HOOK_OOM CUDA_ERROR_OUT_OF_MEMORY
#define HOOK_LIB WSLA_LIB_CUDA
#define HOOK_FAMILY WSLA_LIB_CUDA
#define HOOK_LAYER "CUDA driver"
#define HOOK_MISSING CUDA_ERROR_NOT_FOUND

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
 * The frees, whose first argument is the address freed, take the thin path
 * only under the runtime's free of that same address (cudaFree reaching
 * cuMemFree_v2, its entry taken by the outer hook).  Another nested free
 * may be the client's, from a signal handler that interrupted a hook, and
 * goes to the body (hook_enter_free records it).
 */
#define HOOK_FUNCTION(name, params, args) THIN_ENTRY_IF(name, params, args, 1)
#define HOOK_FREE_FUNCTION(name, params, args, addr_expr)                      \
  THIN_ENTRY_IF(name, params, args,                                            \
                (uint64_t)(uintptr_t)(addr_expr) == wsla_tls.freeing)
#define THIN_ENTRY_IF(name, params, args, thin)                                \
  static __attribute__((noinline)) CUresult name##_body HOOK_SITE_PARAM params; \
  static __attribute__((noinline, cold)) CUresult name##_nested params {       \
    __typeof__(real_##name) fn_ = WSLA_REAL(WSLA_LIB_CUDA, name);              \
    if (fn_) return fn_ args;                                                  \
    return name##_body HOOK_SITE_ARG args;                                     \
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
    return name##_body HOOK_SITE_ARG args;                                     \
  }                                                                            \
  static __attribute__((noinline)) CUresult name##_body HOOK_SITE_PARAM params

#include "skeleton.h"
#include "cuda_family.h"

/* The budget's verdict on a request (0: go ahead); the device is the
   current context's, asked only when a device limit is set. */
static uint16_t family_refusal(struct wsla_proc *p, uint16_t flags, int16_t device,
                               uint64_t size) {
  (void)device;
  bool host = flags & WSLA_F_HOST;
  /* A limit's check is slow anyway: the driver is asked, and the cache
     corrected (see wsla_cuda_device). */
  int dev = !host && WSLA_UNLIKELY(wsla_opts.limit.num) ? wsla_cuda_device_fresh() : -1;
  return wsla_budget_refusal(p, host, dev, size);
}

/* The driver keeps no last-error state: its own code is the whole
   refusal, and a retry or a rescue leaves nothing behind. */
static inline CUresult family_refuse(void) { return CUDA_ERROR_OUT_OF_MEMORY; }
static inline CUresult family_pending_error(void) { return CUDA_SUCCESS; }
static inline void family_retried(CUresult rc) { (void)rc; }
static inline void family_after_ladder(bool ok, CUresult prior) { (void)ok, (void)prior; }

/* Only the client's own free gives back memory the shim owns; a nested one
   (the shim's, or the runtime's inside a call) goes to the driver. */
static inline bool family_free_own(uint64_t addr, bool outer) {
  return outer && wsla_free_if_own(addr);
}

/* --- The hooks --- */

HOOK_DEVICE_ALLOC(cuMemAlloc_v2, WSLA_API_cuMemAlloc_v2, 0, (CUdeviceptr *dptr, size_t size),
                  (dptr, size), dptr, size, size, true)
HOOK_FREE(cuMemFree_v2, WSLA_API_cuMemFree_v2, (CUdeviceptr dptr), (dptr), dptr)

HOOK_DEVICE_ALLOC(cuMemAllocPitch_v2, WSLA_API_cuMemAllocPitch_v2, 0,
                  (CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                   unsigned int element),
                  (dptr, pitch, width, height, element), dptr, hook_mul(width, height),
                  hook_pitched(rc == CUDA_SUCCESS, pitch, width, height), false)

HOOK_DEVICE_ALLOC(cuMemAllocManaged, WSLA_API_cuMemAllocManaged, WSLA_F_MANAGED,
                  (CUdeviceptr *dptr, size_t size, unsigned int flags), (dptr, size, flags),
                  dptr, size, size, false)

/* Stream-ordered: each with its per-thread-default-stream twin. */
HOOK_DEVICE_ALLOC_PTSZ(cuMemAllocAsync, WSLA_API_cuMemAllocAsync, WSLA_F_ASYNC,
                       (CUdeviceptr *dptr, size_t size, CUstream s), (dptr, size, s), dptr, size,
                       size, false)
HOOK_FREE_PTSZ(cuMemFreeAsync, WSLA_API_cuMemFreeAsync, (CUdeviceptr dptr, CUstream s),
               (dptr, s), dptr)
HOOK_DEVICE_ALLOC_PTSZ(cuMemAllocFromPoolAsync, WSLA_API_cuMemAllocFromPoolAsync, WSLA_F_ASYNC,
                       (CUdeviceptr *dptr, size_t size, CUmemoryPool pool, CUstream s),
                       (dptr, size, pool, s), dptr, size, size, false)

HOOK_HOST_ALLOC(cuMemAllocHost_v2, WSLA_API_cuMemAllocHost_v2, (void **pp, size_t size), (pp, size),
                pp, size)
HOOK_HOST_ALLOC(cuMemHostAlloc, WSLA_API_cuMemHostAlloc, (void **pp, size_t size, unsigned int f),
                (pp, size, f), pp, size)
HOOK_FREE(cuMemFreeHost, WSLA_API_cuMemFreeHost, (void *ptr), (ptr), ptr)
HOOK_HOST_REGISTER(cuMemHostRegister_v2, WSLA_API_cuMemHostRegister_v2)
HOOK_FREE(cuMemHostUnregister, WSLA_API_cuMemHostUnregister, (void *ptr), (ptr), ptr)

/* Physical memory belongs to the device its properties name, which need
   not be the current context's. */
HOOK_FUNCTION(cuMemCreate, (CUmemGenericAllocationHandle *handle,
                                 size_t size, const CUmemAllocationProp *prop,
                                 unsigned long long flags), (handle, size, prop, flags)) {
  HOOK_REAL_OR_MISSING(cuMemCreate);
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
                          site_,
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

/* The VMM calls that allocate nothing, and the client's memory query. */
HOOK_COUNTED(cuMemRelease, (CUmemGenericAllocationHandle handle), (handle),
             if (rc == CUDA_SUCCESS) wsla_vmm_released(p, WSLA_API_cuMemRelease, handle, site_))
HOOK_COUNTED(cuMemMap,
             (CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
              unsigned long long flags),
             (ptr, size, offset, handle, flags),
             if (rc == CUDA_SUCCESS)
                 wsla_vmm_mapped(p, WSLA_API_cuMemMap, ptr, size, handle, site_))
HOOK_COUNTED(cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size),
             if (rc == CUDA_SUCCESS) wsla_vmm_unmapped(p, WSLA_API_cuMemUnmap, ptr, size, site_))
HOOK_COUNTED(cuMemAddressReserve,
             (CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr,
              unsigned long long flags),
             (ptr, size, align, addr, flags),
             if (rc == CUDA_SUCCESS && ptr)
                 wsla_vmm_reserved(p, WSLA_API_cuMemAddressReserve, *ptr, size, site_, true);
             else wsla_emit(p, WSLA_EV_FAIL, WSLA_API_cuMemAddressReserve, -1, WSLA_F_VMM, rc,
                            0, size, site_, 0, wsla_now(p)))
HOOK_COUNTED(cuMemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size),
             if (rc == CUDA_SUCCESS)
                 wsla_vmm_reserved(p, WSLA_API_cuMemAddressFree, ptr, size, site_, false))
HOOK_COUNTED(cuMemGetInfo_v2, (size_t *free_b, size_t *total_b), (free_b, total_b),
             if (rc == CUDA_SUCCESS && free_b && total_b) wsla_cuda_meminfo(p, free_b, total_b))

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
HOOK_COUNTED(cuDeviceGetAttribute, (int *value, CUdevice_attribute attr, CUdevice dev),
             (value, attr, dev),
             if (rc == CUDA_SUCCESS && value && *value &&
                 attr == CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED &&
                 (wsla_opts.vmm.num == WSLA_VMM_OFF ||
                  (wsla_opts.vmm.num == WSLA_VMM_AUTO && !reservation_works(dev)))) *value = 0)

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

HOOK_CONTEXT(cuCtxSetCurrent, (CUcontext ctx), (ctx))
HOOK_CONTEXT(cuCtxPushCurrent_v2, (CUcontext ctx), (ctx))
HOOK_CONTEXT(cuCtxPopCurrent_v2, (CUcontext *pctx), (pctx))
HOOK_CONTEXT(cuCtxCreate_v2, (CUcontext *pctx, unsigned int flags, CUdevice dev),
             (pctx, flags, dev))
HOOK_CONTEXT(cuCtxCreate_v3, (CUcontext *pctx, CUexecAffinityParam *params,
                              int num_params, unsigned int flags, CUdevice dev),
             (pctx, params, num_params, flags, dev))
HOOK_CONTEXT(cuCtxCreate_v4, (CUcontext *pctx, CUctxCreateParams *params,
                              unsigned int flags, CUdevice dev),
             (pctx, params, flags, dev))
HOOK_CONTEXT(cuCtxDestroy_v2, (CUcontext ctx), (ctx))
HOOK_CONTEXT(cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev))
HOOK_CONTEXT(cuDevicePrimaryCtxReset_v2, (CUdevice dev), (dev))
