/* Unit test of the live table (shim/table.c, with track.c's free path): exact entries through reuse, overflow and threads. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "unit.h"

/* --- What the table needs of the rest of the library ----------------------
   The globals state.c and first_aid.c own, defined here for an ordinary executable;
   the rest are on paths these tests never take (OOM records, stacks,
   fork), and stop the test if ever reached. */
struct wsla_options wsla_opts;
__thread struct wsla_tls wsla_tls __attribute__((tls_model("initial-exec")));
int wsla_gate_word;
pid_t wsla_tid_slow(void) { return wsla_tls.tid = gettid(); }
#define NOT_HERE(decl)                                                         \
  decl {                                                                       \
    fprintf(stderr, "unexpected call: %s\n", __func__);                        \
    abort();                                                                   \
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
NOT_HERE(uint64_t wsla_ballast_on(int device))
NOT_HERE(void wsla_first_aid_note(struct wsla_proc *p, const struct wsla_oom *o))
NOT_HERE(void wsla_modules_refresh(struct wsla_proc *p))
NOT_HERE(void wsla_oom_stack_note(struct wsla_proc *p, uint64_t idx, uint64_t site))
NOT_HERE(void wsla_others_note(struct wsla_proc *p, uint64_t idx, int device, uint16_t api))
NOT_HERE(uint16_t wsla_stack_intern(struct wsla_proc *p, uint64_t site))
#pragma GCC diagnostic pop

/* --- A process's recording, in memory or in a file ----------------------- */

enum { RING = 64, MAX_LIVE = 1024 };
static struct wsla_counters counters;
static struct wsla_event ring[RING];
static struct wsla_live live_mem[MAX_LIVE];
static struct wsla_proc proc;

/* A fresh table of cap first-region slots: the state of a new process
   (wsla_table_reset_after_fork forgets the overflow region and heap). */
static struct wsla_proc *fresh(uint64_t cap) {
  wsla_table_reset_after_fork();
  memset(&counters, 0, sizeof counters);
  memset(ring, 0, sizeof ring);
  memset(live_mem, 0, sizeof live_mem);
  memset(&proc, 0, sizeof proc);
  proc.ctr = &counters;
  proc.ring = ring;
  proc.ring_mask = RING - 1;
  proc.live = live_mem;
  proc.live_cap = cap;
  return &proc;
}

/* The slot of slots[0..cap) holding addr live, or -1. */
static long slot_of(const struct wsla_live *slots, uint64_t cap, uint64_t addr) {
  for (uint64_t i = 0; i < cap; i++)
    if (slots[i].commit && slots[i].addr == addr) return (long)i;
  return -1;
}

static uint64_t committed(const struct wsla_live *slots, uint64_t cap) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < cap; i++) n += slots[i].commit != 0;
  return n;
}

static struct wsla_entry entry(uint64_t size) {
  return (struct wsla_entry){.size = size, .api = WSLA_API_cudaMalloc, .device = 0};
}

static bool put(struct wsla_proc *p, uint64_t addr, uint64_t size, uint64_t seq,
                struct wsla_entry *stale) {
  struct wsla_entry e = entry(size), ignored;
  bool inserted;
  bool had = wsla_table_put(p, addr, &e, 0x400000, 1000 + seq, seq, &inserted,
                            stale ? stale : &ignored);
  CHECK(inserted, "put of 0x%" PRIx64 " inserted", addr);
  return had;
}

static uint64_t take_size(struct wsla_proc *p, uint64_t addr) {
  struct wsla_entry e;
  return wsla_table_take(p, addr, &e) ? e.size : 0;
}

/* --- Single-threaded answers --------------------------------------------- */

