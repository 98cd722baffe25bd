/* The live table's lock-free part, inline for the fast path: the recording's live slots searched, claimed and freed. */
#ifndef WSLA_TABLE_H
#define WSLA_TABLE_H

#include "shim.h"

/*
 * The recording's live slots are the table itself, so what a post-mortem
 * reader sees is the table at every instant, and an entry never moves.
 *
 * A slot's claim word (wsla_live.reserved0, the writer's own; readers look
 * only at commit) says what an insert may do with it:
 *   EMPTY  never claimed: a probe stops here, nothing lies beyond it;
 *   FREE   a tombstone: claimed once and freed; any key may reuse it;
 *   OWNED  an insert claimed it: its payload is being written or is live.
 *          The word also carries a tag of the address's hash (owned_word),
 *          so that a search passes a slot of another address on one load
 *          and compare, without reading its commit word and address.
 * An insert claims EMPTY or FREE -> OWNED with a CAS, fills the payload with
 * relaxed stores and publishes it with a release store of commit (the ring
 * sequence + 1 of its ALLOC, unique, so a commit value is never reused).  A
 * take finds the slot by its address, copies the payload and CASes commit
 * from the value it saw to 0: that CAS is the one point where a free happens
 * exactly once.  It then release-stores FREE into the claim word.
 *
 * Tombstones never turn back into EMPTY (that would need to know that no
 * chain runs through them, which a concurrent insert could change), so under
 * churn probes would run ever longer.  Two bounds keep them short: an insert
 * takes the first tombstone on its way, so a chain never grows while keys
 * come and go; and every probe stops after the longest distance any insert
 * ever went (max_probe), which PROBE_LIMIT caps.  An insert that finds no
 * slot within PROBE_LIMIT goes to the overflow region, made once at the end
 * of the file, and one that finds none there either to a heap table that
 * readers cannot see, counted in live_overflow, so that frees stay exact and
 * the report can say how many it cannot list.
 */
#define SLOT_EMPTY 0u
#define SLOT_FREE 1u
#define SLOT_OWNED 2u /* the bit; the rest of an owned slot's word is its tag */
#define PROBE_LIMIT 64u
#define OVERFLOW_FACTOR 4u

struct region {
  struct wsla_live *slots;
  uint64_t mask;       /* capacity - 1; capacities are powers of two */
  uint32_t *max_probe; /* the longest distance an insert went; grows only */
};

/* The first region is the recording's live_off array (p->live); the second
   is made on demand (table.c).  Relaxed loads of max_probe suffice: an
   address is taken only after its put returned, and the client's own
   synchronization that handed the address over orders that put's update
   before the load. */
extern uint32_t wsla_table_first_max_probe;
extern struct region *wsla_table_overflow; /* published with release, read with acquire */
extern uint64_t wsla_table_side_count;     /* atomics; > 0 only past both regions */
/* 1 once either exists (the overflow region or a heap entry), so that the
   first region's searches pay one load and a branch until then. */
extern int wsla_table_beyond;

/* One multiplicative hash; device pointers are 256-byte aligned, so the top
   bits of the product, not the low bits of the address, pick the bucket. */
