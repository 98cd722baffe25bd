/* wslalloc options: the one table that owns every WSLALLOC_* environment variable. */
#ifndef WSLALLOC_OPTIONS_H
#define WSLALLOC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsla_opt_type {
  WSLA_OPT_BOOL,  /* 0/1, on/off, yes/no, true/false */
  WSLA_OPT_COUNT, /* a plain integer, K/M suffixes (powers of 1024) allowed */
  WSLA_OPT_MS,    /* milliseconds, a plain integer */
  WSLA_OPT_SIZE,  /* bytes, K/M/G/T suffixes (powers of 1024) allowed */
  WSLA_OPT_PATH,  /* a string, at most WSLA_OPT_PATH_MAX - 1 bytes */
  WSLA_OPT_CHOICE, /* one of the words in unit, separated by '|'; stored as
                      its index */
};

#define WSLA_OPT_PATH_MAX 512

/* Values of WSLALLOC_VMM and WSLALLOC_PROFILE, in the order of their unit. */
enum wsla_vmm_mode { WSLA_VMM_ON = 0, WSLA_VMM_OFF = 1, WSLA_VMM_AUTO = 2 };
enum wsla_profile { WSLA_PROFILE_NONE = 0, WSLA_PROFILE_WSL = 1 };
enum wsla_spill_mode { WSLA_SPILL_OFF = 0, WSLA_SPILL_HOST = 1 };
enum wsla_stitch_mode { WSLA_STITCH_ON = 0, WSLA_STITCH_OFF = 1, WSLA_STITCH_FORCE = 2 };
enum wsla_clock_mode { WSLA_CLOCK_AUTO = 0, WSLA_CLOCK_TSC = 1, WSLA_CLOCK_MONOTONIC = 2 };
enum wsla_others_mode {
  WSLA_OTHERS_MODE_AUTO = 0, WSLA_OTHERS_MODE_NVML = 1, WSLA_OTHERS_MODE_WINDOWS = 2,
  WSLA_OTHERS_MODE_OFF = 3
};

/*
 * X(field, NAME, type, default, min, max, unit, doc).  min and max bound numeric
 * options; a value outside them is a bad value.  The README's option table
 * and `wslalloc help options` are generated from this list.
 */
