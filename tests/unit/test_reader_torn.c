/* Unit test of the reader's slot protocol: a slot overwritten while it is copied is left out and counted lost. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tool.h"
#include "small_recording.h"

/* The reader's hook between a slot's copy and the second load of its commit
   word (reader.c, built with WSLA_READER_TEST_HOOK). */
extern void (*rec_test_hook)(const void *slot, size_t size);

static int failures;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                              \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
    }                                                                          \
  } while (0)

/* A small recording, laid out as the library lays one out (a page per
   region): 4 OOM records, 4 live slots, a ring of 8. */
enum {
  OOM_CAP = 4,
  LIVE_CAP = 4,
  RING_CAP = 8,
  FILE_SIZE = RING_OFF + RING_CAP * 64,
};

static int fd;
static char path[] = "/tmp/wsla-unit-XXXXXX";

/* What event seq holds: every field follows from seq, so a copy that mixes
   two writes shows. */
static struct wsla_event event_of(uint64_t seq) {
  return (struct wsla_event){.commit = seq + 1, .time_ns = seq * 1000, .addr = 0x100000 * (seq + 1),
                             .size = 4096 * (seq + 1), .site = 0x400000 + seq, .aux = 0,
                             .tid = (uint32_t)(seq + 7), .type = WSLA_EV_ALLOC, .api = WSLA_API_cudaMalloc,
                             .device = 0};
}

static bool consistent(const struct wsla_event *e) {
  struct wsla_event want = event_of(e->commit - 1);
  return !memcmp(e, &want, sizeof want);
}

static void put(uint64_t off, const void *p, size_t n) {
  if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n) abort();
}

static void make_recording(uint64_t events, uint64_t ooms) {
  static uint8_t zero[FILE_SIZE];
  put(0, zero, sizeof zero);
  struct wsla_header h;
  small_recording_header(&h, OOM_CAP, LIVE_CAP, RING_CAP);
  put(0, &h, sizeof h);
  struct wsla_counters c = {.events_claimed = events, .ooms_claimed = ooms};
  put(COUNTERS_OFF, &c, sizeof c);
  for (uint64_t seq = events > RING_CAP ? events - RING_CAP : 0; seq < events; seq++) {
    struct wsla_event e = event_of(seq);
    put(RING_OFF + (seq % RING_CAP) * 64, &e, sizeof e);
  }
  for (uint64_t i = 0; i < ooms; i++) {
    struct wsla_oom o = {.commit = i + 1, .size = 1000 + i, .device = 0};
    put(OOM_OFF + i * sizeof o, &o, sizeof o);
  }
  for (uint64_t i = 0; i < 2; i++) {
    struct wsla_live l = {.commit = i + 1, .addr = 0x7000000 + i, .size = 4096 * (i + 1)};
    put(LIVE_OFF + i * sizeof l, &l, sizeof l);
  }
}

/* The deterministic tear: the writer strikes while the reader is between
   its copy and its second look at the commit word. */
static void tear(const void *slot, size_t size) {
  const uint64_t *w = slot;
  if (size == sizeof(struct wsla_event) && w[0] == 4 && w[3] == 4096 * 4) {
    /* Event seq 3, overtaken by the ring's next lap (seq 11). */
    struct wsla_event e = event_of(3 + RING_CAP);
    put(RING_OFF + 3 * 64, &e, sizeof e);
  } else if (size == sizeof(struct wsla_oom) && w[0] == 2) {
    /* OOM record 1, its commit zeroed and half its payload new: a record
       being (re)written, as after a crash mid-write. */
    uint64_t half[2] = {0, 777};
    put(OOM_OFF + sizeof(struct wsla_oom), half, sizeof half);
  } else if (size == sizeof(struct wsla_live) && w[0] == 2 && w[1] == 0x7000001) {
    /* Live slot 1 freed and taken by a newer allocation. */
    struct wsla_live l = {.commit = 9, .addr = 0xdead0000, .size = 1};
    put(LIVE_OFF + sizeof l, &l, sizeof l);
  }
}

