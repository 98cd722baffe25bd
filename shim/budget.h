/* Budgets: WSLALLOC_LIMIT, WSLALLOC_HEADROOM and WSLALLOC_PINNED_LIMIT, as every API family applies them. */
#ifndef WSLA_BUDGET_H
#define WSLA_BUDGET_H

#include "shim.h"

/* The cause (enum wsla_oom_cause) for which a request of size must be
   refused before it reaches the runtime, or 0 to let it through.  device is
   where it would land (-1: unknown, never refused).  With no budget set this
   is a couple of loads. */
static inline uint16_t wsla_budget_refusal(struct wsla_proc *p, bool host,
                                           int device, uint64_t size) {
  if (host) {
    uint64_t cap = wsla_opts.pinned_limit.num;
    if (WSLA_LIKELY(!cap)) return 0;
    uint64_t live = __atomic_load_n(&p->ctr->host_live_bytes, __ATOMIC_RELAXED);
    return size > cap || live > cap - size ? WSLA_CAUSE_PINNED_LIMIT : 0;
  }
  uint64_t cap = wsla_opts.limit.num;
  if (WSLA_LIKELY(!cap) || device < 0 || device >= (int)WSLA_DEVICE_MAX)
    return 0;
  /* Concurrent requests may each pass before either is counted: the cap
     holds to within the requests in flight at one moment. */
  uint64_t live =
      __atomic_load_n(&p->ctr->dev[device].live_bytes, __ATOMIC_RELAXED);
  return size > cap || live > cap - size ? WSLA_CAUSE_LIMIT : 0;
}

/* Makes a memory query's answer what the budgets say: total no more than
   the limit, free no more than what the limit leaves this process, less
   the headroom, never below zero. */
static inline void wsla_budget_shape(struct wsla_proc *p, int device,
                                     uint64_t *free_b, uint64_t *total_b) {
  uint64_t cap = wsla_opts.limit.num, room = wsla_opts.headroom.num;
  if (WSLA_LIKELY(!cap && !room)) return;
  if (cap) {
    uint64_t own = device >= 0 && device < (int)WSLA_DEVICE_MAX
                       ? __atomic_load_n(&p->ctr->dev[device].live_bytes,
                                         __ATOMIC_RELAXED)
                       : 0;
    uint64_t left = cap > own ? cap - own : 0;
    if (*total_b > cap) *total_b = cap;
    if (*free_b > left) *free_b = left;
  }
  *free_b = *free_b > room ? *free_b - room : 0;
}

#endif
