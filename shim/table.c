/* Live table: every live allocation by address, sharded uthash tables, mirrored into the recording. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

/* A multiplicative hash: device pointers are 256-byte aligned, so the low
   bits alone would put everything in a few buckets. */
static inline uint64_t ptr_mix(uint64_t key) {
  return key * 0x9E3779B97F4A7C15ull;
}

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (heap_refused = true)
#define HASH_FUNCTION(keyptr, keylen, hashv)                                   \
  ((hashv) = (unsigned)(ptr_mix(*(const uint64_t *)(keyptr)) >> 32))
/* Keys are 8-byte addresses: one compare, not a memcmp. */
#define HASH_KEYCMP(a, b, n)                                                   \
  (*(const uint64_t *)(const void *)(a) != *(const uint64_t *)(const void *)(b))
#include <uthash.h>

#define SHARD_BITS 6
#define SHARD_COUNT (1u << SHARD_BITS)
#define NODES_PER_CHUNK 64
#define NO_SLOT UINT32_MAX

struct node {
  uint64_t addr;
  struct wsla_entry e;
  uint32_t slot;
  struct node *next_free;
  UT_hash_handle hh;
};

struct chunk {
  struct chunk *next;
  struct node nodes[NODES_PER_CHUNK];
};

/*
 * One lock per shard: threads only meet when their pointers hash alike, and
 * then for a hundred instructions or so, so a spinlock (a few instructions)
 * beats a mutex (about fifty).  A waiter that keeps finding it taken yields,
 * in case the holder was preempted on an oversubscribed machine.
 */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

static inline void shard_lock(int *lock) {
  /* The holder's thread id is the lock word, so that a signal handler
     interrupting the holder can tell (wsla_table_take_nested). */
  int me = (int)wsla_tid();
  for (unsigned spins = 0;; spins++) {
    /* Acquire: pairs with the release store in shard_unlock, so this thread
       sees the table as the last holder left it. */
    int free_word = 0;
    if (__atomic_compare_exchange_n(lock, &free_word, me, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
      return;
    while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
      if (++spins > 128) {
        sched_yield();
        spins = 0;
      } else {
        cpu_relax();
      }
    }
  }
}

static inline void shard_unlock(int *lock) {
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE); /* pairs: shard_lock */
}

struct shard {
  int lock;
  struct node *map;
  struct node *free_nodes;
  struct chunk *chunks; /* every chunk, so that leak checkers see them */
  uint32_t free_slot;   /* recycled live slots, linked through reserved0 */
} __attribute__((aligned(64)));

static struct shard shards[SHARD_COUNT] = {
    [0 ... SHARD_COUNT - 1] = {0, NULL, NULL, NULL, NO_SLOT}};
/* Slots never used yet are handed out in order; recycled ones stay with the
   shard that freed them, so no slot list is shared between shards. */
static uint64_t slot_bump;

/* Each shard's table holds a sentinel under address 0 (never a tracked
   allocation), so that it never empties: uthash frees a table when its last
   entry goes and allocates one for the next, which would put two mallocs and
   two frees on the path of every pair when few allocations are live. */
static struct node sentinels[SHARD_COUNT];

/* A child after fork keeps its parent's hash tables here, reachable, unused. */
static UT_hash_table *graveyard[SHARD_COUNT];

static inline struct shard *shard_of(uint64_t addr) {
  return &shards[ptr_mix(addr) >> (64 - SHARD_BITS)];
}

static struct node *node_get(struct shard *s) {
  struct node *n = s->free_nodes;
  if (WSLA_LIKELY(n != NULL)) {
    s->free_nodes = n->next_free;
    return n;
  }
  struct chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  c->next = s->chunks;
  s->chunks = c;
  for (size_t i = 1; i < NODES_PER_CHUNK; i++) {
    c->nodes[i].next_free = s->free_nodes;
    s->free_nodes = &c->nodes[i];
  }
  return &c->nodes[0];
}

static inline void node_put(struct shard *s, struct node *n) {
  n->next_free = s->free_nodes;
  s->free_nodes = n;
}

static uint32_t slot_get(struct wsla_proc *p, struct shard *s) {
  uint32_t idx = s->free_slot;
  if (idx != NO_SLOT) {
    s->free_slot = p->live[idx].reserved0;
    return idx;
  }
  uint64_t fresh = __atomic_fetch_add(&slot_bump, 1, __ATOMIC_RELAXED);
  if (fresh < p->live_cap) return (uint32_t)fresh;
  __atomic_fetch_add(&p->ctr->live_overflow, 1, __ATOMIC_RELAXED);
  return NO_SLOT;
}

