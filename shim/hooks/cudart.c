/* CUDA runtime hooks: cudaMalloc and friends, recorded and passed through untouched. */
#include <cuda.h>
#include <cuda_runtime_api.h>

#include "budget.h"
#include "cuda_common.h"
#include "recover.h"
#include "owned.h"
#include "real.h"

static int warned_missing;

static cudaError_t missing(const char *name) {
  wsla_warn_once(&warned_missing,
                 "no CUDA runtime in this process provides %s", name);
  return cudaErrorSharedObjectSymbolNotFound;
}

#define REAL_OR_MISSING(name)                                                  \
  __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_CUDART, name);            \
  if (WSLA_UNLIKELY(!real)) return missing(#name)

/* The budget's verdict on a request (0: go ahead).  The device is asked of
   the runtime before the call, and only when a device limit is set:
   cudaGetDevice leaves the last error alone when it succeeds. */
static uint16_t refusal(struct wsla_proc *p, uint16_t flags, uint64_t size) {
  if (!p) return 0;
  bool host = flags & WSLA_F_HOST;
  int dev = -1;
  if (!host && WSLA_UNLIKELY(wsla_opts.limit.num)) {
    __typeof__(real_cudaGetDevice) get = WSLA_REAL(WSLA_LIB_CUDART, cudaGetDevice);
    if (!get || get(&dev) != cudaSuccess) dev = -1;
    /* Slow anyway: the thread's cached device is put right here too (see
       wsla_cuda_device), as the driver sees it. */
    (void)wsla_cuda_device_fresh();
  }
  return wsla_budget_refusal(p, host, dev, size);
}

/* Refuses a request as the runtime itself would: a genuine out-of-memory
   failure from the real runtime sets its own last-error state. */
static cudaError_t refuse(void) {
  __typeof__(real_cudaMalloc) m = WSLA_REAL(WSLA_LIB_CUDART, cudaMalloc);
  void *none = NULL;
  if (m && m(&none, (size_t)1 << 62) == cudaSuccess) cudaFree(none);
  return cudaErrorMemoryAllocation;
}

/* The real call, unless a budget refuses the request first; through the
   gate (budget.h), so that a largest-block probe in another thread never
   takes the memory of a device request: one that fails while a probe ran
   is retried after it, and the first failure's last error goes (an error
   pending before it, which that failure overwrote, cannot be put back). */
#define WITHIN_BUDGET(flags, size, call)                                       \
  __extension__({                                                              \
    int gate_ = wsla_gate();                                                   \
    cudaError_t rc_;                                                           \
    if (WSLA_UNLIKELY(gate_ & (WSLA_GATE_BUDGET | WSLA_GATE_PROBE)) &&         \
        (gate_ = (flags) & WSLA_F_HOST ? gate_ : wsla_probe_yield(gate_),      \
         gate_ & WSLA_GATE_BUDGET) &&                                          \
        (refused = refusal(p, (flags), (size))) != 0) {                        \
      rc_ = refuse();                                                          \
    } else {                                                                   \
      rc_ = (call);                                                            \
      if (WSLA_UNLIKELY(rc_ == cudaErrorMemoryAllocation) &&                   \
          !((flags) & WSLA_F_HOST) && wsla_probe_overlapped(gate_)) {          \
        rc_ = (call);                                                          \
        __typeof__(real_cudaGetLastError) get_ =                               \
            WSLA_REAL(WSLA_LIB_CUDART, cudaGetLastError);                      \
        if (rc_ == cudaSuccess && get_) get_();                                \
      }                                                                        \
    }                                                                          \
    rc_;                                                                       \
  })

/* With WSLALLOC_RECOVER on, the error already pending before the call: a
   call the ladder rescues must leave the last error as a first attempt
   that worked would have, and that is only known from here. */
static inline cudaError_t pending_error(void) {
  if (WSLA_LIKELY(!wsla_opts.recover.num)) return cudaSuccess;
  __typeof__(real_cudaPeekAtLastError) peek =
      WSLA_REAL(WSLA_LIB_CUDART, cudaPeekAtLastError);
  return peek ? peek() : cudaSuccess;
}

/* The rescued call's first failure set the last error; it goes, unless an
   error was pending before (which the failure overwrote: CUDA keeps only
   the newest, so that one cannot be put back). */
static void forget_failure(cudaError_t prior) {
  __typeof__(real_cudaGetLastError) get =
      WSLA_REAL(WSLA_LIB_CUDART, cudaGetLastError);
  if (prior == cudaSuccess && get) get();
}

#define LADDER_STATE                                                           \
  struct wsla_ladder ladder;                                                   \
  const struct wsla_ladder *laddered = NULL;                                   \
  cudaError_t prior = pending_error()

/* On an out-of-memory failure, with WSLALLOC_RECOVER: the ladder's steps,
   retrying the same call after each. */
#define RECOVER(size, call)                                                    \
  WSLA_CUDA_RECOVER(cudaErrorMemoryAllocation, cudaSuccess, size, call, false, \
                    WSLA_NO_SERVE, forget_failure(prior))

static inline bool forced_stitch(struct wsla_proc *p, uint64_t size,
                                 void **out) {
  uint64_t va;
  if (WSLA_LIKELY(wsla_opts.stitch.num != WSLA_STITCH_FORCE) || !out ||
      !wsla_cuda_forced_stitch(p, size, &va))
    return false;
  *out = (void *)(uintptr_t)va;
  return true;
}

static void done_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                       cudaError_t rc, uint64_t addr, uint64_t size,
                       uint64_t site, uint16_t cause,
                       const struct wsla_ladder *ladder) {
  wsla_cuda_alloc(p, api, flags, rc == cudaSuccess,
                  rc == cudaErrorMemoryAllocation, rc, addr, size, site, cause,
                  ladder);
}

