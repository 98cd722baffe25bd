/* Budgets: WSLALLOC_LIMIT, WSLALLOC_HEADROOM and WSLALLOC_PINNED_LIMIT, as every API family applies them. */
#ifndef WSLA_BUDGET_H
#define WSLA_BUDGET_H

#include "shim.h"

/*
 * Requests a budget let through that are not yet counted live, per device
 * and (the last slot) for pinned host memory.  A request counts against its
 * budget from the check until its call has ended and been counted, so
 * requests in flight at one moment cannot all pass together and overshoot.
 * A child after fork starts with none.
 */
#define WSLA_BUDGET_PINNED_SLOT WSLA_DEVICE_MAX

/* Slow paths (recover.c), taken only while a probe runs or after an
   out-of-memory failure: waits for a running probe to stop, and returns
   the gate word then; and says whether a probe ran since gate was read
   (it has stopped when this returns: retry the call once). */
int wsla_probe_yield(int gate);
bool wsla_probe_overlapped(int gate);

/* Before a device allocation's real call: the gate word, once no probe is
   running. */
static inline int wsla_gate_pass(void) {
  int gate = wsla_gate();
  return WSLA_UNLIKELY(gate & WSLA_GATE_PROBE) ? wsla_probe_yield(gate) : gate;
}
extern uint64_t wsla_budget_in_flight[WSLA_DEVICE_MAX + 1];

/* The cause (enum wsla_oom_cause) for which a request of size must be
   refused before it reaches the runtime, or 0 to let it through, holding
   it in flight until wsla_budget_release.  device is where it would land
   (-1: unknown, never refused).  With no budget set this is a load. */
static inline uint16_t wsla_budget_refusal(struct wsla_proc *p, bool host,
                                           int device, uint64_t size) {
  uint64_t cap = host ? wsla_opts.pinned_limit.num : wsla_opts.limit.num;
  if (WSLA_LIKELY(!cap) || (!host && (device < 0 || device >= (int)WSLA_DEVICE_MAX)))
    return 0;
  uint16_t cause = host ? WSLA_CAUSE_PINNED_LIMIT : WSLA_CAUSE_LIMIT;
  if (size > cap) return cause;
  unsigned slot = host ? WSLA_BUDGET_PINNED_SLOT : (unsigned)device;
  uint64_t *live = host ? &p->ctr->host_live_bytes : &p->ctr->dev[device].live_bytes;
  /* Acquire: pairs with the release in wsla_budget_release, so that a
     request seen gone from flight is seen in live. */
  uint64_t ahead = __atomic_fetch_add(&wsla_budget_in_flight[slot], size, __ATOMIC_ACQ_REL);
  uint64_t held = __atomic_load_n(live, __ATOMIC_RELAXED);
  if (held > cap - size || ahead > cap - size - held) {
    __atomic_fetch_sub(&wsla_budget_in_flight[slot], size, __ATOMIC_RELEASE);
    return cause;
  }
  wsla_tls.budget_held = size;
  wsla_tls.budget_slot = slot;
  return 0;
}

void wsla_budget_reset_after_fork(void);

/* Ends the reservation of the call that has just been counted (or
   failed): after its bytes reached live, so that it is never in neither. */
static inline void wsla_budget_release(void) {
  if (WSLA_LIKELY(!wsla_tls.budget_held)) return;
  /* Release: pairs with the acquire in wsla_budget_refusal. */
  __atomic_fetch_sub(&wsla_budget_in_flight[wsla_tls.budget_slot], wsla_tls.budget_held,
                     __ATOMIC_RELEASE);
  wsla_tls.budget_held = 0;
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
