/* Recovery: trim the pools, then wait for memory, retrying after each, and record every step. */
#include <time.h>

#include "ballast.h"
#include "budget.h"
#include "family.h"
#include "recover.h"
#include "spill.h"
#include "stitch.h"

/*
 * The family's table (family.h) asks CUDA's driver everything (capture
 * state, synchronize, trim, free memory): it keeps no last-error state, so
 * the client's cudaGetLastError is not disturbed.  HIP is asked before the
 * retry, whose own status then overwrites whatever these calls left, as it
 * would have.
 */

static const uint16_t ladder_steps[] = {WSLA_STEP_TRIM, WSLA_STEP_RESERVE,
                                        WSLA_STEP_STITCH, WSLA_STEP_WAIT,
                                        WSLA_STEP_SPILL};

/* Synchronize, then give the device's default pool's free memory back. */
static void trim(const struct wsla_family_ops *ops, int device) {
  ops->synchronize();
  ops->pool_trim(device);
}

uint64_t wsla_pool_cached(enum wsla_lib family, int device) {
  const struct wsla_family_ops *ops = wsla_family(family);
  uint64_t reserved, used;
  if (device < 0 || !ops || !ops->pool_usage(device, &reserved, &used)) return 0;
  return reserved > used ? reserved - used : 0;
}

static void step_event(const struct wsla_ladder *l, uint16_t step, bool ok) {
  wsla_emit(l->p, WSLA_EV_STEP, WSLA_API_unknown, (int16_t)l->device, 0, ok,
            0, l->size, 0, step, wsla_now(l->p));
}

void wsla_ladder_begin(struct wsla_ladder *l, struct wsla_proc *p,
                       enum wsla_lib family, int device, uint64_t size) {
  *l = (struct wsla_ladder){.p = p, .family = family, .device = device,
                            .size = size};
  const struct wsla_family_ops *ops = wsla_family(family);
  uint64_t f, t;
  if (ops && ops->mem_info(&f, &t)) {
    l->view = (struct wsla_view){f, t, wsla_now(p), WSLA_VIEW_DRIVER};
    l->have_view = true;
    l->pool_cached = wsla_pool_cached(family, device);
  }
  l->ballast = wsla_ballast_on(device);
}