static inline uint64_t wsla_home_of(uint64_t addr, uint64_t mask) {
  return ((addr * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

/* The claim word of a slot that addr owns: the OWNED bit and a tag from the
   product's top bits, which the home index (bits 20 up) leaves unused for
   tables below 2^12 slots and shares with larger ones only in part. */
static inline uint32_t owned_word(uint64_t addr) {
  return (uint32_t)((addr * 0x9E3779B97F4A7C15ull) >> 32) | SLOT_OWNED;
}

static inline struct region first_of(const struct wsla_proc *p) {
  return (struct region){p->live, p->live_cap - 1, &wsla_table_first_max_probe};
}

static inline void note_probe(const struct region *r, uint32_t d) {
  uint32_t m = __atomic_load_n(r->max_probe, __ATOMIC_RELAXED);
  while (d > m &&
         !__atomic_compare_exchange_n(r->max_probe, &m, d, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* Takes addr's live slot out of r: true and *e filled if it was there.
   *free_at: the distance from addr's home of the first slot seen free (or
   of where the search ended), where an insert of addr may start looking. */
WSLA_INLINE bool region_take(const struct region *r, uint64_t addr, struct wsla_entry *e,
                               uint32_t *free_at) {
  uint64_t i = wsla_home_of(addr, r->mask);
  uint32_t want = owned_word(addr);
  uint32_t limit = __atomic_load_n(r->max_probe, __ATOMIC_RELAXED);
  uint32_t first_free = UINT32_MAX, d = 0;
  for (; d <= limit; d++, i = (i + 1) & r->mask) {
    struct wsla_live *l = &r->slots[i];
    /* Acquire: pairs with the release store of FREE in a take, so that a
       claim of this slot after it orders its stores after that take. */
    uint32_t state = __atomic_load_n(&l->reserved0, __ATOMIC_ACQUIRE);
    if (state == SLOT_EMPTY) break;
    if (state != want) {
      if (!(state & SLOT_OWNED) && first_free == UINT32_MAX) first_free = d;
      continue;
    }
    /* Acquire: pairs with the release store of commit in slot_fill, so the
       payload read next is the one that commit published. */
    uint64_t c = __atomic_load_n(&l->commit, __ATOMIC_ACQUIRE);
    if (!c || __atomic_load_n(&l->addr, __ATOMIC_RELAXED) != addr) continue;
    e->size = __atomic_load_n(&l->size, __ATOMIC_RELAXED);
    e->api = __atomic_load_n(&l->api, __ATOMIC_RELAXED);
    e->device = __atomic_load_n(&l->device, __ATOMIC_RELAXED);
    e->flags = (uint16_t)__atomic_load_n(&l->flags, __ATOMIC_RELAXED);
    e->stack = (uint16_t)__atomic_load_n(&l->stack, __ATOMIC_RELAXED);
    /* The exactly-once point.  Commit values are unique, so a success means
       the payload copied above was this entry's.  Relaxed: the copy needs
       no ordering against a later insert, which can only claim the slot
       after the release store of FREE below. */
    if (!__atomic_compare_exchange_n(&l->commit, &c, 0, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
      continue;
    /* Release: pairs with the acquire CAS of the next claim, so that its
       payload stores come after everything this take did. */
    __atomic_store_n(&l->reserved0, SLOT_FREE, __ATOMIC_RELEASE);
    if (free_at) *free_at = first_free < d ? first_free : d;
    return true;
  }
  if (free_at) *free_at = first_free < d ? first_free : d;
  return false;
}

WSLA_INLINE void slot_fill(struct wsla_live *l, uint64_t addr, const struct wsla_entry *e,
                      uint64_t site, uint64_t time_ns, uint64_t seq) {
  WSLA_RELAXED_STORE(l->addr, addr);
  WSLA_RELAXED_STORE(l->size, e->size);
  WSLA_RELAXED_STORE(l->site, site);
  WSLA_RELAXED_STORE(l->time_ns, time_ns);
  WSLA_RELAXED_STORE(l->tid, wsla_tid());
  WSLA_RELAXED_STORE(l->api, e->api);
  WSLA_RELAXED_STORE(l->device, e->device);
  WSLA_RELAXED_STORE(l->flags, (uint32_t)e->flags);
  WSLA_RELAXED_STORE(l->stack, (uint32_t)e->stack);
  /* Release: pairs with the acquire load of commit in region_take and with
     a reader's acquire load of commit. */
  __atomic_store_n(&l->commit, seq + 1, __ATOMIC_RELEASE);
}

/* Claims the first EMPTY or FREE slot of addr's chain in r, from distance
   from on (every slot before it was seen taken), and fills it. */
WSLA_INLINE bool region_put(const struct region *r, uint32_t from, uint64_t addr,
                       const struct wsla_entry *e, uint64_t site, uint64_t time_ns,
                       uint64_t seq) {
  uint64_t i = (wsla_home_of(addr, r->mask) + from) & r->mask;
  uint32_t limit = PROBE_LIMIT <= r->mask ? PROBE_LIMIT : (uint32_t)r->mask;
  for (uint32_t d = from; d <= limit; d++, i = (i + 1) & r->mask) {
    struct wsla_live *l = &r->slots[i];
    uint32_t state = __atomic_load_n(&l->reserved0, __ATOMIC_RELAXED);
    if (state & SLOT_OWNED) continue;
    /* Acquire: pairs with the release store of FREE by the last take, so
       the payload stores below come after its reads. */
    if (!__atomic_compare_exchange_n(&l->reserved0, &state, owned_word(addr), false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      continue;
    note_probe(r, d);
    slot_fill(l, addr, e, site, time_ns, seq);
    return true;
  }
  return false;
}

/* Past the first region (table.c): addr's entry from the overflow region
   or the heap (wait: take the heap table's lock as usual; otherwise only
   if it is free, for a signal handler that interrupted this thread, which
   may hold it); and an insert the first region had no slot for. */
bool wsla_table_take_past_first(uint64_t addr, struct wsla_entry *e, bool wait);
bool wsla_table_put_past_first(struct wsla_proc *p, uint64_t addr, const struct wsla_entry *e,
                               uint64_t site, uint64_t time_ns, uint64_t seq, bool *inserted,
                               bool had_stale);

/* Whether a search must look past the first region. */
static inline bool wsla_table_beyond_first(void) {
  /* Acquire: pairs with the release stores of wsla_table_beyond (table.c),
     made after the region or entry it announces. */
  return WSLA_UNLIKELY(__atomic_load_n(&wsla_table_beyond, __ATOMIC_ACQUIRE) != 0);
}

/* wsla_table_put and wsla_table_take (shim.h), inline. */
WSLA_INLINE bool wsla_table_put_inline(struct wsla_proc *p, uint64_t addr,
                                         const struct wsla_entry *e, uint64_t site,
                                         uint64_t time_ns, uint64_t seq, bool *inserted,
                                         struct wsla_entry *stale) {
  /* An entry still here for this address was freed by a path the shim does
     not see: it is retired, and its slot is free for the new one. */
  struct region first = first_of(p);
  uint32_t from;
  bool had_stale = region_take(&first, addr, stale, &from);
  if (!had_stale && wsla_table_beyond_first())
    had_stale = wsla_table_take_past_first(addr, stale, true);
  *inserted = true;
  /* The search above saw every slot before from taken. */
  if (WSLA_LIKELY(region_put(&first, from, addr, e, site, time_ns, seq))) return had_stale;
  return wsla_table_put_past_first(p, addr, e, site, time_ns, seq, inserted, had_stale);
}

WSLA_INLINE bool wsla_table_take_inline(struct wsla_proc *p, uint64_t addr,
                                          struct wsla_entry *e) {
  struct region first = first_of(p);
  return region_take(&first, addr, e, NULL) ||
         (wsla_table_beyond_first() && wsla_table_take_past_first(addr, e, true));
}

#endif
