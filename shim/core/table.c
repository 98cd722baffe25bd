/* Live table: every live allocation by address, lock-free open addressing in the recording's live slots. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table.h"

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (side_refused = true)
#include <uthash.h>

/* The first region's lock-free search and claim are table.h's; here are
   the overflow region, made once at the end of the file, and the heap side
   table behind it. */
uint32_t wsla_table_first_max_probe;
struct region *wsla_table_overflow;
uint64_t wsla_table_side_count;
int wsla_table_beyond;
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
#define side_count wsla_table_side_count
#define overflow wsla_table_overflow
#define first_max_probe wsla_table_first_max_probe

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
    /* Release: pairs with the acquire load in wsla_table_beyond_first. */
    __atomic_store_n(&wsla_table_beyond, 1, __ATOMIC_RELEASE);
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
  if (!side_refused) {
    __atomic_fetch_add(&side_count, 1, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire load in wsla_table_beyond_first. */
    __atomic_store_n(&wsla_table_beyond, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&side_lock);
  if (side_refused) free(n);
  return !side_refused;
}

bool wsla_table_take_past_first(uint64_t addr, struct wsla_entry *e, bool wait) {
  /* Acquire: pairs with the release store in grow. */
  struct region *r = __atomic_load_n(&overflow, __ATOMIC_ACQUIRE);
  if (r && region_take(r, addr, e, NULL)) return true;
  return __atomic_load_n(&side_count, __ATOMIC_RELAXED) && side_take(addr, e, wait);
}

bool wsla_table_put_past_first(struct wsla_proc *p, uint64_t addr, const struct wsla_entry *e,
                               uint64_t site, uint64_t time_ns, uint64_t seq, bool *inserted,
                               bool had_stale) {
  /* Acquire: pairs with the release store in grow. */
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

bool wsla_table_put(struct wsla_proc *p, uint64_t addr,
                    const struct wsla_entry *e, uint64_t site,
                    uint64_t time_ns, uint64_t seq, bool *inserted,
                    struct wsla_entry *stale) {
  return wsla_table_put_inline(p, addr, e, site, time_ns, seq, inserted, stale);
}

bool wsla_table_take(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e) {
  return wsla_table_take_inline(p, addr, e);
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
  wsla_table_beyond = 0;
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
  return region_take(&first, addr, e, NULL) ||
         (wsla_table_beyond_first() && wsla_table_take_past_first(addr, e, false));
}
