/* Simulated GPU device model: placement with fragmentation, foreign holders, pools, pinned memory. */
#include "simdev.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <uthash.h>

#define MAX_DEVICES 8
#define MAX_FOREIGN 8
#define MAX_EXTENTS 65536
#define ALIGN 512u
#define DEVICE_SPAN (1ull << 40)
#define DEVICE_BASE 0x200000000000ull

struct extent { uint64_t start, size; };

enum block_kind { BLOCK_LIVE, BLOCK_POOL_LIVE, BLOCK_POOL_HELD, BLOCK_FOREIGN };

struct block {
  uint64_t addr, size;
  int dev;
  enum block_kind kind;
  UT_hash_handle hh;
};

struct foreign {
  int dev;
  uint64_t size, start_ms, end_ms; /* end_ms 0: for ever */
  struct block *held[64];
  int nheld;
};

struct device {
  uint64_t capacity, used;
  struct extent *free_list; /* sorted by start, coalesced */
  size_t nfree;
  uint64_t pool_held;
};

struct host_block {
  void *ptr;
  uint64_t size;
  bool registered;
  UT_hash_handle hh;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct device devices[MAX_DEVICES];
static int ndevices;
static struct foreign foreigners[MAX_FOREIGN];
static int nforeign;
static uint64_t max_block, pinned_max = UINT64_MAX, pinned_used;
static long alloc_delay_ms, free_delay_ms;
static uint64_t free_delay_min;
static struct block *blocks;
static struct host_block *host_blocks;
static struct timespec t0;

static uint64_t parse_size(const char *s, const char **end) {
  char *e;
  uint64_t v = strtoull(s, &e, 10);
  switch (*e) {
  case 'k': case 'K': v <<= 10; e++; break;
  case 'm': case 'M': v <<= 20; e++; break;
  case 'g': case 'G': v <<= 30; e++; break;
  case 't': case 'T': v <<= 40; e++; break;
  default: break;
  }
  if (end) *end = e;
  return v;
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)(t.tv_sec - t0.tv_sec) * 1000 +
         (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000);
}

static void setup(void) {
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const char *s = getenv("WSLSIM_DEVICES");
  ndevices = s ? atoi(s) : 1;
  if (ndevices < 0) ndevices = 0;
  if (ndevices > MAX_DEVICES) ndevices = MAX_DEVICES;
  uint64_t cap = 8ull << 30;
  const char *mem = getenv("WSLSIM_MEM");
  for (int d = 0; d < ndevices; d++) {
    if (mem && *mem) {
      const char *e;
      cap = parse_size(mem, &e);
      mem = *e == ',' ? e + 1 : e;
    }
    devices[d].capacity = cap;
    devices[d].free_list = malloc(MAX_EXTENTS * sizeof(struct extent));
    devices[d].free_list[0] = (struct extent){DEVICE_BASE + d * DEVICE_SPAN, cap};
    devices[d].nfree = cap ? 1 : 0;
  }
  if ((s = getenv("WSLSIM_MAX_BLOCK"))) max_block = parse_size(s, NULL);
  if ((s = getenv("WSLSIM_PINNED_MAX"))) pinned_max = parse_size(s, NULL);
  if ((s = getenv("WSLSIM_ALLOC_DELAY_MS"))) alloc_delay_ms = atol(s);
  if ((s = getenv("WSLSIM_FREE_DELAY_MS"))) free_delay_ms = atol(s);
  if ((s = getenv("WSLSIM_FREE_DELAY_MIN"))) free_delay_min = parse_size(s, NULL);
  for (s = getenv("WSLSIM_FOREIGN"); s && *s && nforeign < MAX_FOREIGN;) {
    struct foreign *f = &foreigners[nforeign++];
    const char *colon = strchr(s, ':'), *comma = strchr(s, ',');
    if (colon && (!comma || colon < comma)) {
      f->dev = atoi(s);
      s = colon + 1;
    }
    const char *e;
    f->size = parse_size(s, &e);
    if (*e == '@') f->start_ms = strtoull(e + 1, (char **)&e, 10);
    if (*e == '-') f->end_ms = strtoull(e + 1, (char **)&e, 10);
    s = *e == ',' ? e + 1 : e + strlen(e);
  }
}

