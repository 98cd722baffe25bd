/* Ballast: WSLALLOC_RESERVE's block, taken at a device's first use, given back by the ladder, taken again later. */
#include <pthread.h>

#if WSLA_HAVE_CUDA
#include <cuda.h>
#endif
#if WSLA_HAVE_HIP
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>
#endif

#include "ballast.h"
#include "real.h"

/* The ballast is the shim's own: taken (after a client's allocation
   succeeded, so that it lies behind the client's block) and given back
   with real calls, the driver's for CUDA, which keep no error state, and
   HIP's with its status put back to the client's success; never counted
   as the client's memory. */

enum { NEVER = 0, HELD = 1, GIVEN_BACK = 2 };

static struct {
  uint64_t ptr;
  uint8_t state;
} ballast[WSLA_DEVICE_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static bool take(enum wsla_lib family, uint64_t size, uint64_t *ptr) {
#if WSLA_HAVE_CUDA
  if (family == WSLA_LIB_CUDA) {
    __typeof__(real_cuMemAlloc_v2) alloc = WSLA_REAL(WSLA_LIB_CUDA, cuMemAlloc_v2);
    CUdeviceptr d;
    if (!alloc || alloc(&d, size) != CUDA_SUCCESS) return false;
    *ptr = d;
    return true;
  }
#endif
#if WSLA_HAVE_HIP
  if (family == WSLA_LIB_HIP) {
    __typeof__(real_hipMalloc) alloc = WSLA_REAL(WSLA_LIB_HIP, hipMalloc);
    void *d;
    if (alloc && alloc(&d, size) == hipSuccess) {
      *ptr = (uint64_t)(uintptr_t)d;
      return true;
    }
    /* Taken right after the client's call succeeded: HIP before ROCm 7
       keeps the status of the last call, so a success puts back what the
       client would read. */
    __typeof__(real_hipGetDevice) get = WSLA_REAL(WSLA_LIB_HIP, hipGetDevice);
    int dev;
    if (get) get(&dev);
    return false;
  }
#endif
  (void)family, (void)size, (void)ptr;
  return false;
}

static void give(enum wsla_lib family, uint64_t ptr) {
#if WSLA_HAVE_CUDA
  if (family == WSLA_LIB_CUDA) {
    __typeof__(real_cuMemFree_v2) release = WSLA_REAL(WSLA_LIB_CUDA, cuMemFree_v2);
    if (release) release((CUdeviceptr)ptr);
    return;
  }
#endif
#if WSLA_HAVE_HIP
  if (family == WSLA_LIB_HIP) {
    __typeof__(real_hipFree) release = WSLA_REAL(WSLA_LIB_HIP, hipFree);
    if (release) release((void *)(uintptr_t)ptr);
  }
#endif
  (void)family, (void)ptr;
}

void wsla_ballast_tend(struct wsla_proc *p, enum wsla_lib family, int dev,
                       uint64_t free_b) {
  uint64_t size = wsla_opts.reserve.num;
  if (!size || dev < 0 || dev >= (int)WSLA_DEVICE_MAX) return;
  uint8_t state = __atomic_load_n(&ballast[dev].state, __ATOMIC_RELAXED);
  if (state == HELD || (state == GIVEN_BACK && free_b / 2 < size)) return;
  pthread_mutex_lock(&lock);
  state = ballast[dev].state;
  uint64_t ptr;
  if ((state == NEVER || (state == GIVEN_BACK && free_b / 2 >= size)) &&
      take(family, size, &ptr)) {
    ballast[dev].ptr = ptr;
    __atomic_store_n(&ballast[dev].state, HELD, __ATOMIC_RELAXED);
    __atomic_fetch_add(&p->ctr->ballast_bytes, size, __ATOMIC_RELAXED);
  } else if (state == NEVER) {
    /* Not even at the first use: try again when memory allows. */
    __atomic_store_n(&ballast[dev].state, GIVEN_BACK, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&lock);
}

bool wsla_ballast_release(struct wsla_proc *p, enum wsla_lib family, int dev) {
  if (dev < 0 || dev >= (int)WSLA_DEVICE_MAX) return false;
  pthread_mutex_lock(&lock);
  bool held = ballast[dev].state == HELD;
  if (held) {
    give(family, ballast[dev].ptr);
    __atomic_store_n(&ballast[dev].state, GIVEN_BACK, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&p->ctr->ballast_bytes, wsla_opts.reserve.num,
                       __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&lock);
  return held;
}

uint64_t wsla_ballast_on(int dev) {
  return dev >= 0 && dev < (int)WSLA_DEVICE_MAX &&
                 __atomic_load_n(&ballast[dev].state, __ATOMIC_RELAXED) == HELD
             ? wsla_opts.reserve.num
             : 0;
}

void wsla_ballast_reset_after_fork(void) {
  /* The parent's device memory is not the child's. */
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++) ballast[i].state = NEVER;
  pthread_mutex_init(&lock, NULL);
}