#define WSLA_OPTION_LIST(X)                                                    \
  X(dir, "WSLALLOC_DIR", WSLA_OPT_PATH, "", 0, 0, "path",                                      \
    "directory for recordings; empty means $XDG_RUNTIME_DIR/wslalloc, "        \
    "else /tmp/wslalloc-<uid>")                                                \
  X(keep, "WSLALLOC_KEEP", WSLA_OPT_COUNT, "10", 0, 100000, "recordings",      \
    "recordings of ended processes kept in the directory: a new recording "  \
    "deletes the oldest clean exits beyond this, failures only once no "     \
    "clean one is left (a running process's never); 0 keeps all; the "       \
    "default directory is in memory (tmpfs)")                                  \
  X(record, "WSLALLOC_RECORD", WSLA_OPT_BOOL, "1", 0, 1, "bool",                                  \
    "write the recording file; 0 keeps the counters in memory only")           \
  X(events, "WSLALLOC_EVENTS", WSLA_OPT_COUNT, "262144", 1024, 67108864, "events",                \
    "event ring capacity, rounded up to a power of two; 64 bytes each")        \
  X(live_slots, "WSLALLOC_LIVE_SLOTS", WSLA_OPT_COUNT, "65536", 16, 16777216, "allocations",          \
    "most live allocations expected; the recording's live table gets twice as " \
    "many 64-byte slots and grows past them, so every one is listed, after a crash too") \
  X(sample_ms, "WSLALLOC_SAMPLE_MS", WSLA_OPT_MS, "100", 0, 3600000, "ms",                           \
    "least time between device-memory samples per device; 0 turns them off")  \
  X(stacks, "WSLALLOC_STACKS", WSLA_OPT_SIZE, "16M", 0, 1ull << 50, "bytes",  \
    "keep the call stack of each device allocation of at least this size "    \
    "(the report tells llama.cpp's weights, KV cache and compute buffers "    \
    "apart by them); 0 keeps none; unwinding costs microseconds, paid only " \
    "by allocations this large")                                              \
  X(quiet, "WSLALLOC_QUIET", WSLA_OPT_BOOL, "0", 0, 1, "bool",                                   \
    "silence the shim's own messages on stderr")                               \
  X(limit, "WSLALLOC_LIMIT", WSLA_OPT_SIZE, "0", 0, 1ull << 50, "bytes",      \
    "cap on this process's device memory on each device (0: none); requests " \
    "beyond it fail with the API's own out-of-memory error, and memory "       \
    "queries report the cap as the total")                                    \
  X(headroom, "WSLALLOC_HEADROOM", WSLA_OPT_SIZE, "0", 0, 1ull << 50, "bytes", \
    "memory queries report this much less free memory, so that programs "    \
    "sizing themselves from it leave room for the desktop")                   \
  X(pinned_limit, "WSLALLOC_PINNED_LIMIT", WSLA_OPT_SIZE, "0", 0, 1ull << 50,  \
    "bytes",                                                                   \
    "cap on pinned host memory (0: none); requests beyond it fail with the "  \
    "API's own error, so that programs fall back to pageable memory")         \
  X(recover, "WSLALLOC_RECOVER", WSLA_OPT_BOOL, "0", 0, 1, "bool",           \
    "on an out-of-memory failure, trim the stream-ordered pools and wait "    \
    "for memory, retrying after each step, before failing")                   \
  X(retry_ms, "WSLALLOC_RETRY_MS", WSLA_OPT_MS, "2000", 0, 600000, "ms",      \
    "how long WSLALLOC_RECOVER waits for memory before giving up")            \
  X(stitch, "WSLALLOC_STITCH", WSLA_OPT_CHOICE, "on", 0, 0, "on|off|force",   \
    "under WSLALLOC_RECOVER, serve a request that no single block can from "  \
    "smaller physical chunks mapped back to back (cudaMalloc, cuMemAlloc, "   \
    "hipMalloc); force stitches every CUDA request from WSLALLOC_STITCH_MIN " \
    "up, to prove stitched memory on a real GPU")                             \
  X(stitch_min, "WSLALLOC_STITCH_MIN", WSLA_OPT_SIZE, "64M", 1, 1ull << 50,    \
    "bytes", "the smallest request WSLALLOC_STITCH=force stitches")           \
  X(stitch_chunk, "WSLALLOC_STITCH_CHUNK", WSLA_OPT_SIZE, "0", 0, 1ull << 50, \
    "bytes", "the largest physical chunk a stitched block is made of; 0 "     \
    "takes the largest the device gives (a real GPU rarely needs more than "  \
    "one, so set it to prove several)")                                       \
  X(reserve, "WSLALLOC_RESERVE", WSLA_OPT_SIZE, "0", 0, 1ull << 50, "bytes", \
    "hold a ballast block of this size on each device from its first use; " \
    "WSLALLOC_RECOVER gives it back at an out-of-memory failure and takes " \
    "it again when memory allows")                                           \
  X(spill, "WSLALLOC_SPILL", WSLA_OPT_CHOICE, "off", 0, 0, "off|host",        \
    "under WSLALLOC_RECOVER, host serves a failed device request from "      \
    "mapped pinned host memory, within WSLALLOC_PINNED_LIMIT: slow, but "     \
    "alive (cudaMalloc, cuMemAlloc, hipMalloc)")                              \
  X(probe, "WSLALLOC_PROBE", WSLA_OPT_BOOL, "1", 0, 1, "bool",                 \
    "at a final out-of-memory failure, find the largest block that can be "  \
    "had (at most 16 allocate/free pairs; skipped during a stream capture; " \
    "other threads' device allocations wait for it, and it gives up when "   \
    "one starts)")                                                             \
  X(vmm, "WSLALLOC_VMM", WSLA_OPT_CHOICE, "on", 0, 0, "on|off|auto",           \
    "off makes cuDeviceGetAttribute report no virtual memory management, so " \
    "llama.cpp uses its legacy pool (the WSL2 workaround for "                  \
    "cuMemAddressReserve failures); auto reports it only where a 32 GiB "     \
    "reservation, as llama.cpp makes, succeeds")                              \
  X(service_root, "WSLALLOC_SERVICE_ROOT", WSLA_OPT_PATH, "", 0, 0, "path",  \
    "the root under which ls, report and top look for services' recordings " \
    "(systemd drop-ins and /var/lib/wslalloc); empty means /; as `wslalloc "  \
    "service --root` writes under one")                                       \
  X(others, "WSLALLOC_OTHERS", WSLA_OPT_CHOICE, "auto", 0, 0,                 \
    "auto|nvml|windows|off",                                                   \
    "who else holds GPU memory at an out-of-memory failure: nvml asks NVML "  \
    "in the process, windows leaves it to the `wslalloc run` supervisor "     \
    "(WSL2's Windows side), auto picks by the machine, off asks nobody")      \
  X(clock, "WSLALLOC_CLOCK", WSLA_OPT_CHOICE, "auto", 0, 0,                   \
    "auto|tsc|monotonic",                                                      \
    "the clock of the recording's times: auto reads the processor's "         \
    "time-stamp counter where the kernel keeps time with it (invariant, "      \
    "synchronised across cores; about 8 instructions a read, calibrated "     \
    "for 2 ms once per process) and CLOCK_MONOTONIC elsewhere (under WSL2's " \
    "Hyper-V clock, say: about 30); tsc uses the counter wherever it is "      \
    "invariant; "                                                              \
    "monotonic never does")                                                    \
  X(profile, "WSLALLOC_PROFILE", WSLA_OPT_CHOICE, "none", 0, 0, "none|wsl",   \
    "wsl applies the WSL2 workarounds together: WSLALLOC_RECOVER=1, "         \
    "WSLALLOC_RETRY_MS=10000, WSLALLOC_HEADROOM=1G, WSLALLOC_VMM=auto; each " \
    "of those set by its own variable wins")