static void test_deterministic_tear(void) {
  make_recording(8, 2);
  rec_test_hook = tear;
  struct rec r;
  char err[4400];
  int rc = rec_open(path, &r, err, sizeof err);
  rec_test_hook = NULL;
  CHECK(rc == 0, "rec_open: %s", err);
  if (rc) return;
  CHECK(r.events_claimed == 8, "claimed %llu", (unsigned long long)r.events_claimed);
  CHECK(r.nevents == 7, "the torn event is dropped: %llu kept", (unsigned long long)r.nevents);
  CHECK(r.events_lost == 1, "and counted lost: %llu", (unsigned long long)r.events_lost);
  for (uint64_t i = 0; i < r.nevents; i++) {
    CHECK(consistent(&r.events[i]), "event %llu is whole", (unsigned long long)i);
    CHECK(r.events[i].commit != 4 && r.events[i].commit != 12, "event seq %llu kept",
          (unsigned long long)r.events[i].commit - 1);
  }
  CHECK(r.oom_count == 2, "two OOM records claimed: %llu", (unsigned long long)r.oom_count);
  if (r.oom_count == 2) {
    CHECK(r.ooms[0].commit == 1 && r.ooms[0].size == 1000, "OOM record 0 kept whole");
    CHECK(r.ooms[1].commit == 0, "OOM record 1, torn, is not shown");
  }
  CHECK(r.live_count == 1, "the reused live slot is dropped: %llu kept",
        (unsigned long long)r.live_count);
  if (r.live_count == 1) CHECK(r.live[0].size == 4096, "live slot 0 kept whole");
  rec_close(&r);

  /* The same file read again, quietly: the new lap's event, record 1's
     half-written state and the new live slot as the file now holds them. */
  rc = rec_open(path, &r, err, sizeof err);
  CHECK(rc == 0, "rec_open again: %s", err);
  if (rc) return;
  CHECK(r.nevents == 7 && r.events_lost == 1, "slot 3 holds seq 11, not expected: %llu kept",
        (unsigned long long)r.nevents);
  CHECK(r.oom_count == 2 && r.ooms[1].commit == 0, "record 1 still uncommitted");
  CHECK(r.live_count == 2, "both live slots in use now: %llu", (unsigned long long)r.live_count);
  rec_close(&r);
}

/* The file cut short while the reader copies its ring: the reader's own
   pages past the new end fault (SIGBUS), and it refuses the file with one
   line instead of dying. */
static void cut(const void *slot, size_t size) {
  const uint64_t *w = slot;
  /* Event seq 0 (a live slot's fourth word is its site, 0 here). */
  if (size == sizeof(struct wsla_event) && w[0] == 1 && w[3] == 4096 && ftruncate(fd, RING_OFF) != 0)
    abort();
}

static void test_cut_short(void) {
  make_recording(8, 0);
  rec_test_hook = cut;
  struct rec r;
  char err[4400] = "";
  int rc = rec_open(path, &r, err, sizeof err);
  rec_test_hook = NULL;
  CHECK(rc == -1, "a file cut short while read is refused");
  CHECK(strstr(err, "cut short while it was read") != NULL, "and says so: %s", err);
  if (rc == 0) rec_close(&r);
  /* The next file reads as usual. */
  make_recording(8, 0);
  rc = rec_open(path, &r, err, sizeof err);
  CHECK(rc == 0 && r.nevents == 8, "the whole file afterwards: %s", rc ? err : "");
  if (rc == 0) rec_close(&r);
}

/* A writer laps the ring as the library does (claim, zero commit, release
   fence, payload, release commit) while the reader opens the file again and
   again: every event kept must be whole. */
static atomic_bool stop;

static void *writer(void *arg) {
  (void)arg;
  uint8_t *map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) abort();
  struct wsla_counters *c = (void *)(map + COUNTERS_OFF);
  struct wsla_event *ring = (void *)(map + RING_OFF);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint64_t seq = __atomic_fetch_add(&c->events_claimed, 1, __ATOMIC_RELAXED);
    struct wsla_event *e = &ring[seq % RING_CAP], v = event_of(seq);
    /* The library's WSLA_INVALIDATE, in its TSan-friendly form. */
    (void)__atomic_exchange_n(&e->commit, 0, __ATOMIC_ACQ_REL);
    uint64_t *to = (void *)e, *from = (void *)&v;
    for (size_t i = 1; i < sizeof v / 8; i++) __atomic_store_n(&to[i], from[i], __ATOMIC_RELAXED);
    /* Release: pairs with the reader's acquire load of commit. */
    __atomic_store_n(&e->commit, v.commit, __ATOMIC_RELEASE);
  }
  munmap(map, FILE_SIZE);
  return NULL;
}

static void test_racing_writer(void) {
  make_recording(RING_CAP, 0);
  pthread_t t;
  atomic_store(&stop, false);
  if (pthread_create(&t, NULL, writer, NULL)) abort();
  uint64_t opened = 0, kept = 0, torn = 0;
  uint64_t until = tool_now_ns() + 1500000000ull;
  while (tool_now_ns() < until) {
    struct rec r;
    char err[4400];
    if (rec_open(path, &r, err, sizeof err) != 0) {
      CHECK(0, "rec_open under a writer: %s", err);
      break;
    }
    opened++;
    for (uint64_t i = 0; i < r.nevents; i++) torn += !consistent(&r.events[i]);
    kept += r.nevents;
    CHECK(r.nevents + r.events_lost == r.events_claimed, "every claimed event kept or lost");
    rec_close(&r);
  }
  atomic_store(&stop, true);
  pthread_join(t, NULL);
  printf("racing writer: %llu opens, %llu events kept, %llu torn\n", (unsigned long long)opened,
         (unsigned long long)kept, (unsigned long long)torn);
  CHECK(torn == 0, "%llu torn events kept", (unsigned long long)torn);
  CHECK(kept > 0, "some events kept");
}

int main(void) {
  fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  test_deterministic_tear();
  test_cut_short();
  test_racing_writer();
  close(fd);
  unlink(path);
  if (failures) return printf("%d failure(s)\n", failures), 1;
  printf("ok\n");
  return 0;
}
