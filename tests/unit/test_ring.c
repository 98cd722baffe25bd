/* Unit test of the event ring end to end: the library's writer (shim.h's wsla_emit) and the reader's copy of it. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"
#include "tool.h"
#include "small_recording.h"
#include "unit.h"

/* What the inline writer needs of the library: the calling thread's id. */
__thread struct wsla_tls wsla_tls __attribute__((tls_model("initial-exec")));
pid_t wsla_tid_slow(void) { return wsla_tls.tid = gettid(); }

/* The reader's hook between a slot's copy and the second load of its
   commit word (reader.c, built with WSLA_READER_TEST_HOOK). */
extern void (*rec_test_hook)(const void *slot, size_t size);

/* A recording laid out as the library lays one out (a page per region),
   with a ring of 8, mapped as the writer maps it. */
enum {
  RING_CAP = 8,
  FILE_SIZE = RING_OFF + RING_CAP * 64,
};

static char path[] = "/tmp/wsla-unit-ring-XXXXXX";
static int fd;
static uint8_t *map;
static struct wsla_proc proc;

static void make_recording(void) {
  if (map) munmap(map, FILE_SIZE);
  if (ftruncate(fd, 0) != 0 || ftruncate(fd, FILE_SIZE) != 0) abort();
  map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) abort();
  struct wsla_header *h = (void *)map;
  small_recording_header(h, 1, 1, RING_CAP);
  proc = (struct wsla_proc){.hdr = h, .ctr = (void *)(map + COUNTERS_OFF),
                            .ring = (void *)(map + RING_OFF), .ring_mask = RING_CAP - 1,
                            .map = map, .map_len = FILE_SIZE, .file_backed = true};
}

/* Event seq's figures: every field follows from seq. */
static uint64_t emit(uint64_t n) {
  return wsla_emit(&proc, WSLA_EV_ALLOC, WSLA_API_cudaMalloc, 0, 0, 0, 0x100000 * (n + 1),
                   4096 * (n + 1), 0x400000 + n, 0, 1000 * n);
}

static bool read_rec(struct rec *r) {
  char err[4400];
  int rc = rec_open(path, r, err, sizeof err);
  CHECK(rc == 0, "rec_open: %s", err);
  return rc == 0;
}

/* Events kept are whole, each carries the figures of its sequence, and they
   come in sequence order. */
static void check_events(const struct rec *r) {
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    uint64_t seq = e->commit - 1;
    CHECK(e->size == 4096 * (seq + 1) && e->addr == 0x100000 * (seq + 1) &&
              e->time_ns == 1000 * seq && e->site == 0x400000 + seq,
          "event %" PRIu64 " (seq %" PRIu64 ") is whole", i, seq);
    if (i) CHECK(e->commit > r->events[i - 1].commit, "event %" PRIu64 " in sequence order", i);
  }
}

static void test_order_and_lap(void) {
  make_recording();
  for (uint64_t n = 0; n < 5; n++) CHECK_U64(emit(n), n);
  struct rec r;
  if (!read_rec(&r)) return;
  CHECK_U64(r.events_claimed, 5);
  CHECK_U64(r.nevents, 5);
  CHECK_U64(r.events_lost, 0);
  CHECK_U64(r.events[0].tid, (uint32_t)gettid());
  check_events(&r);
  rec_close(&r);
  /* Past a lap: the newest RING_CAP kept, the older ones counted lost. */
  for (uint64_t n = 5; n < 21; n++) emit(n);
  if (!read_rec(&r)) return;
  CHECK_U64(r.events_claimed, 21);
  CHECK_U64(r.nevents, RING_CAP);
  CHECK_U64(r.events_lost, 21 - RING_CAP);
  CHECK_U64(r.events[0].commit, 21 - RING_CAP + 1);
  CHECK_U64(r.events[RING_CAP - 1].commit, 21);
  check_events(&r);
  rec_close(&r);
}

static void test_late_emit_at(void) {
  /* A free claims its slot before the real free returns; the ring laps it
     meanwhile.  Its late write loses the newer event in that slot, and
     tears nothing. */
  make_recording();
  uint64_t early = wsla_claim(&proc);
  CHECK_U64(early, 0);
  for (uint64_t n = 1; n <= RING_CAP; n++) emit(n); /* seq 8 takes slot 0 */
  wsla_emit_at(&proc, early, WSLA_EV_FREE, WSLA_API_cudaFree, 0, 0, 0, 0x100000, 4096, 0x400000, 0,
               0);
  struct rec r;
  if (!read_rec(&r)) return;
  CHECK_U64(r.events_claimed, RING_CAP + 1);
  CHECK_U64(r.nevents, RING_CAP - 1); /* seqs 1..7; slot 0 holds seq 0, not 8 */
  CHECK_U64(r.events_lost, 2);        /* seq 0, lapped, and seq 8, overwritten */
  CHECK_U64(r.events[0].commit, 2);
  check_events(&r);
  rec_close(&r);
}

/* The writer strikes while the reader copies: when the reader is between
   its copy of seq 3's slot and its second look at the commit word, the
   library emits seq 11 into that slot (and the ring's next lap on). */
static void overtake(const void *slot, size_t size) {
  const struct wsla_event *e = slot;
  /* The reader's own mapping of the file: the slot is known by its figures. */
  if (size == sizeof *e && e->commit == 4 && e->size == 4096 * 4) {
    for (uint64_t n = 8; n < 12; n++) emit(n);
  }
}

static void test_torn(void) {
  make_recording();
  for (uint64_t n = 0; n < 8; n++) emit(n);
  rec_test_hook = overtake;
  struct rec r;
  bool ok = read_rec(&r);
  rec_test_hook = NULL;
  if (!ok) return;
  /* The reader took the claimed count (8) first: seqs 0..7 are expected.
     Slots 0..2 were copied before the tear, slot 3 was torn, slots 4..7
     still hold seqs 4..7 (the writer reached only slot 3). */
  CHECK_U64(r.events_claimed, 8);
  CHECK_U64(r.nevents, 7);
  CHECK_U64(r.events_lost, 1);
  for (uint64_t i = 0; i < r.nevents; i++)
    CHECK(r.events[i].commit != 4 && r.events[i].commit != 12, "no event of slot 3 kept (%" PRIu64 ")",
          r.events[i].commit);
  check_events(&r);
  rec_close(&r);
  /* Read again: seqs 4..11, the lap the writer completed. */
  if (!read_rec(&r)) return;
  CHECK_U64(r.events_claimed, 12);
  CHECK_U64(r.nevents, 8);
  CHECK_U64(r.events[0].commit, 5);
  check_events(&r);
  rec_close(&r);
}

/* A slot caught mid-write (commit zeroed, payload half new): not kept, and
   the reader does not wait for it. */
static void test_mid_write(void) {
  make_recording();
  for (uint64_t n = 0; n < 4; n++) emit(n);
  __atomic_store_n(&proc.ring[2].commit, 0, __ATOMIC_RELAXED);
  proc.ring[2].size = 1;
  struct rec r;
  if (!read_rec(&r)) return;
  CHECK_U64(r.nevents, 3);
  CHECK_U64(r.events_lost, 1);
  check_events(&r);
  rec_close(&r);
}

int main(void) {
  fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  test_order_and_lap();
  test_late_emit_at();
  test_torn();
  test_mid_write();
  munmap(map, FILE_SIZE);
  close(fd);
  unlink(path);
  return unit_done();
}
