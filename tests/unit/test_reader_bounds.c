/* Unit test of the reader's bounds: headers that claim more than the file holds are refused with one line or read within it. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tool.h"
#include "small_recording.h"
#include "unit.h"

/* A small recording laid out as the library lays one out (a page per
   region): 1 module, 4 OOM records, 4 live slots, a ring of 8. */
enum {
  OOM_CAP = 4,
  LIVE_CAP = 4,
  RING_CAP = 8,
  FILE_SIZE = RING_OFF + RING_CAP * 64,
  ROOM = FILE_SIZE + 8192, /* what an image may grow to */
};

static uint8_t img[ROOM];
static struct wsla_header *const h = (void *)img;
static struct wsla_counters *const ctr = (void *)(img + COUNTERS_OFF);
static char path[] = "/tmp/wsla-unit-bounds-XXXXXX";

/* A whole version-2 recording of a process that made 8 events, 2 OOM
   records, 1 module and holds 2 live allocations. */
static void make(void) {
  memset(img, 0, sizeof img);
  small_recording_header(h, OOM_CAP, LIVE_CAP, RING_CAP);
  h->end_state = WSLA_END_EXIT;
  *ctr = (struct wsla_counters){.events_claimed = 8, .ooms_claimed = 2, .modules_count = 1};
  struct wsla_module *m = (void *)(img + MODULE_OFF);
  *m = (struct wsla_module){.commit = 1, .lo = 0x400000, .hi = 0x500000};
  snprintf(m->path, sizeof m->path, "/usr/bin/llama-server");
  for (uint64_t i = 0; i < 2; i++) {
    struct wsla_oom *o = (void *)(img + OOM_OFF + i * sizeof *o);
    *o = (struct wsla_oom){.commit = i + 1, .size = 1000 + i, .device = 0, .pool_cached = 77};
  }
  for (uint64_t i = 0; i < 2; i++) {
    struct wsla_live *l = (void *)(img + LIVE_OFF + i * sizeof *l);
    *l = (struct wsla_live){.commit = i + 1, .addr = 0x7000000 + i, .size = 4096 * (i + 1)};
  }
  for (uint64_t seq = 0; seq < 8; seq++) {
    struct wsla_event *e = (void *)(img + RING_OFF + seq * sizeof *e);
    *e = (struct wsla_event){.commit = seq + 1, .addr = 0x100000 * (seq + 1), .size = 4096,
                             .type = WSLA_EV_ALLOC, .api = WSLA_API_cudaMalloc};
  }
}

/* What both ways of reading gave: the file (rec_open, mapped) and the same
   bytes on the heap (rec_open_bytes, an exact-size block, so that a read
   past them is a heap overflow under ASan). */
struct outcome {
  int rc;
  char err[4400];
  struct rec r;
};
static struct outcome by_file, by_heap;

static void open_both(size_t len) {
  int fd = open(path, O_WRONLY | O_TRUNC);
  if (fd < 0 || write(fd, img, len) != (ssize_t)len) abort();
  close(fd);
  by_file.err[0] = by_heap.err[0] = '\0';
  by_file.rc = rec_open(path, &by_file.r, by_file.err, sizeof by_file.err);
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, img, len);
  by_heap.rc = rec_open_bytes(path, copy, len, &by_heap.r, by_heap.err, sizeof by_heap.err);
}

static void close_both(void) {
  if (by_file.rc == 0) rec_close(&by_file.r);
  if (by_heap.rc == 0) rec_close(&by_heap.r);
}

/* The image of len bytes is refused both ways with one line that names the
   file and says why. */
static void refused(size_t len, const char *why, int line) {
  open_both(len);
  struct outcome *o[2] = {&by_file, &by_heap};
  for (int i = 0; i < 2; i++) {
    CHECK(o[i]->rc == -1, "line %d, %s: refused (%s)", line, i ? "heap" : "file", why);
    CHECK(strstr(o[i]->err, why) != NULL, "line %d, %s: \"%s\" says \"%s\"", line,
          i ? "heap" : "file", o[i]->err, why);
    CHECK(strncmp(o[i]->err, path, strlen(path)) == 0, "line %d: the message names the file", line);
    CHECK(strchr(o[i]->err, '\n') == NULL, "line %d: one line", line);
  }
  close_both();
}
#define REFUSED(len, why) refused(len, why, __LINE__)