static void init(void) { pthread_once(&once, setup); }

/* First fit in address order: real fragmentation follows from the pattern
   of allocations and frees. */
static bool place(struct device *d, uint64_t size, uint64_t *addr) {
  for (size_t i = 0; i < d->nfree; i++) {
    struct extent *x = &d->free_list[i];
    if (x->size < size) continue;
    *addr = x->start;
    x->start += size;
    x->size -= size;
    if (x->size == 0) {
      memmove(x, x + 1, (d->nfree - i - 1) * sizeof *x);
      d->nfree--;
    }
    d->used += size;
    return true;
  }
  return false;
}

static void unplace(struct device *d, uint64_t addr, uint64_t size) {
  size_t lo = 0, hi = d->nfree;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (d->free_list[mid].start < addr) lo = mid + 1;
    else hi = mid;
  }
  struct extent *xs = d->free_list;
  bool join_prev = lo > 0 && xs[lo - 1].start + xs[lo - 1].size == addr;
  bool join_next = lo < d->nfree && addr + size == xs[lo].start;
  if (join_prev && join_next) {
    xs[lo - 1].size += size + xs[lo].size;
    memmove(&xs[lo], &xs[lo + 1], (d->nfree - lo - 1) * sizeof *xs);
    d->nfree--;
  } else if (join_prev) {
    xs[lo - 1].size += size;
  } else if (join_next) {
    xs[lo].start = addr;
    xs[lo].size += size;
  } else if (d->nfree < MAX_EXTENTS) {
    memmove(&xs[lo + 1], &xs[lo], (d->nfree - lo) * sizeof *xs);
    xs[lo] = (struct extent){addr, size};
    d->nfree++;
  }
  d->used -= size;
}

static struct block *block_new(int dev, uint64_t addr, uint64_t size,
                               enum block_kind kind) {
  struct block *b = malloc(sizeof *b);
  *b = (struct block){.addr = addr, .size = size, .dev = dev, .kind = kind};
  HASH_ADD(hh, blocks, addr, sizeof(uint64_t), b);
  return b;
}

static void block_drop(struct block *b) {
  unplace(&devices[b->dev], b->addr, b->size);
  HASH_DEL(blocks, b);
  free(b);
}

/* Brings the foreign holders up to date with the clock. */
static void tick(void) {
  uint64_t t = nforeign ? now_ms() : 0;
  for (int i = 0; i < nforeign; i++) {
    struct foreign *f = &foreigners[i];
    if (f->dev >= ndevices) continue;
    bool active = t >= f->start_ms && (f->end_ms == 0 || t < f->end_ms);
    if (active && f->nheld == 0) {
      /* Take the memory, in pieces if it is scattered. */
      uint64_t want = f->size;
      struct device *d = &devices[f->dev];
      while (want && f->nheld < 64 && d->nfree) {
        uint64_t largest = 0;
        for (size_t k = 0; k < d->nfree; k++)
          if (d->free_list[k].size > largest) largest = d->free_list[k].size;
        uint64_t piece = want < largest ? want : largest, addr;
        if (!piece || !place(d, piece, &addr)) break;
        f->held[f->nheld++] = block_new(f->dev, addr, piece, BLOCK_FOREIGN);
        want -= piece;
      }
    } else if (!active && f->nheld) {
      for (int k = 0; k < f->nheld; k++) block_drop(f->held[k]);
      f->nheld = 0;
      if (f->end_ms) f->start_ms = UINT64_MAX; /* done for good */
    }
  }
}