int wsla_ladder_next(struct wsla_ladder *l) {
  if (l->current && l->current != WSLA_STEP_WAIT) {
    step_event(l, l->current, false); /* the retry after it failed */
    l->current = 0;
  }
  const struct wsla_family_ops *ops = wsla_family(l->family);
  if (!ops) return WSLA_LADDER_DONE; /* a family this build left out */
  while (l->next < (int)(sizeof ladder_steps / sizeof ladder_steps[0])) {
    uint16_t step = ladder_steps[l->next];
    if (step == WSLA_STEP_RESERVE) {
      l->next++;
      if (!wsla_ballast_release(l->p, l->family, l->device)) continue;
      l->tried |= step;
      l->current = step;
      return WSLA_LADDER_RETRY;
    }
    if (step == WSLA_STEP_STITCH) {
      l->next++;
      /* Only where enough is free in total: otherwise there is nothing
         to stitch together. */
      uint64_t f, t;
      if (!l->can_stitch || wsla_opts.stitch.num == WSLA_STITCH_OFF ||
          !ops->mem_info(&f, &t) || f < l->size)
        continue;
      l->tried |= step;
      unsigned chunks;
      if (wsla_stitch_alloc(l->family, l->device, l->size, &l->served, &chunks)) {
        l->current = step;
        return WSLA_LADDER_SERVED;
      }
      step_event(l, step, false);
      continue;
    }
    if (step == WSLA_STEP_TRIM) {
      l->next++;
      if (ops->capturing()) { /* a synchronize would ruin the capture */
        l->skipped |= step;
        continue;
      }
      trim(ops, l->device);
      l->tried |= step;
      l->current = step;
      return WSLA_LADDER_RETRY;
    }
    if (step == WSLA_STEP_SPILL) {
      l->next++;
      if (!l->can_stitch || wsla_opts.spill.num != WSLA_SPILL_HOST) continue;
      if (wsla_opts.pinned_limit.num && l->size > wsla_opts.pinned_limit.num) {
        l->skipped |= step; /* host memory past the pinned limit: refused */
        continue;
      }
      l->tried |= step;
      if (wsla_spill_alloc(l->p, l->family, l->size, &l->served)) {
        l->current = step;
        l->served_flags = WSLA_F_SPILLED | WSLA_F_HOST;
        return WSLA_LADDER_SERVED;
      }
      step_event(l, step, false);
      continue;
    }
    /* WSLA_STEP_WAIT: sleep with backoff until enough is free or the time
       is up, retrying after each sleep.  Not for a request larger than the
       whole device: no one's freeing makes room for it, and the client
       would wait WSLALLOC_RETRY_MS for nothing.  (One larger than
       WSLALLOC_LIMIT never gets here: the budget refuses it first.) */
    if (!(l->tried & step) && l->have_view && l->size > l->view.total_bytes) {
      l->skipped |= step;
      l->next++;
      continue;
    }
    /* The deadline is CLOCK_MONOTONIC's, not the recording's clock: a
       time-stamp counter that jumped back (a migrated VM, a resume, one
       forced where the kernel does not trust it) reads 0 until it catches
       up, and the wait must end all the same. */
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t now = (uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec;
    if (!(l->tried & step)) {
      l->tried |= step;
      l->current = step;
      l->deadline_ns = now + wsla_opts.retry_ms.num * 1000000u;
      l->backoff_ms = 10;
    }
    if (now >= l->deadline_ns) {
      step_event(l, step, false);
      l->next++;
      continue;
    }
    uint64_t left_ms = (l->deadline_ns - now) / 1000000u + 1;
    uint64_t ms = l->backoff_ms < left_ms ? l->backoff_ms : left_ms;
    for (uint64_t slept = 0; slept < ms; slept += 5) {
      struct timespec ts = {0, 5 * 1000000L};
      nanosleep(&ts, NULL);
      uint64_t f, t;
      if (ops->mem_info(&f, &t) && f >= l->size) break;
    }
    if (l->backoff_ms < 200) l->backoff_ms *= 2;
    return WSLA_LADDER_RETRY;
  }
  return WSLA_LADDER_DONE;
}

void wsla_ladder_end(struct wsla_ladder *l, bool ok) {
  if (ok) {
    l->ok |= l->current;
    step_event(l, l->current, true);
  }
}

/* One trial allocation of size, given back at once. */
static bool can_have(const struct wsla_family_ops *ops, uint64_t size) {
  uint64_t ptr;
  if (!ops->device_alloc(size, &ptr)) return false;
  ops->device_free(ptr);
  return true;
}

/* The thread probing now (0: none): one probe at a time, and a thread
   never waits for its own (a hook in a signal handler that interrupted
   it).  Device allocations that found the gate closed count themselves in
   interrupts; the probe stops at its next trial when the count moves. */
static int probe_tid;
static unsigned probe_interrupts;

int wsla_probe_yield(int gate) {
  if (!(gate & WSLA_GATE_PROBE) ||
      __atomic_load_n(&probe_tid, __ATOMIC_RELAXED) == (int)wsla_tid())
    return gate;
  /* Relaxed: the probe only needs to see the count move at some trial. */
  __atomic_fetch_add(&probe_interrupts, 1, __ATOMIC_RELAXED);
  /* At most one trial allocation and its free. */
  while ((gate = wsla_gate()) & WSLA_GATE_PROBE) {
    struct timespec ts = {0, 50 * 1000};
    nanosleep(&ts, NULL);
  }
  return gate;
}

bool wsla_probe_overlapped(int gate) {
  int now = wsla_gate();
  /* Only a probe's bits count: the other flags come and go on their own. */
  if (((now ^ gate) & (WSLA_GATE_PROBE | -WSLA_GATE_EPOCH)) == 0) return false;
  wsla_probe_yield(now);
  return true;
}

void wsla_probe_reset_after_fork(void) {
  /* The parent's probe never ends here: the gate opens in the child. */
  __atomic_fetch_and(&wsla_gate_word, ~WSLA_GATE_PROBE, __ATOMIC_RELAXED);
  __atomic_store_n(&probe_tid, 0, __ATOMIC_RELAXED);
}

uint64_t wsla_probe_largest(enum wsla_lib family, int device, uint64_t most) {
  const struct wsla_family_ops *ops = wsla_family(family);
  (void)device; /* the trials are on the current device, which is device */
  if (!wsla_opts.probe.num || most == 0 || !ops || ops->capturing()) return 0;
  /* Invisible to the other threads: while it searches the gate is closed,
     so that a device allocation starting elsewhere waits for it, and it
     gives up (not probed) as soon as one does; an allocation already under
     way that runs short meanwhile is retried once it is over (budget.h).
     One probe at a time: another thread's OOM meanwhile is not probed. */
  int none = 0;
  if (!__atomic_compare_exchange_n(&probe_tid, &none, (int)wsla_tid(), false,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return 0;
  unsigned seen = __atomic_load_n(&probe_interrupts, __ATOMIC_RELAXED);
  /* Acq-rel: pairs with wsla_gate's acquire load in the allocation path;
     a thread whose allocation failed because of a trial below sees this. */
  __atomic_fetch_add(&wsla_gate_word, WSLA_GATE_PROBE + WSLA_GATE_EPOCH,
                     __ATOMIC_ACQ_REL);
  /* Halving at 2 MiB, the granularity blocks come in: at most 16 trials
     cover 128 GiB. */
  const uint64_t grain = 2u << 20;
  uint64_t lo = 0, hi = most / grain + 1; /* in grains: lo can, hi cannot */
  for (int trials = 0; trials < 16 && hi - lo > 1; trials++) {
    if (__atomic_load_n(&probe_interrupts, __ATOMIC_RELAXED) != seen) {
      lo = 0; /* another thread wants memory: stop, not probed */
      break;
    }
    uint64_t mid = lo + (hi - lo) / 2;
    if (can_have(ops, mid * grain)) lo = mid;
    else hi = mid;
  }
  /* Release: pairs with the acquire load of the waiting threads. */
  __atomic_fetch_sub(&wsla_gate_word, WSLA_GATE_PROBE, __ATOMIC_RELEASE);
  __atomic_store_n(&probe_tid, 0, __ATOMIC_RELEASE);
  return lo * grain;
}
