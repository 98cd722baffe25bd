/* Accounting: turns each intercepted call into exact counters, live-table entries and events. */
#include <string.h>

#include "ballast.h"
#include "budget.h"
#include "recover.h"
#include "fast.h"
#include "shim.h"

/* The context generation (shim.h): 1, so that no thread's zeroed device
   cache is current. */
unsigned long wsla_ctx_gen = 1;

static inline struct wsla_device_counters *dev_counters(struct wsla_proc *p,
                                                        int device) {
  return device >= 0 && (unsigned)device < WSLA_DEVICE_MAX ? &p->ctr->dev[device]
                                                           : NULL;
}

/* Adds (sign 1) or retires (sign -1) an entry's bytes; the peak as
   wsla_max_store keeps it. */
static void account(struct wsla_proc *p, const struct wsla_entry *e, int sign,
                    uint64_t t) {
  uint64_t delta = sign > 0 ? e->size : (uint64_t)0 - e->size;
  uint64_t one = sign > 0 ? 1 : (uint64_t)-1;
  if (e->flags & WSLA_F_HOST) {
    struct wsla_counters *c = p->ctr;
    uint64_t live = __atomic_add_fetch(&c->host_live_bytes, delta,
                                       __ATOMIC_RELAXED);
    __atomic_fetch_add(&c->host_live_allocs, one, __ATOMIC_RELAXED);
    if (sign > 0) wsla_max_store(&c->host_peak_bytes, live, NULL, t);
    return;
  }
  struct wsla_device_counters *d = dev_counters(p, e->device);
  if (!d) return;
  uint64_t live = __atomic_add_fetch(&d->live_bytes, delta, __ATOMIC_RELAXED);
  __atomic_fetch_add(&d->live_allocs, one, __ATOMIC_RELAXED);
  if (sign > 0) wsla_max_store(&d->peak_bytes, live, &d->peak_time_ns, t);
}

void wsla_track_stale(struct wsla_proc *p, const struct wsla_entry *stale, uint64_t t) {
  account(p, stale, -1, t);
}

static void record_oom(struct wsla_proc *p, const struct wsla_call *c,
                       const struct wsla_view *view, uint64_t t) {
  const struct wsla_ladder *l = c->ladder;
  if (l && l->have_view) view = &l->view; /* the device at the failure */
  struct wsla_device_counters *d =
      c->flags & WSLA_F_HOST ? NULL : dev_counters(p, c->device);
  uint64_t idx = __atomic_fetch_add(&p->ctr->ooms_claimed, 1, __ATOMIC_RELAXED);
  uint64_t seq = wsla_emit(p, WSLA_EV_OOM, c->api, d ? c->device : -1,
                           c->flags, c->result, 0, c->size, c->site, idx, t);
  __atomic_fetch_add(&p->ctr->api[c->api].ooms, 1, __ATOMIC_RELAXED);
  if (d) __atomic_fetch_add(&d->ooms, 1, __ATOMIC_RELAXED);
  struct wsla_oom spare, *o = idx < p->oom_cap ? &p->ooms[idx] : &spare;
  if (o == &spare) memset(&spare, 0, sizeof spare);
  o->time_ns = t;
  o->size = c->size;
  o->site = c->site;
  o->event_seq = seq;
  o->tid = wsla_tid();
  o->result = c->result;
  o->api = c->api;
  o->device = d ? c->device : -1;
  o->cause = c->cause;
  o->largest_block = c->largest_block;
  /* The pool's figure from the same moment as the view it corrects. */
  o->pool_cached = l && l->have_view ? l->pool_cached : c->pool_cached;
  if (l) {
    o->steps_tried = l->tried;
    o->steps_ok = l->ok;
    o->steps_skipped = l->skipped;
    o->outcome = c->ok;
  }
  if (c->cause == WSLA_CAUSE_LIMIT) o->budget_bytes = wsla_opts.limit.num;
  if (c->cause == WSLA_CAUSE_PINNED_LIMIT)
    o->budget_bytes = wsla_opts.pinned_limit.num;
  if (d) {
    o->own_bytes = __atomic_load_n(&d->live_bytes, __ATOMIC_RELAXED);
    o->own_allocs = __atomic_load_n(&d->live_allocs, __ATOMIC_RELAXED);
  } else if (c->flags & WSLA_F_HOST) {
    o->own_bytes = __atomic_load_n(&p->ctr->host_live_bytes, __ATOMIC_RELAXED);
    o->own_allocs = __atomic_load_n(&p->ctr->host_live_allocs, __ATOMIC_RELAXED);
  }
  if (view) {
    o->free_bytes = view->free_bytes;
    o->total_bytes = view->total_bytes;
    o->view_time_ns = view->time_ns;
    o->view_source = view->source;
    /* The ballast is the shim's, held for this process: not the others'. */
    uint64_t used = view->total_bytes - view->free_bytes;
    uint64_t ballast = l ? l->ballast : d ? wsla_ballast_on(c->device) : 0;
    uint64_t ours = o->own_bytes + ballast + o->pool_cached;
    o->foreign_bytes = used > ours ? used - ours : 0;
  }
  if (o != &spare) wsla_oom_stack_note(p, idx, c->site);
  /* The others matter only where the device, not a budget of ours, refused. */
  if (o != &spare && d && c->cause == WSLA_CAUSE_DEVICE) wsla_others_note(p, idx, c->device, c->api);
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&o->commit, idx + 1, __ATOMIC_RELEASE);
  wsla_first_aid_note(p, o);
}