static void test_put_take(void) {
  struct wsla_proc *p = fresh(16);
  CHECK(!put(p, 0x7f0000000000, 4096, 0, NULL), "a new address has no stale entry");
  CHECK(!put(p, 0x7f0000100000, 8192, 1, NULL), "nor has a second");
  long s = slot_of(p->live, 16, 0x7f0000000000);
  CHECK(s >= 0, "the entry is in a live slot of the recording");
  if (s >= 0) {
    CHECK_U64(p->live[s].size, 4096);
    CHECK_U64(p->live[s].commit, 1); /* the ring sequence of its ALLOC + 1 */
    CHECK_U64(p->live[s].site, 0x400000);
    CHECK_U64(p->live[s].time_ns, 1000);
    CHECK_U64(p->live[s].api, WSLA_API_cudaMalloc);
  }
  CHECK_U64(take_size(p, 0x7f0000000000), 4096);
  CHECK_U64(take_size(p, 0x7f0000000000), 0); /* taken once only */
  CHECK(slot_of(p->live, 16, 0x7f0000000000) < 0, "a reader sees it gone");
  CHECK_U64(take_size(p, 0x7f0000100000), 8192);
  CHECK_U64(take_size(p, 0x1234), 0); /* never put */
  CHECK_U64(committed(p->live, 16), 0);
}

static void test_stale(void) {
  /* The client freed 0x5000 by a path the shim does not see, and the
     runtime handed it out again. */
  struct wsla_proc *p = fresh(16);
  put(p, 0x5000, 100, 0, NULL);
  struct wsla_entry stale = {0};
  CHECK(put(p, 0x5000, 200, 1, &stale), "the re-used address returns its stale entry");
  CHECK_U64(stale.size, 100);
  CHECK_U64(committed(p->live, 16), 1); /* one slot, not two */
  CHECK_U64(take_size(p, 0x5000), 200);
  CHECK_U64(take_size(p, 0x5000), 0);
}

/* Two addresses of the same home slot, found by putting addresses into an
   empty table until two land on one slot (of 16, 17 addresses suffice). */
static void same_home(uint64_t *a, uint64_t *b) {
  long home_of[17];
  for (int i = 0; i < 17; i++) {
    struct wsla_proc *p = fresh(16);
    uint64_t addr = 0x10000000ull + (uint64_t)i * 0x200000;
    put(p, addr, 1, 0, NULL);
    home_of[i] = slot_of(p->live, 16, addr);
    for (int j = 0; j < i; j++)
      if (home_of[j] == home_of[i]) {
        *a = 0x10000000ull + (uint64_t)j * 0x200000;
        *b = addr;
        return;
      }
  }
  abort(); /* impossible: 17 addresses, 16 slots */
}

static void test_tombstone(void) {
  uint64_t a, b, c = 0;
  same_home(&a, &b);
  /* A third address of that home. */
  long ha = -1;
  for (uint64_t i = 0; i < 64 && !c; i++) {
    uint64_t x = 0x90000000ull + i * 0x200000;
    struct wsla_proc *p = fresh(16);
    put(p, a, 1, 0, NULL);
    ha = slot_of(p->live, 16, a);
    fresh(16);
    put(p, x, 1, 0, NULL);
    if (slot_of(p->live, 16, x) == ha) c = x;
  }
  CHECK(c != 0, "a third address of the same home");
  struct wsla_proc *p = fresh(16);
  put(p, a, 10, 0, NULL);
  put(p, b, 20, 1, NULL);
  long sa = slot_of(p->live, 16, a), sb = slot_of(p->live, 16, b);
  CHECK_U64(sa, ha);
  CHECK_U64(sb, (sa + 1) % 16); /* b probed one past its home */
  CHECK_U64(take_size(p, a), 10);
  CHECK_U64(p->live[sa].reserved0, 1); /* a tombstone (FREE), not EMPTY */
  /* The tombstone is reused, not the EMPTY slot past b. */
  put(p, c, 30, 2, NULL);
  CHECK_U64(slot_of(p->live, 16, c), sa);
  CHECK_U64(committed(p->live, 16), 2);
  CHECK_U64(take_size(p, c), 30);
  /* A lookup goes on past a tombstone. */
  CHECK_U64(take_size(p, b), 20);
  /* Churn on one chain does not lengthen it: each put goes back into the
     chain's first tombstone. */
  for (uint64_t i = 0; i < 100; i++) {
    put(p, a, i + 1, 3 + i, NULL);
    CHECK(slot_of(p->live, 16, a) == sa, "round %" PRIu64 ": the chain's first free slot", i);
    CHECK_U64(take_size(p, a), i + 1);
  }
  CHECK_U64(committed(p->live, 16), 0);
}