/* The image of len bytes is read both ways, with the same figures. */
struct figures {
  uint64_t nevents, lost, live, ooms, modules;
  bool partial;
  const char *why; /* the partial reason, where partial */
};
static void read_as(size_t len, struct figures want, int line) {
  open_both(len);
  struct outcome *o[2] = {&by_file, &by_heap};
  for (int i = 0; i < 2; i++) {
    const char *how = i ? "heap" : "file";
    CHECK(o[i]->rc == 0, "line %d, %s: read (%s)", line, how, o[i]->err);
    if (o[i]->rc) continue;
    const struct rec *r = &o[i]->r;
    CHECK(r->nevents == want.nevents, "line %d, %s: %" PRIu64 " events, want %" PRIu64, line, how,
          r->nevents, want.nevents);
    CHECK(r->events_lost == want.lost, "line %d, %s: %" PRIu64 " lost, want %" PRIu64, line, how,
          r->events_lost, want.lost);
    CHECK(r->live_count == want.live, "line %d, %s: %" PRIu64 " live, want %" PRIu64, line, how,
          r->live_count, want.live);
    CHECK(r->oom_count == want.ooms, "line %d, %s: %" PRIu64 " OOM records, want %" PRIu64, line,
          how, r->oom_count, want.ooms);
    CHECK(r->module_count == want.modules, "line %d, %s: %" PRIu64 " modules, want %" PRIu64, line,
          how, r->module_count, want.modules);
    CHECK(r->partial == want.partial, "line %d, %s: partial %d, want %d", line, how, r->partial,
          want.partial);
    if (want.why)
      CHECK(strcmp(r->partial_why, want.why) == 0, "line %d, %s: partial because \"%s\", want \"%s\"",
            line, how, r->partial_why, want.why);
  }
}
#define READ_AS(len, ...) read_as(len, (struct figures){__VA_ARGS__}, __LINE__)

static void test_whole(void) {
  make();
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1);
  if (by_file.rc == 0) {
    CHECK_STR(by_file.r.modules[0].path, "/usr/bin/llama-server");
    CHECK_U64(by_file.r.ooms[1].size, 1001);
    CHECK_U64(by_file.r.events[7].addr, 0x800000);
  }
  close_both();
}

static void test_not_recordings(void) {
  make();
  REFUSED(100, "not a wslalloc recording");
  REFUSED(sizeof(struct wsla_header) - 1, "too short");
  img[0] ^= 1;
  REFUSED(FILE_SIZE, "not a wslalloc recording (bad magic)");
  make();
  h->version = 0;
  REFUSED(FILE_SIZE, "recording format version 0; this wslalloc reads versions 1 to 2");
  h->version = WSLA_FORMAT_VERSION + 1;
  REFUSED(FILE_SIZE, "recording format version 3;");
  make();
  h->event_size = 32;
  REFUSED(FILE_SIZE, "corrupt recording: its record sizes do not match format version 2");
  make();
  h->ring_cap = 12;
  REFUSED(FILE_SIZE, "corrupt recording: its capacities are impossible");
  make();
  h->live_cap = (1ull << 32) + 1;
  REFUSED(FILE_SIZE, "corrupt recording: its capacities are impossible");
}

static void test_regions(void) {
  /* A region past the size the header states. */
  make();
  h->ring_off = FILE_SIZE;
  REFUSED(FILE_SIZE, "corrupt recording: its regions run past its stated size");
  /* Far outside any file, and at the very top of the address space,
     where off + size would wrap. */
  make();
  h->ring_off = 1ull << 40;
  REFUSED(FILE_SIZE, "corrupt recording: its regions overlap or lie outside the file");
  make();
  h->live_off = UINT64_MAX - 63;
  REFUSED(FILE_SIZE, "corrupt recording: its regions overlap or lie outside the file");
  /* Overlapping: the live slots inside the OOM records, the counters
     inside the header. */
  make();
  h->live_off = OOM_OFF + 64;
  REFUSED(FILE_SIZE, "corrupt recording: its regions overlap or lie outside the file");
  make();
  h->counters_off = 64;
  REFUSED(FILE_SIZE, "corrupt recording: its regions overlap or lie outside the file");
  /* Offsets not multiples of 8. */
  make();
  h->live_off = LIVE_OFF + 4;
  REFUSED(FILE_SIZE, "corrupt recording: its regions are not aligned");
  make();
  h->ring_off = RING_OFF + 1;
  REFUSED(FILE_SIZE, "corrupt recording: its regions are not aligned");
}

