/* The report's model: what it derives from a recording, computed once, which the text (text.c) and the JSON (json.c) only lay out. */
#ifndef WSLA_REPORT_H
#define WSLA_REPORT_H

#include <stdio.h>

#include <uthash.h>

#include "tool.h"

/* A call site's allocations: device and pinned host memory counted apart,
   so that neither table lists the other's bytes. */
struct site_stat {
  uint64_t site;
  uint64_t calls, bytes; /* every allocation, device and pinned */
  uint64_t dev_calls, dev_bytes, live_bytes, live_allocs;
  uint64_t host_calls, host_bytes, host_live_bytes;
  uint64_t replay_live, peak_live_bytes; /* device bytes, over the events kept */
  uint64_t host_replay_live, host_peak_live_bytes; /* pinned bytes, the same */
  UT_hash_handle hh;
};

struct leak_key {
  uint64_t site;
  uint16_t api;
  int16_t device;
  uint16_t host;
};

struct leak_stat {
  struct leak_key key;
  uint64_t allocs, bytes;
  UT_hash_handle hh;
};

/* Failed calls that were not out of memory, by API and error, from the
   events kept. */
struct fail_key {
  uint32_t api;
  int32_t result;
};

struct fail_stat {
  struct fail_key key;
  uint64_t count, first_ns, first_site;
  UT_hash_handle hh;
};

struct summary {
  uint64_t calls, failed, ooms;
  uint64_t fails_seen[WSLA_API_MAX]; /* the FAIL events kept, by API */
  struct site_stat *sites;
  struct leak_stat *leaks;
  struct fail_stat *fails; /* in the order first seen */
  /* Live by the counters but in no live slot (the table was full and could
     not grow): said, so that the leak list is never silently short. */
  uint64_t unlisted_allocs, unlisted_bytes;
};

/* Both renderings print the same figures: each is computed here, once, and
   the text and the JSON only lay it out.  Call sites are named while
   rendering, in the order each rendering prints them, because the
   symbolizer's bounds (SYM_SITES_MAX) count in that order. */

/* An OOM record kept, with what the report derives from it. */
struct oom_model {
  uint64_t idx;              /* in r->ooms */
  bool has_fragmentation;    /* a largest block and free memory were measured */
  double fragmentation;      /* 1 - largest block / free; 0 when the block is all of it */
  uint64_t view_age_ns;      /* how old the device view was at the failure */
  uint64_t first_before, nbefore; /* the events just before it (events_before) */
  char diagnosis[512];       /* the likely cause, naming the other programs */
};

/* A GPU the environment lines name. */
struct gpu_model {
  bool present;
  char name[200];
  uint64_t total; /* 0 where not given */
};

struct model {
  struct summary s;
  const char *end; /* rec_end_state */
  const char *exec; /* the program an exec replaced it by, or NULL */
  char exec_buf[WSLA_PATH_MAX + 1];
  const char *kernel; /* NULL where the environment was not recorded */
  char kernel_buf[256];
  int wsl2, dev_dxg; /* -1 not recorded, else whether so */
  bool has_memory, has_cuda_driver;
  uint64_t memory_bytes;
  long long cuda_driver; /* 12020 for 12.2 */
  struct gpu_model gpus[WSLA_ENV_GPUS_MAX];
  uint64_t unexplained[WSLA_API_MAX], unexplained_total; /* failures_unexplained */
  struct oom_model *ooms; /* the records kept, in order */
  uint64_t nooms;
};

/* Fills m from r: the summary of its events and live slots, the machine,
   the failures without an event, and each OOM kept with its derived
   figures.  report_model_free releases what it holds. */
void report_model_build(const struct rec *r, struct model *m);
void report_model_free(struct model *m);

/* The two renderings of one model. */
void report_print_text(FILE *out, const struct rec *r, const struct model *m);
void report_print_json(FILE *out, const struct rec *r, const struct model *m);

/* What both renderings name the same way: an API (or "api#N"), an event's
   type, the GPU libraries loaded (each(path, ctx) for each), and what OOM
   record idx's program was doing (model.c). */
const char *report_api_name(unsigned api, char *buf, size_t len);
const char *report_event_type_name(uint16_t t);
void report_gpu_libraries(const struct rec *r, void (*each)(const char *, void *), void *ctx);
const struct wsla_phase *report_oom_phase(const struct rec *r, uint64_t idx, char *fn,
                                          size_t len);

static inline double seconds(uint64_t ns) { return ns / 1e9; }

#endif