static void test_overflow_and_side(void) {
  /* An anonymous recording (WSLALLOC_RECORD=0): the overflow region is
     process memory, four times the first. */
  struct wsla_proc *p = fresh(16);
  for (uint64_t i = 0; i < 16; i++) put(p, 0x20000000ull + i * 0x100000, i + 1, i, NULL);
  CHECK_U64(committed(p->live, 16), 16);
  uint64_t cap = 99;
  CHECK(wsla_table_more(&cap) == NULL && cap == 0, "no overflow region while the first has room");
  put(p, 0x30000000ull, 1000, 16, NULL);
  const struct wsla_live *ov = wsla_table_more(&cap);
  CHECK(ov != NULL, "a full first region grows an overflow region");
  CHECK_U64(cap, 64);
  if (ov) CHECK(slot_of(ov, cap, 0x30000000ull) >= 0, "the 17th entry is in it");
  CHECK_U64(counters.live_overflow, 0);
  for (uint64_t i = 1; i < 64; i++) put(p, 0x30000000ull + i * 0x100000, 1000 + i, 16 + i, NULL);
  if (ov) CHECK_U64(committed(ov, cap), 64);
  /* Past both regions: the heap side table, counted, and said once on
     stderr (caught here in a file). */
  char path[] = "/tmp/wsla-unit-stderr-XXXXXX";
  int fd = mkstemp(path), saved = dup(2);
  dup2(fd, 2);
  for (uint64_t i = 0; i < 3; i++) put(p, 0x40000000ull + i * 0x100000, 5000 + i, 80 + i, NULL);
  dup2(saved, 2);
  close(saved);
  char said[512] = "";
  ssize_t n = pread(fd, said, sizeof said - 1, 0);
  said[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  CHECK_HAS(said, "the live table is full (80 slots)");
  CHECK_HAS(said, "raise WSLALLOC_LIVE_SLOTS");
  CHECK_U64(strchr(said, '\n') ? strchr(said, '\n') - said + 1 : 0, strlen(said)); /* one line */
  CHECK_U64(counters.live_overflow, 3);
  CHECK_U64(counters.table_oom, 0);
  /* Every entry is found exactly once, wherever it went. */
  for (uint64_t i = 0; i < 3; i++) CHECK_U64(take_size(p, 0x40000000ull + i * 0x100000), 5000 + i);
  for (uint64_t i = 0; i < 64; i++) CHECK_U64(take_size(p, 0x30000000ull + i * 0x100000), 1000 + i);
  for (uint64_t i = 0; i < 16; i++) CHECK_U64(take_size(p, 0x20000000ull + i * 0x100000), i + 1);
  CHECK_U64(take_size(p, 0x40000000ull), 0);
  CHECK_U64(committed(p->live, 16) + (ov ? committed(ov, cap) : 0), 0);
  /* A stale entry in the side table is found by the next put. */
  for (uint64_t i = 0; i < 80; i++) put(p, 0x50000000ull + i * 0x100000, 7, 100 + i, NULL);
  put(p, 0x60000000ull, 8, 200, NULL); /* to the side table */
  struct wsla_entry stale = {0};
  CHECK(put(p, 0x60000000ull, 9, 201, &stale), "a stale side-table entry is returned");
  CHECK_U64(stale.size, 8);
  CHECK_U64(take_size(p, 0x60000000ull), 9);
}

static void test_overflow_in_file(void) {
  /* A file-backed recording: the overflow region is the file's new tail,
     announced in the header for readers. */
  char path[] = "/tmp/wsla-unit-table-XXXXXX";
  int fd = mkstemp(path);
  /* Whole pages, as the library lays a recording out (the new region is
     mapped at the old end). */
  const size_t live_at = 8192, len = live_at + 4096;
  if (fd < 0 || ftruncate(fd, (off_t)len) != 0) abort();
  uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) abort();
  struct wsla_proc *p = fresh(16);
  p->hdr = (struct wsla_header *)map;
  p->live = (struct wsla_live *)(map + live_at);
  p->map = map;
  p->map_len = len;
  p->file_backed = true;
  snprintf(p->path, sizeof p->path, "%s", path);
  for (uint64_t i = 0; i < 17; i++) put(p, 0x70000000ull + i * 0x100000, 100 + i, i, NULL);
  struct stat st;
  fstat(fd, &st);

  CHECK_U64(st.st_size, len + 64 * sizeof(struct wsla_live));
  CHECK_U64(p->hdr->live2_off, len);
  CHECK_U64(p->hdr->live2_cap, 64);
  CHECK_U64(p->hdr->file_size, len + 64 * sizeof(struct wsla_live));
  CHECK(p->hdr->features & WSLA_FEAT_LIVE2, "the header announces the second region");
  /* What a reader of the file finds there: the 17th entry. */
  struct wsla_live second[64];
  CHECK_U64(pread(fd, second, sizeof second, (off_t)len), sizeof second);
  long s = slot_of(second, 64, 0x70000000ull + 16 * 0x100000);
  CHECK(s >= 0, "the 17th entry is in the file's second region");
  if (s >= 0) CHECK_U64(second[s].size, 116);
  CHECK_U64(committed(p->live, 16) + committed(second, 64), 17);
  for (uint64_t i = 0; i < 17; i++) CHECK_U64(take_size(p, 0x70000000ull + i * 0x100000), 100 + i);
  wsla_table_reset_after_fork();
  munmap(map, len);
  close(fd);
  unlink(path);
}

