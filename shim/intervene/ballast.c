/* Ballast: WSLALLOC_RESERVE's block, taken at a device's first use, given back by the ladder, taken again later. */
#include <pthread.h>

#include "ballast.h"
#include "family.h"

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

/* Takes size on the current device; a failure leaves the client's
   success as the thread's status, since it comes right after the client's
   call succeeded. */
static bool take(const struct wsla_family_ops *ops, uint64_t size, uint64_t *ptr) {
  if (ops->device_alloc(size, ptr)) return true;
  ops->status_clear();
  return false;
}

void wsla_ballast_tend(struct wsla_proc *p, enum wsla_lib family, int dev,
                       uint64_t free_b) {
  uint64_t size = wsla_opts.reserve.num;
  const struct wsla_family_ops *ops = wsla_family(family);
  if (!size || !ops || dev < 0 || dev >= (int)WSLA_DEVICE_MAX) return;
  uint8_t state = __atomic_load_n(&ballast[dev].state, __ATOMIC_RELAXED);
  if (state == HELD || (state == GIVEN_BACK && free_b / 2 < size)) return;
  pthread_mutex_lock(&lock);
  state = ballast[dev].state;
  uint64_t ptr;
  if ((state == NEVER || (state == GIVEN_BACK && free_b / 2 >= size)) &&
      take(ops, size, &ptr)) {
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
  const struct wsla_family_ops *ops = wsla_family(family);
  if (!ops || dev < 0 || dev >= (int)WSLA_DEVICE_MAX) return false;
  pthread_mutex_lock(&lock);
  bool held = ballast[dev].state == HELD;
  if (held) {
    ops->device_free(ballast[dev].ptr);
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