struct wsla_options {
#define WSLA_OPT_FIELD(field, name, type, def, min, max, unit, doc)                  \
  union {                                                                      \
    uint64_t num;                                                              \
    char str[WSLA_OPT_PATH_MAX];                                               \
  } field;
  WSLA_OPTION_LIST(WSLA_OPT_FIELD)
#undef WSLA_OPT_FIELD
  /* Set by wsla_options_load: the length of WSLALLOC_DIR where it was set
     to a path too long to use (0 otherwise).  Its default, the shared
     folder, is never what the user meant (wsla_dir_refused). */
  size_t dir_refused_len;
  /* Bit i: wsla_option_table[i]'s variable is set in the environment (a
     profile does not override it). */
  uint64_t set;
};

struct wsla_option_desc {
  const char *name; /* the environment variable */
  enum wsla_opt_type type;
  const char *def;
  uint64_t min, max;
  const char *unit;
  const char *doc;
  size_t offset; /* of the field in struct wsla_options */
};

extern const struct wsla_option_desc wsla_option_table[];
extern const size_t wsla_option_count;

/*
 * Fills *out from the environment.  Every variable that is set but cannot be
 * parsed, or lies outside its bounds, is reported once through warn (one call
 * per bad variable, text without a trailing newline) and keeps its default.
 */
void wsla_options_load(struct wsla_options *out,
                       void (*warn)(const char *msg));

/* Applies WSLALLOC_PROFILE to *o: each option the profile sets, unless its
   own variable was set.  Describes what it set in buf ("" if nothing). */
void wsla_options_apply_profile(struct wsla_options *o, char *buf, size_t len);

/* Parses text as an option of the given type; 0 on success, -1 if bad. */
int wsla_option_parse(const struct wsla_option_desc *opt, const char *text,
                      struct wsla_options *out);

/* What a value of opt must look like, for "... is not <this>": "a size
   (bytes, or with K/M/G/T, powers of 1024)", "one of on|off", ... */
void wsla_option_expects(const struct wsla_option_desc *opt, char *buf,
                         size_t len);

/* Writes "NAME=value\n" for every option into buf (always terminated);
   returns the length written. */
size_t wsla_options_format(const struct wsla_options *o, char *buf,
                           size_t len);

/* The directory recordings go to, as the options and environment say. */
void wsla_recording_dir(const struct wsla_options *o, char *buf, size_t len);

/* Copies at most max_in bytes of in to out (always terminated), each control
   character written as an escape (\n, \t, \r, \xHH): a value echoed in a
   message stays on its line and cannot pass for a message of its own. */
void wsla_escape_controls(const char *in, size_t max_in, char *out, size_t len);

/* Whether o's WSLALLOC_DIR was set to a path too long to use (its length
   in *len), as wsla_options_load found it.  Such a folder is never replaced
   by the default one, which is shared by every process of the user: the
   library records in memory only and the tools refuse. */
bool wsla_dir_refused(const struct wsla_options *o, size_t *len);

#endif