/* track.c's free path: a free the runtime refused leaves the allocation
   live, counted and listed as before; an accepted one retires it. */
static void test_refused_free(void) {
  struct wsla_proc *p = fresh(16);
  struct wsla_call c = {.api = WSLA_API_cudaMalloc, .device = 0, .ok = true, .addr = 0xa0000000,
                        .size = 3 << 20, .site = 0x401000, .time_ns = 10};
  wsla_track_alloc(p, &c, NULL);
  struct wsla_device_counters *d = &counters.dev[0];
  CHECK_U64(d->live_bytes, 3 << 20);
  CHECK_U64(d->live_allocs, 1);
  struct wsla_taken t;
  wsla_take(p, 0xa0000000, &t);
  CHECK(t.had, "the free finds its entry");
  CHECK_U64(t.seq, 1); /* the slot after the ALLOC's */
  wsla_track_free(p, WSLA_API_cudaFree, 700 /* an error */, false, 0xa0000000, &t, 0x402000, 20);
  CHECK_U64(d->live_bytes, 3 << 20);
  CHECK_U64(d->live_allocs, 1);
  CHECK_U64(counters.api[WSLA_API_cudaFree].calls, 1);
  CHECK_U64(counters.api[WSLA_API_cudaFree].failed, 1);
  CHECK_U64(ring[1].type, WSLA_EV_FAIL);
  CHECK_U64(ring[1].result, 700);
  CHECK_U64(ring[1].commit, 2);
  long s = slot_of(p->live, 16, 0xa0000000);
  CHECK(s >= 0, "the refused free's allocation is listed again");
  if (s >= 0) CHECK_U64(p->live[s].size, 3 << 20);
  /* The accepted free. */
  wsla_take(p, 0xa0000000, &t);
  CHECK(t.had && t.e.size == 3 << 20, "put back whole");
  wsla_track_free(p, WSLA_API_cudaFree, 0, true, 0xa0000000, &t, 0x402000, 30);
  CHECK_U64(d->live_bytes, 0);
  CHECK_U64(d->live_allocs, 0);
  CHECK_U64(d->peak_bytes, 3 << 20);
  CHECK_U64(ring[2].type, WSLA_EV_FREE);
  CHECK_U64(ring[2].size, 3 << 20);
  CHECK_U64(counters.events_claimed, 3);
  CHECK_U64(committed(p->live, 16), 0);
}

/* --- Threads -------------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 120, ROUNDS = 300, CONTESTED = 200 };
static atomic_uint_fast64_t seq_next, bad_takes;
static _Atomic unsigned taken_times[CONTESTED];

static uint64_t addr_of(unsigned thread, unsigned k) {
  return 0x100000000000ull * (thread + 1) + (uint64_t)k * 0x200;
}
static uint64_t size_of(unsigned thread, unsigned k) { return (uint64_t)thread << 20 | k; }

/* Each thread puts its own addresses and takes them back, ROUNDS times,
   then leaves them in: every take must give back exactly what its own
   put stored, whatever the other threads did to the slots meanwhile. */