static void test_counts(void) {
  /* Counters beyond every capacity: the reader takes what the regions hold. */
  make();
  ctr->ooms_claimed = 1000;
  ctr->modules_count = 1ull << 40;
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = OOM_CAP, .modules = 1);
  if (by_heap.rc == 0) {
    CHECK_U64(by_heap.r.ooms[2].commit, 0); /* never written: shown as such */
    CHECK_U64(by_heap.r.ooms[1].commit, 2);
  }
  close_both();
  /* 2^40 events claimed of a ring of 8: the last 8 sequence numbers are
     expected, slots hold seqs 0..7, so nothing is kept, all are lost, and
     the reader neither allocates nor loops for 2^40. */
  make();
  ctr->events_claimed = 1ull << 40;
  READ_AS(FILE_SIZE, .nevents = 0, .lost = 1ull << 40, .live = 2, .ooms = 2, .modules = 1);
  close_both();
  /* A ring of 2^20 slots claimed, the file stating its size and holding 8
     of them: read within the 8, the rest said. */
  make();
  h->ring_cap = 1u << 20;
  h->file_size = RING_OFF + (1ull << 20) * sizeof(struct wsla_event);
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1, .partial = true,
          .why = "the file is truncated (20992 of 67129344 bytes)");
  close_both();
  make();
  h->ring_cap = 1u << 20;
  h->file_size = RING_OFF + (1ull << 20) * sizeof(struct wsla_event);
  ctr->events_claimed = 3u << 20; /* slots 0..7 expect seqs 2^21 + 0..7 */
  READ_AS(FILE_SIZE, .nevents = 0, .lost = 3u << 20, .live = 2, .ooms = 2, .modules = 1,
          .partial = true);
  close_both();
}

static void test_live2(void) {
  const size_t len = FILE_SIZE + 4 * sizeof(struct wsla_live);
  /* A second region where the writer puts it, after the ring: its slots
     count. */
  make();
  h->features |= WSLA_FEAT_LIVE2;
  h->live2_off = FILE_SIZE;
  h->live2_cap = 4;
  h->file_size = len;
  struct wsla_live *l2 = (void *)(img + FILE_SIZE);
  l2[3] = (struct wsla_live){.commit = 9, .addr = 0x9000000, .size = 1 << 20};
  READ_AS(len, .nevents = 8, .live = 3, .ooms = 2, .modules = 1);
  close_both();
  /* Past the file: the first region's slots, and it is said. */
  make();
  h->features |= WSLA_FEAT_LIVE2;
  h->live2_off = 1ull << 30;
  h->live2_cap = 4;
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1, .partial = true,
          .why = "the second live region is cut short");
  close_both();
  /* Half of it in the file. */
  make();
  h->features |= WSLA_FEAT_LIVE2;
  h->live2_off = FILE_SIZE;
  h->live2_cap = 8;
  h->file_size = len;
  l2[3] = (struct wsla_live){.commit = 9, .addr = 0x9000000, .size = 1 << 20};
  READ_AS(len, .nevents = 8, .live = 3, .ooms = 2, .modules = 1, .partial = true,
          .why = "the second live region is cut short");
  close_both();
  /* Inside the ring, misaligned, or too many slots: left out. */
  uint64_t bad_off[] = {RING_OFF, FILE_SIZE + 4, FILE_SIZE};
  uint64_t bad_cap[] = {4, 4, (1ull << 32) + 1};
  for (int i = 0; i < 3; i++) {
    make();
    h->features |= WSLA_FEAT_LIVE2;
    h->live2_off = bad_off[i];
    h->live2_cap = bad_cap[i];
    READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1, .partial = true,
            .why = "the second live region lies outside the file");
    close_both();
  }
}

