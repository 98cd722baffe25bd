/* The fast path: one inline record of an allocation or a free, taken while the gate word says nothing unusual is on. */
#ifndef WSLA_FAST_H
#define WSLA_FAST_H

#include "shim.h"
#include "table.h"

/*
 * Contract.  A hook of an allocation kind may skip the general path (which
 * applies budgets, recovery, forced stitching, ballast, first aid and
 * sampling, each an out-of-line call) when wsla_fast_enter says so, and
 * must then record its outcome with wsla_fast_alloc or wsla_fast_free, or,
 * where those refuse, with the general recording functions (track.c), and
 * leave with wsla_fast_leave.  What the client sees is the same either
 * way: the fast path only records.
 *
 * What a record writes, in this order, is the general path's (track.c):
 * the API's counters, the ring event, the live table and the device's
 * live bytes and peak; a post-mortem reader cannot tell the two apart.
 */

/* The gate's flags that keep a call off the fast path: all of them but
   WSLALLOC_RECOVER's, which changes nothing until a call fails (the fast
   path then notes the runtime's pending error before the call, and hands
   a failure to the same recovery as the general path). */
#define WSLA_GATE_SLOW (WSLA_GATE_FLAGS & ~WSLA_GATE_RECOVER)

/* Enters a hook on the fast path: true, with the thread now inside a hook,
   when it was not already in one (a nested call passes through) and the
   gate word holds none of WSLA_GATE_SLOW (the recording is ready and
   nothing unusual is on).  *gate is the word as read: its RECOVER flag,
   and its probe count for wsla_probe_overlapped after a failure. */
WSLA_INLINE bool wsla_fast_enter(int *gate) {
  if (WSLA_UNLIKELY(wsla_tls.depth != 0)) return false;
  *gate = wsla_gate();
  if (WSLA_UNLIKELY(*gate & WSLA_GATE_SLOW)) return false;
  wsla_tls.depth = 1;
  return true;
}

static inline void wsla_fast_leave(void) {
  /* Back to the depth wsla_fast_enter found, 0: a hook nested meanwhile
     (from a signal handler) has left again, and a child forked inside this
     one starts at 0 anyway (the shim's after-fork handler). */
  wsla_tls.depth = 0;
}

/* A free on the fast path takes addr's entry before the real free, as
   hook_enter_free does (see wsla_take), noting the address so that the
   runtime's own free of it inside the call passes straight through. */
WSLA_INLINE void wsla_fast_take(struct wsla_proc *p, uint64_t addr, struct wsla_taken *taken) {
  wsla_tls.freeing = addr;
  taken->had = addr && wsla_table_take_inline(p, addr, &taken->e);
  if (taken->had) taken->seq = wsla_claim(p);
}

static inline void wsla_fast_leave_free(void) {
  wsla_tls.freeing = 0;
  wsla_fast_leave();
}

/* Raises *peak to value when it is higher.  Every value a fetch-add
   returns was the counter's true value at some instant, so the peak kept
   from them is the exact maximum. */
static inline void wsla_max_store(uint64_t *peak, uint64_t value, uint64_t *when, uint64_t t) {
  uint64_t seen = __atomic_load_n(peak, __ATOMIC_RELAXED);
  while (WSLA_UNLIKELY(value > seen)) {
    if (__atomic_compare_exchange_n(peak, &seen, value, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
      if (when) __atomic_store_n(when, t, __ATOMIC_RELAXED);
      return;
    }
  }
}

/* Retires a stale entry the table handed back (an address freed by a path
   the shim does not see, now allocated again): rare, out of line. */
void wsla_track_stale(struct wsla_proc *p, const struct wsla_entry *stale, uint64_t t);

/* Records a successful device allocation of size at addr on device,
   flags a WSLA_F_* of device memory.  False, having done nothing, where the
   general path must record it instead: a null address (a zero-byte
   request), a block large enough to keep its stack, a device the counters
   do not cover, or a sample due on the device. */
WSLA_INLINE bool wsla_fast_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                                   int16_t device, uint64_t addr, uint64_t size,
                                   uint64_t site) {
  if (WSLA_UNLIKELY(addr == 0 || size >= p->stack_min ||
                    (uint16_t)device >= WSLA_DEVICE_MAX))
    return false;
  uint64_t t = wsla_now(p);
  /* Relaxed: a stale time only sends one more allocation the general way. */
  if (WSLA_UNLIKELY(t >= __atomic_load_n(&p->sample_next[device], __ATOMIC_RELAXED)))
    return false;
  struct wsla_api_counters *a = &p->ctr->api[api];
  __atomic_fetch_add(&a->calls, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&a->bytes, size, __ATOMIC_RELAXED);
  uint64_t seq = wsla_emit(p, WSLA_EV_ALLOC, api, device, flags, 0, addr, size, site, 0, t);
  struct wsla_entry e = {size, api, device, flags, 0}, stale;
  bool inserted;
  if (WSLA_UNLIKELY(wsla_table_put_inline(p, addr, &e, site, t, seq, &inserted, &stale)))
    wsla_track_stale(p, &stale, t);
  if (WSLA_LIKELY(inserted)) {
    struct wsla_device_counters *d = &p->ctr->dev[device];
    uint64_t live = __atomic_add_fetch(&d->live_bytes, size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&d->live_allocs, 1, __ATOMIC_RELAXED);
    wsla_max_store(&d->peak_bytes, live, &d->peak_time_ns, t);
  }
  return true;
}

/* Records a successful free of addr whose entry was taken before the real
   free (wsla_take): the general path's wsla_track_free for the case that
   is every case but a failed or an unknown free.  False, having done
   nothing, for those. */
WSLA_INLINE bool wsla_fast_free(struct wsla_proc *p, uint16_t api, uint64_t addr,
                                  const struct wsla_taken *taken, uint64_t site) {
  /* Host memory's entries carry device -1 (track.c), so the range check
     sends them, with the devices the counters do not cover, the general
     way, which counts them as host memory. */
  if (WSLA_UNLIKELY(!taken->had || (uint16_t)taken->e.device >= WSLA_DEVICE_MAX))
    return false;
  uint64_t t = wsla_now(p);
  __atomic_fetch_add(&p->ctr->api[api].calls, 1, __ATOMIC_RELAXED);
  struct wsla_device_counters *d = &p->ctr->dev[taken->e.device];
  __atomic_fetch_sub(&d->live_bytes, taken->e.size, __ATOMIC_RELAXED);
  __atomic_fetch_sub(&d->live_allocs, 1, __ATOMIC_RELAXED);
  wsla_emit_at(p, taken->seq, WSLA_EV_FREE, api, taken->e.device, taken->e.flags, 0, addr,
               taken->e.size, site, 0, t);
  return true;
}

#endif