static void *churn(void *arg) {
  unsigned t = (unsigned)(uintptr_t)arg;
  for (unsigned r = 0; r <= ROUNDS; r++) {
    for (unsigned k = 0; k < PER_THREAD; k++) {
      struct wsla_entry e = entry(size_of(t, k)), stale;
      bool inserted;
      if (wsla_table_put(&proc, addr_of(t, k), &e, 0, 0, atomic_fetch_add(&seq_next, 1),
                         &inserted, &stale) || !inserted)
        atomic_fetch_add(&bad_takes, 1);
    }
    if (r == ROUNDS) break;
    for (unsigned k = 0; k < PER_THREAD; k++)
      if (take_size(&proc, addr_of(t, k)) != size_of(t, k)) atomic_fetch_add(&bad_takes, 1);
  }
  return NULL;
}

/* Every thread tries to take every one of the same addresses: each must
   be taken exactly once. */
static void *contest(void *arg) {
  (void)arg;
  for (unsigned k = 0; k < CONTESTED; k++) {
    struct wsla_entry e;
    if (wsla_table_take(&proc, 0x7e0000000000ull + k * 0x100, &e)) {
      atomic_fetch_add(&taken_times[k], 1);
      if (e.size != k + 1) atomic_fetch_add(&bad_takes, 1);
    }
  }
  return NULL;
}

static void run_threads(void *(*fn)(void *)) {
  pthread_t th[THREADS];
  for (unsigned t = 0; t < THREADS; t++)
    if (pthread_create(&th[t], NULL, fn, (void *)(uintptr_t)t)) abort();
  for (unsigned t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
}

static void stress(uint64_t cap) {
  wsla_opts.quiet.num = 1; /* the full-table warning, tested above */
  fresh(cap);
  atomic_store(&bad_takes, 0);
  atomic_store(&seq_next, 0);
  run_threads(churn);
  CHECK_U64(atomic_load(&bad_takes), 0);
  /* Exact counts: every entry left in is found once, with its size. */
  uint64_t cap2 = 0;
  const struct wsla_live *ov = wsla_table_more(&cap2);
  uint64_t listed = committed(proc.live, cap) + (ov ? committed(ov, cap2) : 0);
  /* live_overflow counts every put that found no slot, taken since or not. */
  if (cap * 5 >= THREADS * PER_THREAD) {
    CHECK_U64(counters.live_overflow, 0);
    CHECK_U64(listed, THREADS * PER_THREAD);
  } else {
    CHECK(listed <= THREADS * PER_THREAD && counters.live_overflow >= THREADS * PER_THREAD - listed,
          "%" PRIu64 " listed, %" PRIu64 " past both regions", listed, counters.live_overflow);
  }
  uint64_t found = 0;
  for (unsigned t = 0; t < THREADS; t++)
    for (unsigned k = 0; k < PER_THREAD; k++) found += take_size(&proc, addr_of(t, k)) == size_of(t, k);
  CHECK_U64(found, THREADS * PER_THREAD);
  CHECK_U64(committed(proc.live, cap) + (ov ? committed(ov, cap2) : 0), 0);
  /* The contested takes. */
  for (unsigned k = 0; k < CONTESTED; k++) {
    put(&proc, 0x7e0000000000ull + k * 0x100, k + 1, atomic_fetch_add(&seq_next, 1), NULL);
    atomic_store(&taken_times[k], 0);
  }
  run_threads(contest);
  unsigned once = 0;
  for (unsigned k = 0; k < CONTESTED; k++) once += atomic_load(&taken_times[k]) == 1;
  CHECK_U64(once, CONTESTED);
  CHECK_U64(atomic_load(&bad_takes), 0);
  wsla_opts.quiet.num = 0;
}

static void test_threads(void) {
  stress(1024);  /* room for all in the first region */
  stress(64);    /* 64 + 256 slots for 480: overflow region and heap under contention */
}

int main(int argc, char **argv) {
  /* "threads": only the multi-threaded part (the TSan build's suite). */
  bool threads_only = argc > 1 && strcmp(argv[1], "threads") == 0;
  if (!threads_only) {
    test_put_take();
    test_stale();
    test_tombstone();
    test_overflow_and_side();
    test_overflow_in_file();
    test_refused_free();
  }
  test_threads();
  return unit_done();
}
