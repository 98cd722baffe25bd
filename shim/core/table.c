/* Live table: every live allocation by address, lock-free open addressing in the recording's live slots. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (side_refused = true)
#include <uthash.h>

/*
 * The recording's live slots are the table itself, so what a post-mortem
 * reader sees is the table at every instant, and an entry never moves.
 *
 * A slot's claim word (wsla_live.reserved0, the writer's own; readers look
 * only at commit) says what an insert may do with it:
 *   EMPTY  never claimed: a probe stops here, nothing lies beyond it;
 *   FREE   a tombstone: claimed once and freed; any key may reuse it;
 *   OWNED  an insert claimed it: its payload is being written or is live.
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
#define SLOT_OWNED 2u
#define PROBE_LIMIT 64u
#define OVERFLOW_FACTOR 4u

struct region {
  struct wsla_live *slots;
  uint64_t mask;       /* capacity - 1; capacities are powers of two */
  uint32_t *max_probe; /* the longest distance an insert went; grows only */
};

/* The first region is the recording's live_off array (p->live); the second
   is made on demand.  Relaxed loads of max_probe suffice: an address is
   taken only after its put returned, and the client's own synchronization
   that handed the address over orders that put's update before the load. */
static uint32_t first_max_probe;
static struct region *overflow; /* published with release, read with acquire */
static struct region overflow_store;
static uint32_t overflow_max_probe;
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static bool grow_failed;

/* Entries no region could hold: on the heap, under a lock, rare. */
struct side_node {
  uint64_t addr;
  struct wsla_entry e;
  UT_hash_handle hh;
};
static pthread_mutex_t side_lock = PTHREAD_MUTEX_INITIALIZER;
static struct side_node *side_map;
static uint64_t side_count; /* atomics; > 0 only past both regions */

/* One multiplicative hash; device pointers are 256-byte aligned, so the top
   bits of the product, not the low bits of the address, pick the bucket. */
