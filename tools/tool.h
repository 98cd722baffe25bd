/* Interfaces shared by the wslalloc command's parts: the reader, the report, JSON output. */
#ifndef WSLA_TOOL_H
#define WSLA_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "wslalloc/format.h"

/* A recording read into memory and checked; every pointer lies inside it. */
struct rec {
  char path[4096];
  uint8_t *data;
  size_t size;
  const struct wsla_header *hdr;
  const struct wsla_counters *ctr;
  const struct wsla_module *modules;
  uint64_t module_count;
  struct wsla_module *modules_converted; /* a version-1 file's, made anew */
  struct wsla_oom *ooms_converted;       /* the same */
  const struct wsla_oom *ooms;
  uint64_t oom_count;
  const struct wsla_stack *oom_stacks; /* NULL where not recorded */
  uint64_t oom_stack_count;                /* slots present in the file */
  const struct wsla_stack *stacks;     /* large allocations' stacks, or NULL */
  uint64_t stack_count;                    /* slots present in the file */
  const struct wsla_live *live;
  uint64_t live_count; /* slots present in the file */
  const struct wsla_event *ring;
  uint64_t ring_slots; /* slots present in the file */
  /* Copies of the header's strings, always terminated. */
  char exe[WSLA_PATH_MAX + 1];
  char cmdline[WSLA_CMDLINE_MAX + 1];
  char options[WSLA_OPTIONS_MAX + 1];
  char environment[WSLA_ENVIRONMENT_MAX + 1]; /* "" when not recorded */
  /* Events in sequence order, the valid ones only. */
  struct wsla_event *events;
  uint64_t nevents;
  uint64_t events_claimed;
  uint64_t events_lost;
  bool partial;
  char partial_why[256];
};

/* Reads and checks path.  On failure returns -1 with one line in err. */
int rec_open(const char *path, struct rec *r, char *err, size_t errlen);
void rec_close(struct rec *r);
/* The same checks on a recording already in memory: data comes from
   malloc and is the rec's from now on, freed by rec_close (or here, on
   failure).  path only names it in messages. */
int rec_open_bytes(const char *path, uint8_t *data, size_t size, struct rec *r,
                   char *err, size_t errlen);

/* The stack of OOM record idx, innermost first (the record's site, then
   its callers), copied into frames; its depth, 0 where none was recorded. */
size_t rec_oom_stack(const struct rec *r, uint64_t idx, uint64_t *frames, size_t max);
/* The allocation stack an ALLOC event's aux or a live slot names (index +
   1), into frames; its depth, 0 for none. */
size_t rec_stack(const struct rec *r, uint64_t id, uint64_t *frames, size_t max);

/* "running", "exit", "signal" or "killed" (not ended, process gone). */
const char *rec_end_state(const struct rec *r);

/* Whether a process touched the device at all: allocated, failed or
   looked at it. */
bool rec_device_used(const struct wsla_device_counters *d);

/* The module a code address lies in, its path copied (terminated) into
   path; NULL when no module has it. */
const struct wsla_module *rec_module_of(const struct rec *r, uint64_t site, char *path,
                                        size_t len);

/* "module+0xoffset" for a code address, or "0x..." when no module has it. */
void rec_site_name(const struct rec *r, uint64_t site, char *buf, size_t len);

/* "function+0xoffset at file.c:line" for a code address, from the module's
   symbol table and debug info as they are now on this machine; "" when
   neither names it.  sym_close_all releases what it opened. */
void rec_site_function(const struct rec *r, uint64_t site, char *buf, size_t len);
/* The same, in parts; false when neither names it (line 0: no line). */
struct site_symbol {
  char function[512];        /* C++ names demangled */
  unsigned long long offset; /* from the function's start */
  char file[256];            /* the source file's name, without folders */
  int line;
};
bool rec_site_symbol(const struct rec *r, uint64_t site, struct site_symbol *out);
void sym_close_all(void);
/* The module files, of those looked at, that are not the ones the process
   ran (their build-ids differ): their call sites stay unnamed. */
size_t sym_changed_modules(const char **paths, size_t max);
/* What was left unnamed to keep a report's work bounded: frames looked up
   past the most distinct call sites one recording names (a hostile file
   has two million), and sites in module files past the most that are read. */
void sym_limits(uint64_t *sites, uint64_t *module_files);
#define SYM_SITES_MAX 65536 /* distinct call sites named per recording */
#define SYM_MODULES_MAX 256 /* module files read */

/* What the device memory was for (purposes.c): the large allocations'
   stacks (WSLALLOC_STACKS), each with its peak and end live bytes over the
   events kept, and grouped by what the program was doing (its label, from
   the frames' names); both sorted by peak, largest first. */
