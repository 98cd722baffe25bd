/* The recording reader's interface (tools/rec): a recording read and checked,
   its call sites named, its purposes, the recordings directory, error names
   and the helpers every command shares. */
#ifndef WSLA_REC_H
#define WSLA_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "json.h"
#include "wslalloc/format.h"

/* A recording read and checked: what the command asked for, copied out of
   the file (never a pointer into it, except ring while a rec_open_bytes
   rec is open). */
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
  /* WSLA_FEAT_OTHERS: the other programs at each of the first OOM records,
     copied like them (commit 0 where torn or never written), or NULL. */
  const struct wsla_others *others;
  uint64_t others_count;
  const struct wsla_live *live; /* the slots in use, packed */
  uint64_t live_count;
  const struct wsla_event *ring; /* NULL once open, but for rec_open_bytes */
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
  /* The reader's own: the parts read (enum rec_parts), whether data is the
     file mapped and its descriptor (during the open only), the heap blocks
     it holds. */
  unsigned parts;
  bool mapped;
  int map_fd;
  void *held[12];
  unsigned nheld;
};

/* What a command reads of a recording.  The header and counters always;
   REC_SLOTS: modules, OOM records and their stacks, allocation stacks and
   live slots; REC_EVENTS: the ring's events.  Without REC_EVENTS, events
   is NULL and nevents and events_lost 0 (events_claimed still counts). */
enum rec_parts { REC_SLOTS = 1u << 0, REC_EVENTS = 1u << 1, REC_ALL = REC_SLOTS | REC_EVENTS };

/* Reads and checks path: every part (rec_open), or the header and counters
   and the parts asked for (rec_open_parts), or the same of a file already
   open (rec_open_fd; fd stays open).  The file is mapped and read within
   what its header claims and it holds; a live process's slots are copied
   as format.h prescribes, a slot torn by a write is left out and counted
   lost.  Anything but a regular file is refused at once (a FIFO never
   blocks).  On failure returns -1 with one line in err. */
int rec_open(const char *path, struct rec *r, char *err, size_t errlen);
int rec_open_parts(const char *path, unsigned parts, struct rec *r, char *err, size_t errlen);
int rec_open_fd(int fd, const char *path, unsigned parts, struct rec *r, char *err,
                size_t errlen);
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

/* "running", "exit", "signal", "exec" (replaced itself by another program)
   or "killed" (not ended, process gone). */
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

/* The recordings directory the options name (WSLALLOC_DIR, else the
   default); *chosen tells whether the user named it. */
void rec_dir(char *dir, size_t len, bool *chosen);
/* Each recording (*.wsla) in dir that can be trusted as the caller's: the
   directory is the caller's own (not a link, unless chosen: the user's own
   link is followed), and each file a regular file, not a link, owned by
   the caller.  each gets the file open (closed after) and its path; what
   is skipped is said on stderr unless quiet.  0, or -1 with one line in err
   (errno ENOENT: no such directory yet) when the directory is refused. */
typedef void (*rec_each_fn)(int fd, const char *path, void *arg);
/* Whether the tools trust the recordings directory dir (chosen: named by
   WSLALLOC_DIR), by the same checks as rec_scan_dir: 0, or -1 with errno
   and why (then "; " and the fix) in err. */
int rec_dir_trusted(const char *dir, bool chosen, char *err, size_t len);
int rec_scan_dir(const char *dir, bool chosen, bool quiet, rec_each_fn each, void *arg,
                 char *err, size_t errlen);

/* Opens path for reading if it is a regular file, without ever blocking on
   a FIFO (flags may add O_NOFOLLOW); the descriptor, or -1 with one line
   in err.  tool_fopen_regular: the same as a stdio stream. */
int tool_open_regular(const char *path, int flags, char *err, size_t errlen);
FILE *tool_fopen_regular(const char *path, char *err, size_t errlen);

#include "explain.h"
#define fmt_size wsla_fmt_size

/* The error codes of the GPU APIs by name, generated from the installed
   headers at build time (gen_errnames.py): sorted by code, empty where the
   build had no header. */
struct err_name {
  int code;
  const char *name;
};
struct err_table {
  const struct err_name *names;
  size_t count;
};
extern const struct err_table err_table_cudart, err_table_cu, err_table_hip, err_table_nvml;
/* The header's name for what API api returned (enum wsla_api), NULL if the
   build had no header for its family or the code is not in it (errors.c). */
const char *api_error_name(unsigned api, int result);
/* What the error means and the likely fix, for the common ones; else NULL. */
const char *api_error_meaning(unsigned api, int result);
/* "cudaErrorInsufficientDriver (35)", or "error 35" where the name is unknown. */
void api_error_text(unsigned api, int result, char *buf, size_t len);

/* one for a count of 1, else many: "1 allocation", "2 allocations". */
static inline const char *plural(uint64_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

/* The command running ("ls"), for messages outside its own code. */
extern const char *tool_cmd;
/* A WSLALLOC_DIR too long to use: "wslalloc CMD: ..." and exit 1, rather
   than read the default folder, where the library did not write. */
void tool_refuse_long_dir(void);

/* A usage error (usage.c): "wslalloc CMD: what" and "try 'wslalloc CMD
   --help'" on stderr; returns 2, the status for it. */
int tool_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for the option getopt_long just refused (it returned c, '?' or
   ':'; the commands set opterr = 0 and start their option strings with
   ':'), naming the word the user gave. */
int tool_bad_option(const char *cmd, int c, int argc, char **argv);

/* The recording a command reads (usage.c): the one FILE it was given
   (argv[optind]) or, with none, the newest in the recordings directory,
   opened into r.  0 if it is open; else the command's exit status, its
   line written: 2 for more than one FILE, 1 for none to be had. */
int tool_open_recording(const char *cmd, int argc, char **argv, int optind, struct rec *r);

/* CLOCK_MONOTONIC in nanoseconds, for timing calls. */
static inline uint64_t tool_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Pid namespaces (pidns.c).  Whether a recording's pid is in the reader's
   namespace: PIDNS_OTHER means it was made in a container, and its pid
   means nothing here. */
enum pidns_relation { PIDNS_UNKNOWN, PIDNS_SAME, PIDNS_OTHER };
enum pidns_relation rec_pidns(const struct wsla_header *h);
/* For PIDNS_OTHER: whether its process still runs, found by namespace and
   start time rather than by a pid that means another process here. */
bool pidns_process_alive(const struct wsla_header *h);
/* "same", "other" (a container's) or "unknown" (not recorded), for JSON. */
const char *pidns_word(const struct wsla_header *h);

/* The recordings of systemd services (service.c), besides the user's own:
   the directories their wslalloc drop-ins name and those under
   /var/lib/wslalloc.  The directories, up to max; then the readable ones'
   recordings added to *all (sorted oldest first with the rest), each
   directory and file checked (no links, owner, mode); a directory the user
   cannot read is named on stderr with the group to join. */
size_t service_recording_dirs(char (*dirs)[512], size_t max);
void service_recordings_add(const char *cmd, struct rec ***all, size_t *n, bool quiet);
/* The newest service recording, if newer than *best (then *best and path). */
void service_find_newest(int64_t *best, char *path, size_t len);

/* An ended process's calls in flight at its end (inflight.c): where its
   live counters and its list of live allocations differ, a line saying by
   how much, under "Still allocated at the end"; and "in_flight" (the
   counters less the list, allocations and bytes; 0 where they agree). */
void rec_in_flight_text(FILE *out, const struct rec *r);
void rec_in_flight_json(struct json *j, const struct rec *r);


#endif
