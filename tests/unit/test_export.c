/* Unit test of the export command called many times in one process (as the fuzzer does): each call starts from the defaults. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tool.h"
#include "small_recording.h"
#include "unit.h"

/* A small recording as the library lays one out (a page per region): a
   process that allocated 1 MiB on device 0 each second, 8 times, and exited
   at 8 s. */
enum {
  RING_CAP = 8,
  FILE_SIZE = RING_OFF + RING_CAP * 64,
};

static uint8_t img[FILE_SIZE];
static char rec_path[] = "/tmp/wsla-unit-export-XXXXXX";
static char out_path[] = "/tmp/wsla-unit-export-out-XXXXXX";

static void make(void) {
  struct wsla_header *h = (void *)img;
  small_recording_header(h, 1, 1, RING_CAP);
  h->end_state = WSLA_END_EXIT;
  h->end_time_ns = 8000000000;
  struct wsla_counters *ctr = (void *)(img + COUNTERS_OFF);
  *ctr = (struct wsla_counters){.events_claimed = RING_CAP};
  for (uint64_t seq = 0; seq < RING_CAP; seq++) {
    struct wsla_event *e = (void *)(img + RING_OFF + seq * sizeof *e);
    *e = (struct wsla_event){.commit = seq + 1, .time_ns = seq * 1000000000, .device = 0,
                             .addr = 0x100000 * (seq + 1), .size = 1 << 20,
                             .type = WSLA_EV_ALLOC, .api = WSLA_API_cudaMalloc};
  }
  int fd = mkstemp(rec_path);
  if (fd < 0 || write(fd, img, sizeof img) != (ssize_t)sizeof img) abort();
  close(fd);
  fd = mkstemp(out_path);
  if (fd < 0) abort();
  close(fd);
}

/* wslalloc export with args (NULL-terminated), to out_path: its status. */
static int export(const char *const *args) {
  char *argv[16];
  int argc = 0;
  argv[argc++] = "export";
  for (; *args; args++) argv[argc++] = (char *)*args;
  argv[argc++] = "-o";
  argv[argc++] = out_path;
  argv[argc++] = rec_path;
  argv[argc] = NULL;
  return cmd_export(argc, argv);
}

/* The lines of out_path. */
static uint64_t lines_out(void) {
  FILE *f = fopen(out_path, "r");
  if (!f) return 0;
  uint64_t n = 0;
  for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
  fclose(f);
  return n;
}

int main(void) {
  make();
  /* The header and a row per allocation. */
  CHECK_U64(export((const char *[]){"--format", "csv", NULL}), 0);
  CHECK_U64(lines_out(), 1 + RING_CAP);
  /* From 3 s: the allocations at 3, 4, 5, 6 and 7 s. */
  CHECK_U64(export((const char *[]){"--format", "csv", "--from", "3", NULL}), 0);
  CHECK_U64(lines_out(), 1 + 5);
  /* Up to 1.5 s: those at 0 and 1 s. */
  CHECK_U64(export((const char *[]){"--format", "csv", "--to", "1.5", NULL}), 0);
  CHECK_U64(lines_out(), 1 + 2);
  /* The next call's window is the whole recording again, not the last one's. */
  CHECK_U64(export((const char *[]){"--format", "csv", NULL}), 0);
  CHECK_U64(lines_out(), 1 + RING_CAP);
  /* Every format in the table is found by its name and writes its file; a
     name not in it is a usage error. */
  CHECK_U64(export((const char *[]){"--format", "perfetto", NULL}), 0);
  CHECK(lines_out() > RING_CAP, "the perfetto trace has a line per point");
  CHECK_U64(export((const char *[]){"--format", "memviz", NULL}), 0);
  CHECK_U64(export((const char *[]){"--format", "xml", NULL}), 2);
  unlink(rec_path);
  unlink(out_path);
  return unit_done();
}