static cudaError_t done_free(struct wsla_proc *p, uint16_t api, void *ptr,
                             cudaError_t rc, const struct wsla_taken *taken,
                             uint64_t site) {
  wsla_cuda_free(p, api, rc == cudaSuccess, rc, (uint64_t)(uintptr_t)ptr, taken, site);
  return rc;
}

static void take(struct wsla_proc *p, void *ptr, struct wsla_taken *taken) {
  wsla_cuda_take(p, (uint64_t)(uintptr_t)ptr, taken);
}

WSLA_EXPORT cudaError_t cudaMalloc(void **devPtr, size_t size) {
  REAL_OR_MISSING(cudaMalloc);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  cudaError_t rc = WITHIN_BUDGET(
      0, size, forced_stitch(p, size, devPtr) ? cudaSuccess : real(devPtr, size));
#define SERVE(va) (*devPtr = (void *)(uintptr_t)(va))
  WSLA_CUDA_RECOVER(cudaErrorMemoryAllocation, cudaSuccess, size,
                    real(devPtr, size), devPtr != NULL, SERVE,
                    forget_failure(prior));
#undef SERVE
  if (p)
    done_alloc(p, WSLA_API_cudaMalloc, 0, rc,
               HOOK_OUT(rc == cudaSuccess, devPtr), size, HOOK_SITE, refused, laddered);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaFree(void *devPtr) {
  REAL_OR_MISSING(cudaFree);
  uint64_t addr = (uint64_t)(uintptr_t)devPtr;
  struct wsla_taken taken;
  struct wsla_proc *p = hook_enter_free(addr, &taken);
  cudaError_t rc = wsla_free_if_own(addr) ? cudaSuccess : real(devPtr);
  if (p) done_free(p, WSLA_API_cudaFree, devPtr, rc, &taken, HOOK_SITE);
  hook_leave_free();
  return rc;
}

WSLA_EXPORT cudaError_t cudaMallocPitch(void **devPtr, size_t *pitch,
                                        size_t width, size_t height) {
  REAL_OR_MISSING(cudaMallocPitch);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  cudaError_t rc = WITHIN_BUDGET(0, hook_mul(width, height),
                                real(devPtr, pitch, width, height));
  RECOVER(hook_mul(width, height), real(devPtr, pitch, width, height));
  if (p)
    done_alloc(p, WSLA_API_cudaMallocPitch, 0, rc,
               HOOK_OUT(rc == cudaSuccess, devPtr),
               hook_pitched(rc == cudaSuccess, pitch, width, height),
               HOOK_SITE, refused, laddered);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaMalloc3D(struct cudaPitchedPtr *pitchedDevPtr,
                                     struct cudaExtent extent) {
  REAL_OR_MISSING(cudaMalloc3D);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  uint64_t size = hook_mul(hook_mul(extent.width, extent.height), extent.depth);
  cudaError_t rc = WITHIN_BUDGET(0, size, real(pitchedDevPtr, extent));
  RECOVER(size, real(pitchedDevPtr, extent));
  if (p) {
    uint64_t addr = rc == cudaSuccess && pitchedDevPtr
                        ? (uint64_t)(uintptr_t)pitchedDevPtr->ptr
                        : 0;
    done_alloc(p, WSLA_API_cudaMalloc3D, 0, rc, addr,
               hook_pitched(addr != 0, pitchedDevPtr ? &pitchedDevPtr->pitch : NULL, extent.width,
                            hook_mul(extent.height, extent.depth)),
               HOOK_SITE, refused, laddered);
  }
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaMallocManaged(void **devPtr, size_t size,
                                          unsigned int flags) {
  REAL_OR_MISSING(cudaMallocManaged);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  LADDER_STATE;
  cudaError_t rc = WITHIN_BUDGET(WSLA_F_MANAGED, size,
                                real(devPtr, size, flags));
  RECOVER(size, real(devPtr, size, flags));
  if (p)
    done_alloc(p, WSLA_API_cudaMallocManaged, WSLA_F_MANAGED, rc,
               HOOK_OUT(rc == cudaSuccess, devPtr), size, HOOK_SITE, refused, laddered);
  hook_leave();
  return rc;
}

#define MALLOC_ASYNC(name)                                                     \
  WSLA_EXPORT cudaError_t name(void **devPtr, size_t size,                     \
                               cudaStream_t stream) {                          \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    uint16_t refused = 0;                                                      \
    LADDER_STATE;                                                              \
    cudaError_t rc = WITHIN_BUDGET(WSLA_F_ASYNC, size,                         \
                                  real(devPtr, size, stream));                \
    RECOVER(size, real(devPtr, size, stream));                               \
    if (p)                                                                     \
      done_alloc(p, WSLA_API_cudaMallocAsync, WSLA_F_ASYNC, rc,                \
                 HOOK_OUT(rc == cudaSuccess, devPtr), size, HOOK_SITE, refused, laddered);        \
    hook_leave();                                                              \
    return rc;                                                                 \
  }
MALLOC_ASYNC(cudaMallocAsync)
MALLOC_ASYNC(cudaMallocAsync_ptsz)

#define FREE_ASYNC(name)                                                       \
  WSLA_EXPORT cudaError_t name(void *devPtr, cudaStream_t stream) {            \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    struct wsla_taken taken;                                                   \
    take(p, devPtr, &taken);                                                   \
    /* The shim's own blocks (stitched, spilled) never reach the runtime,   \
       as with cudaFree: given back at once, after the device is done. */   \
    cudaError_t rc = wsla_free_if_own((uint64_t)(uintptr_t)devPtr)            \
                         ? cudaSuccess                                         \
                         : real(devPtr, stream);                               \
    if (p)                                                                     \
      done_free(p, WSLA_API_cudaFreeAsync, devPtr, rc, &taken, HOOK_SITE);    \
    hook_leave();                                                              \
    return rc;                                                                 \
  }
FREE_ASYNC(cudaFreeAsync)
FREE_ASYNC(cudaFreeAsync_ptsz)

#define MALLOC_FROM_POOL(name)                                                 \
  WSLA_EXPORT cudaError_t name(void **ptr, size_t size, cudaMemPool_t pool,    \
                               cudaStream_t stream) {                          \
    REAL_OR_MISSING(name);                                                     \
    struct wsla_proc *p = hook_enter();                                        \
    uint16_t refused = 0;                                                      \
    LADDER_STATE;                                                              \
    cudaError_t rc = WITHIN_BUDGET(WSLA_F_ASYNC, size,                         \
                                  real(ptr, size, pool, stream));             \
    RECOVER(size, real(ptr, size, pool, stream));                            \
    if (p)                                                                     \
      done_alloc(p, WSLA_API_cudaMallocFromPoolAsync, WSLA_F_ASYNC, rc,        \
                 HOOK_OUT(rc == cudaSuccess, ptr), size, HOOK_SITE, refused, laddered);           \
    hook_leave();                                                              \
    return rc;                                                                 \
  }
MALLOC_FROM_POOL(cudaMallocFromPoolAsync)
MALLOC_FROM_POOL(cudaMallocFromPoolAsync_ptsz)

WSLA_EXPORT cudaError_t cudaMallocHost(void **ptr, size_t size) {
  REAL_OR_MISSING(cudaMallocHost);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  cudaError_t rc = WITHIN_BUDGET(WSLA_F_HOST, size,
                                real(ptr, size));
  if (p)
    done_alloc(p, WSLA_API_cudaMallocHost, WSLA_F_HOST, rc,
               HOOK_OUT(rc == cudaSuccess, ptr), size, HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaHostAlloc(void **pHost, size_t size,
                                      unsigned int flags) {
  REAL_OR_MISSING(cudaHostAlloc);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  cudaError_t rc = WITHIN_BUDGET(WSLA_F_HOST, size,
                                real(pHost, size, flags));
  if (p)
    done_alloc(p, WSLA_API_cudaHostAlloc, WSLA_F_HOST, rc,
               HOOK_OUT(rc == cudaSuccess, pHost), size, HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaFreeHost(void *ptr) {
  REAL_OR_MISSING(cudaFreeHost);
  struct wsla_taken taken;
  struct wsla_proc *p = hook_enter_free((uint64_t)(uintptr_t)ptr, &taken);
  cudaError_t rc = real(ptr);
  if (p) done_free(p, WSLA_API_cudaFreeHost, ptr, rc, &taken, HOOK_SITE);
  hook_leave_free();
  return rc;
}

WSLA_EXPORT cudaError_t cudaHostRegister(void *ptr, size_t size,
                                         unsigned int flags) {
  REAL_OR_MISSING(cudaHostRegister);
  struct wsla_proc *p = hook_enter();
  uint16_t refused = 0;
  cudaError_t rc = WITHIN_BUDGET(WSLA_F_HOST | WSLA_F_REGISTER, size,
                                real(ptr, size, flags));
  if (p)
    done_alloc(p, WSLA_API_cudaHostRegister, WSLA_F_HOST | WSLA_F_REGISTER,
               rc, rc == cudaSuccess ? (uint64_t)(uintptr_t)ptr : 0, size,
               HOOK_SITE, refused, NULL);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaHostUnregister(void *ptr) {
  REAL_OR_MISSING(cudaHostUnregister);
  struct wsla_proc *p = hook_enter();
  struct wsla_taken taken;
  take(p, ptr, &taken);
  cudaError_t rc = real(ptr);
  if (p)
    done_free(p, WSLA_API_cudaHostUnregister, ptr, rc, &taken, HOOK_SITE);
  hook_leave();
  return rc;
}

WSLA_EXPORT cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
  REAL_OR_MISSING(cudaMemGetInfo);
  struct wsla_proc *p = hook_enter();
  cudaError_t rc = real(free_b, total_b);
  if (p) {
    wsla_track_call(p, WSLA_API_cudaMemGetInfo, rc == cudaSuccess);
    /* The client's own answer is a device view that costs us nothing. */
    if (rc == cudaSuccess && free_b && total_b)
      wsla_cuda_meminfo(p, free_b, total_b);
  }
  hook_leave();
  return rc;
}

/* Passed through untouched and recorded nowhere: a success moves the
   context generation (shim.h), so that the thread's next allocation asks
   the driver for its device again. */
WSLA_EXPORT cudaError_t cudaSetDevice(int device) {
  REAL_OR_MISSING(cudaSetDevice);
  cudaError_t rc = real(device);
  if (rc == cudaSuccess) wsla_ctx_changed();
  return rc;
}