static void track_alloc(struct wsla_proc *p, const struct wsla_call *c,
                        const struct wsla_view *view);

void wsla_track_alloc(struct wsla_proc *p, const struct wsla_call *c,
                      const struct wsla_view *view) {
  track_alloc(p, c, view);
  wsla_budget_release();
}

static void track_alloc(struct wsla_proc *p, const struct wsla_call *c,
                        const struct wsla_view *view) {
  struct wsla_api_counters *a = &p->ctr->api[c->api];
  __atomic_fetch_add(&a->calls, 1, __ATOMIC_RELAXED);
  uint64_t t = c->time_ns;
  /* A request the ladder served from host memory counts as pinned. */
  uint16_t flags = c->flags | (c->ladder && c->ok ? c->ladder->served_flags : 0);
  int16_t device = flags & WSLA_F_HOST ? -1 : c->device;
  if (WSLA_UNLIKELY(c->ladder != NULL)) {
    /* The first attempt failed: that OOM is recorded, recovered or not. */
    if (c->ok) __atomic_fetch_add(&p->ctr->recovered, 1, __ATOMIC_RELAXED);
    record_oom(p, c, view, t);
    if (!c->ok) {
      __atomic_fetch_add(&a->failed, 1, __ATOMIC_RELAXED);
      return;
    }
  }
  if (c->ok) {
    /* cudaMalloc(&p, 0) succeeds and returns NULL: nothing to account. */
    if (c->addr == 0) return;
    if (!(flags & WSLA_F_HOST) || (flags & WSLA_F_SPILLED)) wsla_first_aid_clear();
    __atomic_fetch_add(&a->bytes, c->size, __ATOMIC_RELAXED);
    /* Large device allocations keep their stack: one compare for the rest. */
    uint16_t stack = WSLA_UNLIKELY(c->size >= wsla_opts.stacks.num) && wsla_opts.stacks.num &&
                             !(flags & WSLA_F_HOST)
                         ? wsla_stack_intern(p, c->site)
                         : 0;
    uint64_t seq = wsla_emit(p, WSLA_EV_ALLOC, c->api, device, flags,
                             c->result, c->addr, c->size, c->site, stack, t);
    struct wsla_entry e = {c->size, c->api, device, flags, stack}, stale;
    bool inserted;
    if (wsla_table_put(p, c->addr, &e, c->site, t, seq, &inserted, &stale))
      account(p, &stale, -1, t);
    if (inserted) account(p, &e, 1, t);
    return;
  }
  __atomic_fetch_add(&a->failed, 1, __ATOMIC_RELAXED);
  if (c->oom)
    record_oom(p, c, view, t);
  else
    wsla_emit(p, WSLA_EV_FAIL, c->api, device, c->flags, c->result, 0,
              c->size, c->site, 0, t);
}