struct purpose_stat {
  char label[64];
  uint64_t peak, live, allocs, bytes;
  uint64_t at_joint_peak; /* its share when all of them together peaked */
};
struct stack_stat {
  uint64_t id; /* the stack's index + 1, for rec_stack */
  uint64_t peak, live, allocs, bytes;
  const char *label; /* its purpose's */
};
struct purposes {
  struct purpose_stat *purposes;
  size_t npurposes;
  uint64_t joint_peak, joint_peak_ns; /* the most the large allocations held together, and when */
  struct stack_stat *stacks;
  size_t nstacks;
};
void purposes_build(const struct rec *r, struct purposes *out);
/* Whether a timeline (plot, Perfetto) can draw the purposes: stacks were
   kept and no event was lost; where events were lost it says so on
   stderr, naming the tool. */
bool purposes_drawable(const struct rec *r, const char *tool);
/* What a stack's frames tell the program was doing (wsla_phase_of, over
   this machine's symbols for them), NULL if none; the telling function,
   demangled, goes to fn when fn is not NULL. */
struct wsla_phase;
const struct wsla_phase *rec_frames_phase(const struct rec *r, const uint64_t *frames, size_t depth,
                                          char *fn, size_t len);
/* Each allocation stack's purpose label, by id (index + 1), NULL where
   the stack was not written; the caller frees the array. */
const char **purpose_labels(const struct rec *r);
void purposes_free(struct purposes *p);
/* Writes lead, then "label size, label size" for each purpose whose chosen
   figure is not zero, then a newline; nothing at all if none is. */
enum purpose_figure { PURPOSE_LIVE, PURPOSE_PEAK, PURPOSE_AT_JOINT_PEAK };
void purposes_line(FILE *out, const struct purposes *p, enum purpose_figure which, const char *lead);

/* The newest recording in the recordings directory; -1 with err if none. */
int rec_find_newest(char *path, size_t len, char *err, size_t errlen);

#include "wslalloc/explain.h"
#define fmt_size wsla_fmt_size

int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_replay(int argc, char **argv);

/* The GPU runtime this machine loads (libcudart.so.13, else .12, else HIP's
   libamdhip64), reached by dlopen so that the tools build and run without
   either. */
typedef int (*alloc_fn)(void **, size_t);
typedef int (*free_fn)(void *);
typedef int (*set_device_fn)(int);
typedef int (*mem_info_fn)(size_t *, size_t *);
typedef int (*last_error_fn)(void);
typedef int (*alloc_async_fn)(void **, size_t, void *);
typedef int (*free_async_fn)(void *, void *);
typedef int (*stream_create_fn)(void **);
typedef int (*stream_destroy_fn)(void *);
struct runtime {
  void *lib;
  alloc_fn malloc_device, malloc_host;
  free_fn free_device, free_host;
  set_device_fn set_device;
  mem_info_fn mem_info;
  last_error_fn last_error;
  alloc_async_fn malloc_async; /* NULL where the runtime lacks them */
  free_async_fn free_async;
  stream_create_fn stream_create;
  stream_destroy_fn stream_destroy;
  const char *name; /* "CUDA" or "HIP" */
};
/* want: "cuda", "hip" or NULL for either.  0, or -1 with one line in err. */
int tool_load_runtime(struct runtime *rt, const char *want, char *err, size_t len);
int cmd_bench(int argc, char **argv);

/* libwslalloc.so beside this program (build or install tree); -1 if none. */
int tool_find_library(char *out, size_t len);
/* Puts lib into LD_PRELOAD for the programs this one starts. */
void tool_set_preload(const char *lib);
int cmd_export(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* The report of a recording already open, as text or JSON. */
void report_rec(FILE *out, const struct rec *r, bool as_json);

/* CLOCK_MONOTONIC in nanoseconds, for timing calls. */
static inline uint64_t tool_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --from/--to in seconds after the process started; -1 where not given. */
struct window {
  double from, to;
};
#define WINDOW_ALL ((struct window){-1, -1})
/* Parses one bound into w: 0, or 2 after one line on stderr. */
int window_option(const char *cmd, struct window *w, bool is_from, const char *text);
/* 0, or 2 after one line on stderr when the window ends before it starts. */
int window_check(const char *cmd, const struct window *w);

/* The text report of path, to out; -1 with one line in err if unreadable. */
int report_text(FILE *out, const char *path, char *err, size_t errlen);

/* --- JSON --- */
struct json {
  FILE *out;
  int depth;
  bool need_comma[32];
};
void json_begin(struct json *j, FILE *out);
void json_obj(struct json *j, const char *key);   /* key NULL in arrays */
void json_arr(struct json *j, const char *key);
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_i64(struct json *j, const char *key, int64_t value);
void json_f64(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
void json_finish(struct json *j);

#endif