static void test_file_size(void) {
  /* Smaller than the file: the tail past it is not read. */
  make();
  memset(img + FILE_SIZE, 0xff, ROOM - FILE_SIZE);
  READ_AS(ROOM, .nevents = 8, .live = 2, .ooms = 2, .modules = 1);
  close_both();
  /* Smaller than the regions it lays out, or than the header itself. */
  make();
  h->file_size = FILE_SIZE - 64;
  REFUSED(FILE_SIZE, "corrupt recording: its regions run past its stated size");
  h->file_size = 100;
  REFUSED(FILE_SIZE, "corrupt recording: its regions run past its stated size");
  /* Larger than the file: read within what it holds, and said. */
  make();
  h->file_size = FILE_SIZE * 4;
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1, .partial = true,
          .why = "the file is truncated (20992 of 83968 bytes)");
  close_both();
  /* The file cut inside the ring, the live slots, or before the counters. */
  make();
  READ_AS(RING_OFF + 3 * 64, .nevents = 3, .lost = 5, .live = 2, .ooms = 2, .modules = 1,
          .partial = true, .why = "the file is truncated (20672 of 20992 bytes)");
  close_both();
  READ_AS(LIVE_OFF + 64 + 8, .nevents = 0, .lost = 8, .live = 1, .ooms = 2, .modules = 1,
          .partial = true);
  close_both();
  REFUSED(COUNTERS_OFF + 8, "truncated before its counters");
}

static void test_version1(void) {
  /* A version-1 file: OOM records of 128 bytes, modules with a 224-byte
     path and no build-id; read in this version's shapes. */
  make();
  h->version = 1;
  h->oom_size = WSLA_OOM_V1_SIZE;
  memset(img + OOM_OFF, 0, 4096);
  for (uint64_t i = 0; i < 2; i++) {
    struct wsla_oom o = {.commit = i + 1, .size = 5000 + i, .device = 0};
    memcpy(img + OOM_OFF + i * WSLA_OOM_V1_SIZE, &o, WSLA_OOM_V1_SIZE);
  }
  struct wsla_module_v1 *m = (void *)(img + MODULE_OFF);
  *m = (struct wsla_module_v1){.commit = 1, .lo = 0x400000, .hi = 0x500000};
  snprintf(m->path, sizeof m->path, "/opt/ollama/lib/ollama/libggml-cuda.so");
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1);
  if (by_heap.rc == 0) {
    CHECK_U64(by_heap.r.ooms[0].size, 5000);
    CHECK_U64(by_heap.r.ooms[1].size, 5001);
    CHECK_U64(by_heap.r.ooms[1].commit, 2);
    CHECK_U64(by_heap.r.ooms[1].pool_cached, 0); /* not in version 1: unknown */
    CHECK_STR(by_heap.r.modules[0].path, "/opt/ollama/lib/ollama/libggml-cuda.so");
    CHECK_U64(by_heap.r.modules[0].build_id_len, 0);
  }
  close_both();
  /* A path longer than the new field keeps its tail. */
  memset(m->path, 'a', sizeof m->path);
  memcpy(m->path + sizeof m->path - 8, "/tail.so", 8);
  READ_AS(FILE_SIZE, .nevents = 8, .live = 2, .ooms = 2, .modules = 1);
  if (by_heap.rc == 0) {
    CHECK_U64(strlen(by_heap.r.modules[0].path), sizeof by_heap.r.modules[0].path - 1);
    CHECK(strstr(by_heap.r.modules[0].path, "/tail.so") != NULL, "the tail kept");
  }
  close_both();
  /* A version-1 header whose OOM records claim this version's size. */
  h->oom_size = sizeof(struct wsla_oom);
  REFUSED(FILE_SIZE, "its record sizes do not match format version 1");
}

int main(void) {
  int fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  close(fd);
  test_whole();
  test_not_recordings();
  test_regions();
  test_counts();
  test_live2();
  test_file_size();
  test_version1();
  unlink(path);
  return unit_done();
}