static inline uint64_t home_of(uint64_t addr, uint64_t mask) {
  return ((addr * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static inline struct region first_of(const struct wsla_proc *p) {
  return (struct region){p->live, p->live_cap - 1, &first_max_probe};
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
static inline bool region_take(const struct region *r, uint64_t addr, struct wsla_entry *e,
                               uint32_t *free_at) {
  uint64_t i = home_of(addr, r->mask);
  uint32_t limit = __atomic_load_n(r->max_probe, __ATOMIC_RELAXED);
  uint32_t first_free = UINT32_MAX, d = 0;
  for (; d <= limit; d++, i = (i + 1) & r->mask) {
    struct wsla_live *l = &r->slots[i];
    /* Acquire: pairs with the release store of FREE in a take, so that a
       claim of this slot after it orders its stores after that take. */
    uint32_t state = __atomic_load_n(&l->reserved0, __ATOMIC_ACQUIRE);
    if (state == SLOT_EMPTY) break;
    if (state != SLOT_OWNED) {
      if (first_free == UINT32_MAX) first_free = d;
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

static void slot_fill(struct wsla_live *l, uint64_t addr, const struct wsla_entry *e,
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
static bool region_put(const struct region *r, uint32_t from, uint64_t addr,
                       const struct wsla_entry *e, uint64_t site, uint64_t time_ns,
                       uint64_t seq) {
  uint64_t i = (home_of(addr, r->mask) + from) & r->mask;
  uint32_t limit = PROBE_LIMIT <= r->mask ? PROBE_LIMIT : (uint32_t)r->mask;
  for (uint32_t d = from; d <= limit; d++, i = (i + 1) & r->mask) {
    struct wsla_live *l = &r->slots[i];
    uint32_t state = __atomic_load_n(&l->reserved0, __ATOMIC_RELAXED);
    if (state == SLOT_OWNED) continue;
    /* Acquire: pairs with the release store of FREE by the last take, so
       the payload stores below come after its reads. */
    if (!__atomic_compare_exchange_n(&l->reserved0, &state, SLOT_OWNED, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      continue;
    note_probe(r, d);
    slot_fill(l, addr, e, site, time_ns, seq);
    return true;
  }
  return false;
}

/* Gives the recording a second live region after everything else, once:
   the file grows and only the new range is mapped, so no writer of the
   first region ever sees its mapping move. */
static struct region *grow(struct wsla_proc *p) {
  pthread_mutex_lock(&grow_lock);
  struct region *r = overflow;
  if (r || grow_failed) goto out;
  grow_failed = true;
  uint64_t cap = p->live_cap * OVERFLOW_FACTOR;
  struct rlimit rl;
  uint64_t limit = UINT64_MAX;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    limit = rl.rlim_cur;
  for (; cap >= p->live_cap; cap /= 2) {
    size_t len = cap * sizeof(struct wsla_live);
    void *map = MAP_FAILED;
    uint64_t off = p->map_len;
    if (p->file_backed) {
      /* Growing past RLIMIT_FSIZE would raise SIGXFSZ in the client. */
      if (off + len > limit) continue;
      int fd = open(p->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) break;
      struct stat st;
      /* Only the file this process made and sized, not one put in its place. */
      bool ours = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == off;
      if (ours && posix_fallocate(fd, (off_t)off, (off_t)len) == 0) {
        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
        /* A file longer than its header says is still read correctly, so a
           failed shrink changes nothing a reader sees. */
        if (map == MAP_FAILED && ftruncate(fd, (off_t)off) != 0) ours = false;
      }
      close(fd);
      if (!ours) break;
    } else {
      map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (map == MAP_FAILED) continue;
    overflow_store.slots = map;
    overflow_store.mask = cap - 1;
    overflow_store.max_probe = &overflow_max_probe;
    if (p->file_backed) {
      struct wsla_header *h = p->hdr;
      WSLA_RELAXED_STORE(h->file_size, off + len);
      WSLA_RELAXED_STORE(h->live2_off, off);
      WSLA_RELAXED_STORE(h->live2_cap, cap);
      /* Release: a reader in another process that sees the bit sees the
         fields (and, after a crash, all of them are in the page cache). */
      __atomic_fetch_or(&h->features, (uint64_t)WSLA_FEAT_LIVE2, __ATOMIC_RELEASE);
    }
    r = &overflow_store;
    /* Release: pairs with the acquire loads of overflow. */
    __atomic_store_n(&overflow, r, __ATOMIC_RELEASE);
    grow_failed = false;
    break;
  }
out:
  pthread_mutex_unlock(&grow_lock);
  return r;
}

/* addr's entry from the heap side table.  wait: take its lock as usual;
   otherwise only if it is free (a signal handler that interrupted this
   thread, which may hold it). */
static bool side_take(uint64_t addr, struct wsla_entry *e, bool wait) {
  if (wait) pthread_mutex_lock(&side_lock);
  else if (pthread_mutex_trylock(&side_lock) != 0) return false;
  struct side_node *n;
  HASH_FIND(hh, side_map, &addr, sizeof addr, n);
  if (n) {
    HASH_DELETE(hh, side_map, n);
    __atomic_fetch_sub(&side_count, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&side_lock);
  if (!n) return false;
  *e = n->e;
  free(n);
  return true;
}

static bool side_put(uint64_t addr, const struct wsla_entry *e) {
  struct side_node *n = malloc(sizeof *n);
  if (!n) return false;
  n->addr = addr;
  n->e = *e;
  bool side_refused = false;
  pthread_mutex_lock(&side_lock);
  HASH_ADD(hh, side_map, addr, sizeof n->addr, n);
  if (!side_refused) __atomic_fetch_add(&side_count, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&side_lock);
  if (side_refused) free(n);
  return !side_refused;
}

static __attribute__((noinline)) bool take_past_first_slow(struct region *r, uint64_t addr,
                                                         struct wsla_entry *e, bool wait) {
  if (r && region_take(r, addr, e, NULL)) return true;
  return __atomic_load_n(&side_count, __ATOMIC_RELAXED) && side_take(addr, e, wait);
}

/* addr's entry from the overflow region or the heap, where they exist: two
   loads while neither does.  wait: as side_take. */
static inline bool take_past_first(uint64_t addr, struct wsla_entry *e, bool wait) {
  /* Acquire: pairs with the release store in grow. */
  struct region *r = __atomic_load_n(&overflow, __ATOMIC_ACQUIRE);
  if (WSLA_LIKELY(!r && !__atomic_load_n(&side_count, __ATOMIC_RELAXED))) return false;
  return take_past_first_slow(r, addr, e, wait);
}

bool wsla_table_put(struct wsla_proc *p, uint64_t addr,
                    const struct wsla_entry *e, uint64_t site,
                    uint64_t time_ns, uint64_t seq, bool *inserted,
                    struct wsla_entry *stale) {
  /* An entry still here for this address was freed by a path the shim does
     not see: it is retired, and its slot is free for the new one. */
  struct region first = first_of(p);
  uint32_t from;
  bool had_stale = region_take(&first, addr, stale, &from);
  if (!had_stale) had_stale = take_past_first(addr, stale, true);
  *inserted = true;
  /* The search above saw every slot before from taken. */
  if (WSLA_LIKELY(region_put(&first, from, addr, e, site, time_ns, seq))) return had_stale;
  struct region *r = __atomic_load_n(&overflow, __ATOMIC_ACQUIRE);
  if (!r) r = grow(p);
  if (r && region_put(r, 0, addr, e, site, time_ns, seq)) return had_stale;
  __atomic_fetch_add(&p->ctr->live_overflow, 1, __ATOMIC_RELAXED);
  static int warned_full;
  wsla_warn_once(&warned_full, "the live table is full (%llu slots) and could not grow "
                               "further: more live allocations are counted but not listed "
                               "in the recording; raise WSLALLOC_LIVE_SLOTS",
                 (unsigned long long)(p->live_cap + (r ? r->mask + 1 : 0)));
  if (side_put(addr, e)) return had_stale;
  __atomic_fetch_add(&p->ctr->table_oom, 1, __ATOMIC_RELAXED);
  *inserted = false;
  return had_stale;
}

bool wsla_table_take(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e) {
  struct region first = first_of(p);
  return region_take(&first, addr, e, NULL) || take_past_first(addr, e, true);
}

void wsla_table_reset_after_fork(void) {
  /* Only the forking thread exists now.  The parent's regions are shared
     with the parent and never written again; the child's recording brings
     its own first region.  The heap entries leak on purpose. */
  if (overflow) munmap(overflow->slots, (overflow->mask + 1) * sizeof(struct wsla_live));
  overflow = NULL;
  grow_failed = false;
  first_max_probe = 0;
  overflow_max_probe = 0;
  pthread_mutex_init(&grow_lock, NULL);
  pthread_mutex_init(&side_lock, NULL);
  side_map = NULL;
  side_count = 0;
}

const struct wsla_live *wsla_table_more(uint64_t *cap) {
  /* Acquire: pairs with the release store in grow. */
  struct region *r = __atomic_load_n(&overflow, __ATOMIC_ACQUIRE);
  *cap = r ? r->mask + 1 : 0;
  return r ? r->slots : NULL;
}

bool wsla_table_take_nested(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e) {
  /* From a signal handler that interrupted a hook of this thread: the
     regions are lock-free, so they are asked as always; the heap side table
     only if its lock is free, since the interrupted code may hold it. */
  struct region first = first_of(p);
  return region_take(&first, addr, e, NULL) || take_past_first(addr, e, false);
}