void wsla_track_free(struct wsla_proc *p, uint16_t api, int32_t result,
                     bool ok, uint64_t addr, const struct wsla_taken *taken,
                     uint64_t site, uint64_t t) {
  struct wsla_api_counters *a = &p->ctr->api[api];
  __atomic_fetch_add(&a->calls, 1, __ATOMIC_RELAXED);
  if (!ok) {
    __atomic_fetch_add(&a->failed, 1, __ATOMIC_RELAXED);
    uint64_t seq = wsla_emit_at(p, taken->had ? taken->seq : wsla_claim(p), WSLA_EV_FAIL,
                                api, -1, 0, result, addr, 0, site, 0, t);
    if (taken->had) {
      /* The allocation is still live: put it back as it was. */
      bool inserted;
      struct wsla_entry stale;
      if (wsla_table_put(p, addr, &taken->e, site, t, seq, &inserted, &stale))
        account(p, &stale, -1, t);
      if (!inserted) account(p, &taken->e, -1, t);
    }
    return;
  }
  if (!taken->had) {
    if (addr == 0) return; /* freeing NULL does nothing */
    __atomic_fetch_add(&p->ctr->untracked_frees, 1, __ATOMIC_RELAXED);
    wsla_emit(p, WSLA_EV_FREE, api, -1, WSLA_F_UNTRACKED, result, addr, 0,
              site, 0, t);
    return;
  }
  wsla_track_retire(p, api, addr, &taken->e, taken->seq, site, t);
}

void wsla_track_retire(struct wsla_proc *p, uint16_t api, uint64_t addr,
                       const struct wsla_entry *taken, uint64_t seq,
                       uint64_t site, uint64_t t) {
  account(p, taken, -1, t);
  wsla_emit_at(p, seq, WSLA_EV_FREE, api, taken->device, taken->flags, 0, addr,
               taken->size, site, 0, t);
}

bool wsla_sample_claim(struct wsla_proc *p, int device, uint64_t now) {
  struct wsla_device_counters *d = dev_counters(p, device);
  if (!d) return false;
  /* Relaxed, as the fast path's load: the time from which the device's
     next allocation comes this way again (never, with sampling off). */
  uint64_t *next = &p->sample_next[device];
  if (!p->sample_ns) {
    __atomic_store_n(next, UINT64_MAX, __ATOMIC_RELAXED);
    return false;
  }
  uint64_t last = __atomic_load_n(&d->view_time_ns, __ATOMIC_RELAXED);
  if (last && now - last < p->sample_ns) {
    __atomic_store_n(next, last + p->sample_ns, __ATOMIC_RELAXED);
    return false;
  }
  /* Whoever moves the time forward takes the sample; the others go on. */
  bool mine = __atomic_compare_exchange_n(&d->view_time_ns, &last, now ? now : 1, false,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  __atomic_store_n(next, (mine ? now : last) + p->sample_ns, __ATOMIC_RELAXED);
  return mine;
}

void wsla_sample_store(struct wsla_proc *p, int device,
                       const struct wsla_view *v) {
  struct wsla_device_counters *d = dev_counters(p, device);
  if (!d) return;
  /* Ours at this view, so that a reader subtracts figures of one moment
     (total - free - ours = the others'), not this view and the live bytes
     of whenever it reads.  The ballast is the shim's, held for this
     process, as in record_oom.  The pool's cache is not asked here: that
     calls into the client's runtime, which only an OOM may afford. */
  uint64_t live = __atomic_load_n(&d->live_bytes, __ATOMIC_RELAXED);
  uint64_t own = live + wsla_ballast_on(device);
  __atomic_store_n(&p->hdr->view_own_bytes[device], own, __ATOMIC_RELAXED);
  __atomic_store_n(&d->total_bytes, v->total_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&d->free_bytes, v->free_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&d->view_time_ns, v->time_ns ? v->time_ns : 1,
                   __ATOMIC_RELAXED);
  wsla_emit(p, WSLA_EV_SAMPLE, WSLA_API_unknown, (int16_t)device, 0, 0,
            v->free_bytes, v->total_bytes, 0, live, v->time_ns);
  /* Samples are rare and already off the fast path: a good moment to note
     libraries loaded since (a dlopen'ed backend, say). */
  wsla_modules_refresh(p);
}