static void slot_put(struct wsla_proc *p, struct shard *s, uint32_t idx) {
  if (idx == NO_SLOT) return;
  struct wsla_live *l = &p->live[idx];
  /* Release: pairs with a reader's acquire load of commit; a reader that
     sees 0 treats the slot as free whatever the payload holds. */
  __atomic_store_n(&l->commit, 0, __ATOMIC_RELEASE);
  l->reserved0 = s->free_slot;
  s->free_slot = idx;
}

static void slot_fill(struct wsla_proc *p, uint32_t idx, uint64_t addr,
                      const struct wsla_entry *e, uint64_t site,
                      uint64_t time_ns, uint64_t seq) {
  if (idx == NO_SLOT) return;
  struct wsla_live *l = &p->live[idx];
  WSLA_RELAXED_STORE(l->addr, addr);
  WSLA_RELAXED_STORE(l->size, e->size);
  WSLA_RELAXED_STORE(l->site, site);
  WSLA_RELAXED_STORE(l->time_ns, time_ns);
  WSLA_RELAXED_STORE(l->tid, wsla_tid());
  WSLA_RELAXED_STORE(l->api, e->api);
  WSLA_RELAXED_STORE(l->device, e->device);
  WSLA_RELAXED_STORE(l->flags, e->flags);
  WSLA_RELAXED_STORE(l->stack, e->stack);
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&l->commit, seq + 1, __ATOMIC_RELEASE);
}

bool wsla_table_put(struct wsla_proc *p, uint64_t addr,
                    const struct wsla_entry *e, uint64_t site,
                    uint64_t time_ns, uint64_t seq, bool *inserted,
                    struct wsla_entry *stale) {
  struct shard *s = shard_of(addr);
  bool heap_refused = false, had_stale = false;
  shard_lock(&s->lock);
  if (WSLA_UNLIKELY(!s->map)) {
    struct node *sentinel = &sentinels[s - shards];
    sentinel->addr = 0;
    sentinel->slot = NO_SLOT;
    HASH_ADD(hh, s->map, addr, sizeof(uint64_t), sentinel);
  }
  struct node *n = node_get(s), *old = NULL;
  if (n) {
    n->addr = addr;
    n->e = *e;
    n->slot = slot_get(p, s);
    HASH_REPLACE(hh, s->map, addr, sizeof(uint64_t), n, old);
    if (old) {
      *stale = old->e;
      had_stale = true;
      slot_put(p, s, old->slot);
      node_put(s, old);
    }
    if (heap_refused) {
      slot_put(p, s, n->slot);
      node_put(s, n);
      n = NULL;
    } else {
      slot_fill(p, n->slot, addr, e, site, time_ns, seq);
    }
  }
  shard_unlock(&s->lock);
  if (!n) __atomic_fetch_add(&p->ctr->table_oom, 1, __ATOMIC_RELAXED);
  *inserted = n != NULL;
  return had_stale;
}

bool wsla_table_take(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e) {
  struct shard *s = shard_of(addr);
  struct node *n;
  shard_lock(&s->lock);
  HASH_FIND(hh, s->map, &addr, sizeof(uint64_t), n);
  if (n) {
    HASH_DELETE(hh, s->map, n);
    *e = n->e;
    slot_put(p, s, n->slot);
    node_put(s, n);
  }
  shard_unlock(&s->lock);
  return n != NULL;
}

bool wsla_table_take_nested(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e) {
  /* Relaxed: only this thread's own store could show its id here, and a
     thread always sees its own stores. */
  if (__atomic_load_n(&shard_of(addr)->lock, __ATOMIC_RELAXED) == (int)wsla_tid()) return false;
  return wsla_table_take(p, addr, e);
}

void wsla_table_reset_after_fork(void) {
  /* Only the forking thread exists now; a lock another thread held at the
     fork would stay locked forever, so every lock is made anew. */
  for (size_t i = 0; i < SHARD_COUNT; i++) {
    struct shard *s = &shards[i];
    /* The chunks leak on purpose; the table is kept reachable. */
    if (s->map) graveyard[i] = s->map->hh.tbl;
    s->map = NULL;
    s->free_nodes = NULL;
    s->chunks = NULL;
    s->free_slot = NO_SLOT;
    s->lock = 0;
  }
  slot_bump = 0;
}