static uint64_t round_up(uint64_t n) {
  return n > UINT64_MAX - ALIGN ? UINT64_MAX : (n + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

int sim_device_count(void) {
  init();
  return ndevices;
}

/* WSLSIM_ALLOC_DELAY_MS: the time an allocation takes, outside the lock;
   WSLSIM_FREE_DELAY_MS: the time a free of a block of WSLSIM_FREE_DELAY_MIN
   bytes or more waits for the device (a real cudaFree synchronizes) before
   the memory goes back. */
static void sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
  nanosleep(&ts, NULL);
}
static void take_time(void) { sleep_ms(alloc_delay_ms); }

static int alloc_kind(int dev, uint64_t size, uint64_t *addr,
                      enum block_kind kind) {
  init();
  if (dev < 0 || dev >= ndevices) return SIM_NODEV;
  if (size == 0) return SIM_INVALID;
  uint64_t need = round_up(size);
  take_time();
  pthread_mutex_lock(&lock);
  tick();
  int rc = SIM_OOM;
  if (!(max_block && need > max_block) && place(&devices[dev], need, addr)) {
    block_new(dev, *addr, need, kind);
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

int sim_alloc(int dev, uint64_t size, uint64_t *addr) {
  return alloc_kind(dev, size, addr, BLOCK_LIVE);
}

int sim_free(uint64_t addr) {
  init();
  if (free_delay_ms > 0) {
    struct block *big;
    pthread_mutex_lock(&lock);
    HASH_FIND(hh, blocks, &addr, sizeof addr, big);
    bool slow = big && big->size >= free_delay_min;
    pthread_mutex_unlock(&lock);
    if (slow) sleep_ms(free_delay_ms);
  }
  pthread_mutex_lock(&lock);
  tick();
  struct block *b;
  HASH_FIND(hh, blocks, &addr, sizeof addr, b);
  int rc = SIM_INVALID;
  if (b && (b->kind == BLOCK_LIVE || b->kind == BLOCK_POOL_LIVE)) {
    block_drop(b);
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

int sim_meminfo(int dev, uint64_t *free_b, uint64_t *total_b) {
  init();
  if (dev < 0 || dev >= ndevices) return SIM_NODEV;
  pthread_mutex_lock(&lock);
  tick();
  *total_b = devices[dev].capacity;
  *free_b = devices[dev].capacity - devices[dev].used;
  pthread_mutex_unlock(&lock);
  return SIM_OK;
}

int sim_pool_alloc(int dev, uint64_t size, uint64_t *addr) {
  init();
  if (dev < 0 || dev >= ndevices) return SIM_NODEV;
  uint64_t need = round_up(size);
  pthread_mutex_lock(&lock);
  struct block *b, *tmp;
  HASH_ITER(hh, blocks, b, tmp) {
    if (b->dev == dev && b->kind == BLOCK_POOL_HELD && b->size == need) {
      b->kind = BLOCK_POOL_LIVE;
      devices[dev].pool_held -= b->size;
      *addr = b->addr;
      pthread_mutex_unlock(&lock);
      return SIM_OK;
    }
  }
  pthread_mutex_unlock(&lock);
  return alloc_kind(dev, size, addr, BLOCK_POOL_LIVE);
}

int sim_pool_free(uint64_t addr) {
  init();
  pthread_mutex_lock(&lock);
  struct block *b;
  HASH_FIND(hh, blocks, &addr, sizeof addr, b);
  int rc = SIM_INVALID;
  if (b && (b->kind == BLOCK_POOL_LIVE || b->kind == BLOCK_LIVE)) {
    b->kind = BLOCK_POOL_HELD;
    devices[b->dev].pool_held += b->size;
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

void sim_pool_trim(int dev, uint64_t keep) {
  init();
  pthread_mutex_lock(&lock);
  struct block *b, *tmp;
  HASH_ITER(hh, blocks, b, tmp) {
    if (devices[dev].pool_held <= keep) break;
    if ((dev < 0 || b->dev == dev) && b->kind == BLOCK_POOL_HELD) {
      devices[b->dev].pool_held -= b->size;
      block_drop(b);
    }
  }
  pthread_mutex_unlock(&lock);
}

uint64_t sim_pool_used(int dev) {
  init();
  uint64_t used = 0;
  pthread_mutex_lock(&lock);
  struct block *b, *tmp;
  HASH_ITER(hh, blocks, b, tmp) {
    if (b->dev == dev && b->kind == BLOCK_POOL_LIVE) used += b->size;
  }
  pthread_mutex_unlock(&lock);
  return used;
}

uint64_t sim_pool_held(int dev) {
  init();
  return dev >= 0 && dev < ndevices ? devices[dev].pool_held : 0;
}

int sim_host_alloc(uint64_t size, void **out) {
  init();
  take_time();
  pthread_mutex_lock(&lock);
  int rc = SIM_OOM;
  if (size <= pinned_max - pinned_used) {
    /* Pinned memory is whole pages from the kernel, as cudaMallocHost's is;
       mmap also keeps a malloc fill pattern (MALLOC_PERTURB_) from
       touching every page of a large buffer. */
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = NULL;
    if (p) {
      struct host_block *h = malloc(sizeof *h);
      *h = (struct host_block){.ptr = p, .size = size};
      HASH_ADD_PTR(host_blocks, ptr, h);
      pinned_used += size;
      *out = p;
      rc = SIM_OK;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

static int host_release(void *p, bool registered) {
  init();
  pthread_mutex_lock(&lock);
  struct host_block *h;
  HASH_FIND_PTR(host_blocks, &p, h);
  int rc = SIM_INVALID;
  if (h && h->registered == registered) {
    HASH_DEL(host_blocks, h);
    pinned_used -= h->size;
    if (!registered) munmap(h->ptr, h->size ? h->size : 1);
    free(h);
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

int sim_host_free(void *p) { return host_release(p, false); }
int sim_host_unregister(void *p) { return host_release(p, true); }

int sim_host_register(void *p, uint64_t size) {
  init();
  if (!p || !size) return SIM_INVALID;
  pthread_mutex_lock(&lock);
  struct host_block *h;
  HASH_FIND_PTR(host_blocks, &p, h);
  int rc = SIM_INVALID;
  if (!h) {
    rc = SIM_OOM;
    if (size <= pinned_max - pinned_used) {
      h = malloc(sizeof *h);
      *h = (struct host_block){.ptr = p, .size = size, .registered = true};
      HASH_ADD_PTR(host_blocks, ptr, h);
      pinned_used += size;
      rc = SIM_OK;
    }
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

/* --- VMM --- */

#define VMM_MAX 4096
#define VA_BASE 0x600000000000ull

/* refs: one for the creation, one for each retain; released at zero. */
struct vmm_handle { uint64_t addr, size; int maps, refs, used; };
struct vmm_range { uint64_t va, size; int used; };
struct vmm_map { uint64_t va, size, handle; int used; };

static struct vmm_handle vmm_handles[VMM_MAX];
static struct vmm_range vmm_ranges[VMM_MAX];
static struct vmm_map vmm_maps[VMM_MAX];
static uint64_t vmm_next_va = VA_BASE;
static pthread_mutex_t vmm_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t vmm_max_reserve(void) {
  const char *s = getenv("WSLSIM_MAX_RESERVE");
  return s ? parse_size(s, NULL) : UINT64_MAX;
}

int sim_vmm_reserve(uint64_t size, uint64_t *va) {
  init();
  if (!size || size % SIM_VMM_GRANULARITY) return SIM_INVALID;
  if (size > vmm_max_reserve()) return SIM_OOM;
  int rc = SIM_OOM;
  pthread_mutex_lock(&vmm_lock);
  for (int i = 0; i < VMM_MAX; i++) {
    if (vmm_ranges[i].used) continue;
    vmm_ranges[i] = (struct vmm_range){vmm_next_va, size, 1};
    *va = vmm_next_va;
    vmm_next_va += size + SIM_VMM_GRANULARITY;
    rc = SIM_OK;
    break;
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}

int sim_vmm_unreserve(uint64_t va, uint64_t size) {
  int rc = SIM_INVALID;
  pthread_mutex_lock(&vmm_lock);
  for (int i = 0; i < VMM_MAX; i++) {
    if (vmm_ranges[i].used && vmm_ranges[i].va == va && vmm_ranges[i].size == size) {
      vmm_ranges[i].used = 0;
      rc = SIM_OK;
      break;
    }
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}

int sim_vmm_create(int dev, uint64_t size, uint64_t *handle) {
  if (!size || size % SIM_VMM_GRANULARITY) return SIM_INVALID;
  uint64_t addr;
  int rc = sim_alloc(dev, size, &addr);
  if (rc != SIM_OK) return rc;
  rc = SIM_OOM;
  pthread_mutex_lock(&vmm_lock);
  for (int i = 0; i < VMM_MAX; i++) {
    if (vmm_handles[i].used) continue;
    vmm_handles[i] = (struct vmm_handle){addr, size, 0, 1, 1};
    *handle = (uint64_t)i + 1;
    rc = SIM_OK;
    break;
  }
  pthread_mutex_unlock(&vmm_lock);
  if (rc != SIM_OK) sim_free(addr);
  return rc;
}

static struct vmm_handle *vmm_handle(uint64_t h) {
  return h >= 1 && h <= VMM_MAX && vmm_handles[h - 1].used ? &vmm_handles[h - 1]
                                                           : NULL;
}

/* Gives the device memory back once released and unmapped. Lock held. */
static void vmm_settle(struct vmm_handle *hd) {
  if (hd->refs == 0 && hd->maps == 0) {
    sim_free(hd->addr);
    hd->used = 0;
  }
}

int sim_vmm_release(uint64_t handle) {
  int rc = SIM_INVALID;
  if (free_delay_ms > 0) { /* WSLSIM_FREE_DELAY_MS, as for sim_free */
    pthread_mutex_lock(&vmm_lock);
    struct vmm_handle *big = vmm_handle(handle);
    bool slow = big && big->size >= free_delay_min;
    pthread_mutex_unlock(&vmm_lock);
    if (slow) sleep_ms(free_delay_ms);
  }
  pthread_mutex_lock(&vmm_lock);
  struct vmm_handle *hd = vmm_handle(handle);
  if (hd && hd->refs > 0) {
    hd->refs--;
    vmm_settle(hd);
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}

int sim_vmm_map(uint64_t va, uint64_t size, uint64_t handle) {
  int rc = SIM_INVALID;
  pthread_mutex_lock(&vmm_lock);
  struct vmm_handle *hd = vmm_handle(handle);
  bool inside = false;
  for (int i = 0; i < VMM_MAX && !inside; i++)
    inside = vmm_ranges[i].used && va >= vmm_ranges[i].va &&
             va + size <= vmm_ranges[i].va + vmm_ranges[i].size;
  if (hd && hd->refs > 0 && size == hd->size && inside) {
    for (int m = 0; m < VMM_MAX; m++) {
      if (vmm_maps[m].used) continue;
      vmm_maps[m] = (struct vmm_map){va, size, handle, 1};
      hd->maps++;
      rc = SIM_OK;
      break;
    }
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}

int sim_vmm_retain(uint64_t va, uint64_t *handle) {
  int rc = SIM_INVALID;
  pthread_mutex_lock(&vmm_lock);
  for (int i = 0; i < VMM_MAX && rc != SIM_OK; i++) {
    struct vmm_map *m = &vmm_maps[i];
    struct vmm_handle *hd = m->used ? vmm_handle(m->handle) : NULL;
    if (!hd || va < m->va || va >= m->va + m->size) continue;
    hd->refs++;
    *handle = m->handle;
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}

int sim_vmm_unmap(uint64_t va, uint64_t size) {
  int rc = SIM_INVALID;
  pthread_mutex_lock(&vmm_lock);
  for (int i = 0; i < VMM_MAX; i++) {
    struct vmm_map *m = &vmm_maps[i];
    if (!m->used || m->va < va || m->va + m->size > va + size) continue;
    m->used = 0;
    struct vmm_handle *hd = vmm_handle(m->handle);
    if (hd) {
      hd->maps--;
      vmm_settle(hd);
    }
    rc = SIM_OK;
  }
  pthread_mutex_unlock(&vmm_lock);
  return rc;
}
