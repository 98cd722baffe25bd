/* CUDA runtime hooks: cudaMalloc and friends, recorded and passed through untouched. */
#include <cuda.h>
#include <cuda_runtime_api.h>

#include "real.h"


/* --- The runtime's operations for the hook skeletons (skeleton.h) --- */

#define HOOK_T cudaError_t
#define HOOK_OK cudaSuccess
#define HOOK_OOM cudaErrorMemoryAllocation
#define HOOK_LIB WSLA_LIB_CUDART
#define HOOK_FAMILY WSLA_LIB_CUDA
#define HOOK_LAYER "CUDA runtime"
#define HOOK_MISSING cudaErrorSharedObjectSymbolNotFound

#include "skeleton.h"
#include "cuda_family.h"

/* The budget's verdict (0: go ahead).  The device is asked of the runtime
   before the call, and only when a device limit is set: cudaGetDevice
   leaves the last error alone when it succeeds. */
static uint16_t family_refusal(struct wsla_proc *p, uint16_t flags, int16_t device,
                               uint64_t size) {
  bool host = flags & WSLA_F_HOST;
  int dev = device;
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
static cudaError_t family_refuse(void) {
  __typeof__(real_cudaMalloc) m = WSLA_REAL(WSLA_LIB_CUDART, cudaMalloc);
  void *none = NULL;
  if (m && m(&none, (size_t)1 << 62) == cudaSuccess) cudaFree(none);
  return cudaErrorMemoryAllocation;
}

/* The first failure's last error goes once a retry succeeds (an error
   pending before it, which that failure overwrote, cannot be put back). */
static void clear_last_error(void) {
  __typeof__(real_cudaGetLastError) get = WSLA_REAL(WSLA_LIB_CUDART, cudaGetLastError);
  if (get) get();
}
static inline void family_retried(cudaError_t rc) {
  if (rc == cudaSuccess) clear_last_error();
}

/* With WSLALLOC_RECOVER on, the error already pending before the call: a
   call the ladder rescues must leave the last error as a first attempt
   that worked would have, and that is only known from here. */
static inline cudaError_t family_pending_error(void) {
  if (WSLA_LIKELY(!wsla_opts.recover.num)) return cudaSuccess;
  __typeof__(real_cudaPeekAtLastError) peek =
      WSLA_REAL(WSLA_LIB_CUDART, cudaPeekAtLastError);
  return peek ? peek() : cudaSuccess;
}

/* The rescued call's first failure set the last error; it goes, unless an
   error was pending before (which the failure overwrote: CUDA keeps only
   the newest, so that one cannot be put back). */
static inline void family_after_ladder(bool ok, cudaError_t prior) {
  if (ok && prior == cudaSuccess) clear_last_error();
}

static inline bool family_free_own(uint64_t addr, bool outer) {
  (void)outer;
  return wsla_free_if_own(addr);
}

/* --- The hooks --- */

HOOK_DEVICE_ALLOC(cudaMalloc, WSLA_API_cudaMalloc, 0, (void **devPtr, size_t size),
                  (devPtr, size), devPtr, size, size, true)
HOOK_FREE(cudaFree, WSLA_API_cudaFree, (void *devPtr), (devPtr), devPtr)

HOOK_DEVICE_ALLOC(cudaMallocPitch, WSLA_API_cudaMallocPitch, 0,
                  (void **devPtr, size_t *pitch, size_t width, size_t height),
                  (devPtr, pitch, width, height), devPtr, hook_mul(width, height),
                  hook_pitched(rc == cudaSuccess, pitch, width, height), false)

/* The address is the pitched pointer's, and the size its pitch rows. */
#define PITCHED_OUT (pitchedDevPtr ? &pitchedDevPtr->ptr : NULL)
HOOK_DEVICE_ALLOC(cudaMalloc3D, WSLA_API_cudaMalloc3D, 0,
                  (struct cudaPitchedPtr *pitchedDevPtr, struct cudaExtent extent),
                  (pitchedDevPtr, extent), PITCHED_OUT,
                  hook_mul(hook_mul(extent.width, extent.height), extent.depth),
                  hook_pitched(rc == cudaSuccess && pitchedDevPtr && pitchedDevPtr->ptr,
                               pitchedDevPtr ? &pitchedDevPtr->pitch : NULL, extent.width,
                               hook_mul(extent.height, extent.depth)),
                  false)

HOOK_DEVICE_ALLOC(cudaMallocManaged, WSLA_API_cudaMallocManaged, WSLA_F_MANAGED,
                  (void **devPtr, size_t size, unsigned int flags), (devPtr, size, flags),
                  devPtr, size, size, false)

/* Stream-ordered: each with its per-thread-default-stream twin. */
HOOK_DEVICE_ALLOC_PTSZ(cudaMallocAsync, WSLA_API_cudaMallocAsync, WSLA_F_ASYNC,
                       (void **devPtr, size_t size, cudaStream_t stream), (devPtr, size, stream),
                       devPtr, size, size, false)
HOOK_FREE_PTSZ(cudaFreeAsync, WSLA_API_cudaFreeAsync, (void *devPtr, cudaStream_t stream),
               (devPtr, stream), devPtr)
HOOK_DEVICE_ALLOC_PTSZ(cudaMallocFromPoolAsync, WSLA_API_cudaMallocFromPoolAsync, WSLA_F_ASYNC,
                       (void **ptr, size_t size, cudaMemPool_t pool, cudaStream_t stream),
                       (ptr, size, pool, stream), ptr, size, size, false)

HOOK_HOST_ALLOC(cudaMallocHost, WSLA_API_cudaMallocHost, (void **ptr, size_t size), (ptr, size),
                ptr, size)
HOOK_HOST_ALLOC(cudaHostAlloc, WSLA_API_cudaHostAlloc,
                (void **pHost, size_t size, unsigned int flags), (pHost, size, flags), pHost, size)
HOOK_FREE(cudaFreeHost, WSLA_API_cudaFreeHost, (void *ptr), (ptr), ptr)
HOOK_HOST_REGISTER(cudaHostRegister, WSLA_API_cudaHostRegister)
HOOK_FREE(cudaHostUnregister, WSLA_API_cudaHostUnregister, (void *ptr), (ptr), ptr)

/* The client's own answer is a device view that costs us nothing. */
HOOK_COUNTED(cudaMemGetInfo, (size_t *free_b, size_t *total_b), (free_b, total_b),
             if (rc == cudaSuccess && free_b && total_b) wsla_cuda_meminfo(p, free_b, total_b))

HOOK_CONTEXT(cudaSetDevice, (int device), (device))
