/* wslalloc recording format: the memory-mapped file a process writes and the tools read. */
#ifndef WSLALLOC_FORMAT_H
#define WSLALLOC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/*
 * One recording per process, `<exe>.<pid>.wsla`, mapped MAP_SHARED by the
 * process that writes it, so that whatever it wrote is in the page cache the
 * moment it is written and survives SIGKILL.  All integers are little-endian
 * (the format is only ever written on x86-64 and aarch64 Linux).  Offsets are
 * from the start of the file.  Every region is 4096-aligned.
 *
 *   [0, 4096)          struct wsla_header       identity, geometry, end state
 *   counters_off       struct wsla_counters     exact counters (atomics)
 *   module_off         struct wsla_module[]     loaded modules, for call sites
 *   oom_off            struct wsla_oom[]        out-of-memory records, never
 *                                               overwritten by the ring
 *   oom_stack_off      struct wsla_stack[]      the stack of each, where
 *                                               WSLA_FEAT_OOM_STACKS
 *   stack_off          struct wsla_stack[]      the distinct stacks of large
 *                                               allocations, where
 *                                               WSLA_FEAT_STACKS
 *   others_off         struct wsla_others[]     other programs on the device
 *                                               at each OOM, where
 *                                               WSLA_FEAT_OTHERS
 *   live_off           struct wsla_live[]       the live allocations: the
 *                                               writer's hash table itself
 *   ring_off           struct wsla_event[]      the event ring (power of two)
 *   live2_off          struct wsla_live[]       more live allocations, where
 *                                               WSLA_FEAT_LIVE2 (the file grew)
 *
 * Writers and readers.  The writing process updates counters with atomic
 * read-modify-write operations; a reader in another process (wslalloc top)
 * may see a counter a few operations behind but never a torn 64-bit value.
 * Ring slots, OOM records and live slots each carry a commit word, written
 * last with release semantics after the payload; a reader loads it with
 * acquire, copies the payload, issues an acquire fence and loads it again,
 * and keeps the copy only if both loads give the value it expects.  A slot
 * whose commit word is zero or stale was never written, or was torn by a
 * crash or overtaken by the ring, and is skipped and counted as lost.
 *
 * Compatibility.  `version` changes whenever a field moves or changes meaning;
 * readers refuse a version they do not know.  New fields go into the reserved
 * tail of a structure and are announced with a flag in `features`.
 *
 * Versions.  2: a module carries its GNU build-id (its path shortened from
 * 224 to 184 bytes to make room); an OOM record is 256 bytes, with the
 * stream-ordered pool's cached memory and a reserved tail.  1: without
 * those; readers of 2 read 1 too.
 */

#define WSLA_MAGIC "WSLALLOC"
#define WSLA_MAGIC_LEN 8
#define WSLA_FORMAT_VERSION 2u
#define WSLA_FORMAT_VERSION_OLDEST 1u
#define WSLA_PAGE 4096u

#define WSLA_API_MAX 64u    /* slots in the per-API counter table */
#define WSLA_DEVICE_MAX 16u /* devices with counters of their own */
#define WSLA_PATH_MAX 512u
#define WSLA_CMDLINE_MAX 1024u
#define WSLA_OPTIONS_MAX 1024u
#define WSLA_ENVIRONMENT_MAX 512u
/* GPUs the environment lines name ("gpu0=" up to "gpu3="): the first ones
   the driver lists, so that the lines fit WSLA_ENVIRONMENT_MAX. */
#define WSLA_ENV_GPUS_MAX 4

/* Flags in wsla_header.features: fields taken from the reserved tail. */
enum wsla_features {
  WSLA_FEAT_ENVIRONMENT = 1u << 0, /* wsla_header.environment is filled */
  WSLA_FEAT_OOM_STACKS = 1u << 1,  /* oom_stack_off: a stack per OOM record */
  WSLA_FEAT_STACKS = 1u << 2,      /* stack_off: large allocations' stacks */
  WSLA_FEAT_PIDNS = 1u << 3,       /* pidns_ino, pidns_dev: pid's namespace */
  /* The writing process holds a read lock (fcntl F_SETLK, F_RDLCK) on the
     whole recording for its life, so that its liveness is told from the
     file (common/alive.h), across pid namespaces; and pruned_clean,
     pruned_failed say what its WSLALLOC_KEEP pruning deleted. */
  WSLA_FEAT_LIFE_LOCK = 1u << 4,
  WSLA_FEAT_OTHERS = 1u << 5,      /* others_off: other holders per OOM */
  WSLA_FEAT_LIVE2 = 1u << 6,       /* live2_off: a second region of live slots */
  WSLA_FEAT_VIEW_OWN = 1u << 7,    /* view_own_bytes: ours at each device view */
  WSLA_FEAT_TSC = 1u << 8,         /* tsc_*: times came from the time-stamp counter */
};

/* How the process ended, in wsla_header.end_state. */
enum wsla_end {
  WSLA_END_RUNNING = 0, /* not ended yet, or killed (the reader tells which) */
  WSLA_END_EXIT = 1,    /* exit() or return from main; exit_code is valid */
  WSLA_END_SIGNAL = 2,  /* a fatal signal; end_signal is valid */
  WSLA_END_EXEC = 3,    /* replaced itself by exec; the environment's
                           "exec=" line names the program */
};

/* Event types, in wsla_event.type. */
enum wsla_event_type {
  WSLA_EV_NONE = 0,
  WSLA_EV_ALLOC = 1,  /* addr, size granted; device memory unless WSLA_F_HOST;
                         aux: its allocation stack's index + 1, or 0 */
  WSLA_EV_FREE = 2,   /* addr, size that was live (0 when untracked) */
  WSLA_EV_FAIL = 3,   /* a failed call that is not out-of-memory; result */
  WSLA_EV_OOM = 4,    /* an out-of-memory failure; aux = OOM record index */
  WSLA_EV_SAMPLE = 5, /* device view: addr = free, size = total, aux = own */
  WSLA_EV_MAP = 6,    /* VMM: addr = virtual address, size, aux = handle;
                         device: the handle's (-1 if unknown) */
  WSLA_EV_UNMAP = 7,  /* VMM: addr = virtual address, size, aux = handle */
  WSLA_EV_RESERVE = 8,   /* VMM address space: addr, size (not memory) */
  WSLA_EV_UNRESERVE = 9, /* VMM address space given back: addr, size */
  WSLA_EV_STEP = 10,  /* a recovery step: aux = enum wsla_step, size = the
                         request, result = 1 if the retry after it worked */
};
#define WSLA_EV_LAST WSLA_EV_STEP

/* Recovery steps (WSLALLOC_RECOVER), in the order they are tried; bits in
   an OOM record's steps_tried, steps_ok and steps_skipped. */
enum wsla_step {
  WSLA_STEP_TRIM = 1u << 0,    /* synchronize, trim the stream-ordered pool */
  WSLA_STEP_RESERVE = 1u << 1, /* give back the shim's ballast */
  WSLA_STEP_STITCH = 1u << 2,  /* assemble the block from smaller pieces */
  WSLA_STEP_WAIT = 1u << 3,    /* wait for memory, retrying with backoff */
  WSLA_STEP_SPILL = 1u << 4,   /* serve it from pinned host memory */
};

/* Event and live-slot flags. */
enum wsla_flags {
  WSLA_F_HOST = 1u << 0,      /* pinned or registered host memory */
  WSLA_F_MANAGED = 1u << 1,   /* managed (unified) memory */
  WSLA_F_ASYNC = 1u << 2,     /* stream-ordered: addr of a pool allocation */
  WSLA_F_UNTRACKED = 1u << 3, /* a free of a pointer the shim never saw */
  WSLA_F_REGISTER = 1u << 4,  /* host memory registered, not allocated */
  WSLA_F_VMM = 1u << 5,       /* physical memory of cuMemCreate; addr is the
                                 allocation handle, not an address */
  WSLA_F_SPILLED = 1u << 6,   /* a device request served from mapped pinned
                                 host memory (WSLALLOC_SPILL=host) */
};

/* Why an OOM record's request failed. */
enum wsla_oom_cause {
  WSLA_CAUSE_DEVICE = 0,       /* the runtime or driver refused it */
  WSLA_CAUSE_LIMIT = 1,        /* the shim refused it: WSLALLOC_LIMIT */
  WSLA_CAUSE_PINNED_LIMIT = 2, /* the shim refused it: WSLALLOC_PINNED_LIMIT */
};

/* Where an OOM record's free/total figures come from. */
enum wsla_view_source {
  WSLA_VIEW_NONE = 0,   /* no figures could be had */
  WSLA_VIEW_DRIVER = 1, /* cuMemGetInfo right after the failure */
  WSLA_VIEW_SAMPLE = 2, /* the latest sample taken before the call (HIP) */
};

/*
 * API identifiers, append-only: the index is part of the format.  The names
 * are the ones clients call; per-thread-stream exports fold into the base.
 */
#define WSLA_API_LIST(X)                                                       \
  X(0, unknown)                                                                \
  X(1, cudaMalloc)                                                             \
  X(2, cudaFree)                                                               \
  X(3, cudaMallocPitch)                                                        \
  X(4, cudaMalloc3D)                                                           \
  X(5, cudaMallocManaged)                                                      \
  X(6, cudaMallocAsync)                                                        \
  X(7, cudaFreeAsync)                                                          \
  X(8, cudaMallocFromPoolAsync)                                                \
  X(9, cudaMallocHost)                                                         \
  X(10, cudaHostAlloc)                                                         \
  X(11, cudaFreeHost)                                                          \
  X(12, cudaHostRegister)                                                      \
  X(13, cudaHostUnregister)                                                    \
  X(14, cudaMemGetInfo)                                                        \
  X(15, hipMalloc)                                                             \
  X(16, hipFree)                                                               \
  X(17, hipMallocManaged)                                                      \
  X(18, hipExtMallocWithFlags)                                                 \
  X(19, hipMallocPitch)                                                        \
  X(20, hipMallocAsync)                                                        \
  X(21, hipFreeAsync)                                                          \
  X(22, hipMallocFromPoolAsync)                                                \
  X(23, hipHostMalloc)                                                         \
  X(24, hipHostFree)                                                           \
  X(25, hipMallocHost)                                                         \
  X(26, hipHostRegister)                                                       \
  X(27, hipHostUnregister)                                                     \
  X(28, hipMemGetInfo)                                                         \
  X(29, hipFreeHost)                                                           \
  X(30, cuMemAlloc_v2)                                                         \
  X(31, cuMemFree_v2)                                                          \
  X(32, cuMemAllocPitch_v2)                                                    \
  X(33, cuMemAllocManaged)                                                     \
  X(34, cuMemAllocAsync)                                                       \
  X(35, cuMemFreeAsync)                                                        \
  X(36, cuMemAllocFromPoolAsync)                                               \
  X(37, cuMemAllocHost_v2)                                                     \
  X(38, cuMemHostAlloc)                                                        \
  X(39, cuMemFreeHost)                                                         \
  X(40, cuMemHostRegister_v2)                                                  \
  X(41, cuMemHostUnregister)                                                   \
  X(42, cuMemCreate)                                                           \
  X(43, cuMemRelease)                                                          \
  X(44, cuMemMap)                                                              \
  X(45, cuMemUnmap)                                                            \
  X(46, cuMemAddressReserve)                                                   \
  X(47, cuMemAddressFree)                                                      \
  X(48, cuMemGetInfo_v2)                                                       \
  X(49, cuDeviceGetAttribute)                                                  \
  X(50, nvmlDeviceGetMemoryInfo)                                               \
  X(51, nvmlDeviceGetMemoryInfo_v2)                                            \
  X(52, hipMemCreate)                                                          \
  X(53, hipMemRelease)                                                         \
  X(54, hipMemMap)                                                             \
  X(55, hipMemUnmap)                                                           \
  X(56, hipMemAddressReserve)                                                  \
  X(57, hipMemAddressFree)

enum wsla_api {
#define WSLA_API_ENUM(idx, name) WSLA_API_##name = idx,
  WSLA_API_LIST(WSLA_API_ENUM)
#undef WSLA_API_ENUM
  WSLA_API_COUNT
};

struct wsla_header {
  char magic[WSLA_MAGIC_LEN];   /* "WSLALLOC" */
  uint32_t version;             /* WSLA_FORMAT_VERSION */
  uint32_t header_size;         /* sizeof(struct wsla_header) */
  uint64_t file_size;           /* bytes the writer made the file */
  uint64_t features;            /* enum wsla_features */
  uint64_t counters_off;
  uint64_t module_off;
  uint64_t oom_off;
  uint64_t live_off;
  uint64_t ring_off;
  uint32_t counters_size;       /* sizeof(struct wsla_counters) */
  uint32_t module_size;         /* sizeof(struct wsla_module) */
  uint32_t module_cap;
  uint32_t oom_size;            /* sizeof(struct wsla_oom) */
  uint32_t oom_cap;
  uint32_t live_size;           /* sizeof(struct wsla_live) */
  uint64_t live_cap;
  uint32_t event_size;          /* sizeof(struct wsla_event) */
  uint32_t api_max;             /* WSLA_API_MAX */
  uint64_t ring_cap;            /* a power of two */
  uint32_t device_max;          /* WSLA_DEVICE_MAX */
  int32_t pid;
  int32_t ppid;
  uint32_t uid;
  uint64_t proc_start_ticks;    /* /proc/<pid>/stat field 22: tells pid reuse */
  int64_t start_realtime_ns;    /* CLOCK_REALTIME when the recording began */
  int64_t start_monotonic_ns;   /* CLOCK_MONOTONIC at the same moment; event
                                   times are monotonic ns since this */
  uint32_t end_state;           /* enum wsla_end, written last at the end */
  int32_t exit_code;
  int32_t end_signal;
  uint32_t sample_ms;           /* device-view sampling period in force */
  int64_t end_time_ns;          /* event-time of the end */
  uint32_t cmdline_len;         /* bytes used in cmdline, NULs between args */
  uint32_t reserved0;
  char exe[WSLA_PATH_MAX];      /* /proc/self/exe */
  char cmdline[WSLA_CMDLINE_MAX];
  char options[WSLA_OPTIONS_MAX]; /* "NAME=value\n" for each option in force */
  /* "key=value\n" lines: kernel, wsl, dxg, vm_memory_bytes at the start;
     cuda_driver and gpuN=name|total_bytes once the driver is loaded.
     Appended once, at the first device-view sample or OOM. */
  char environment[WSLA_ENVIRONMENT_MAX];
  /* WSLA_FEAT_OOM_STACKS: struct wsla_stack[oom_cap] at oom_stack_off,
     between the OOM records and the live slots, one per OOM record. */
  uint64_t oom_stack_off;
  uint32_t oom_stack_size;      /* sizeof(struct wsla_stack) */
  uint32_t reserved1;
  /* WSLA_FEAT_STACKS: struct wsla_stack[stack_cap] at stack_off, after the
     OOM stacks and before the live slots: each distinct stack of a device
     allocation of WSLALLOC_STACKS bytes or more, once; an ALLOC event's aux
     and a live slot's stack name it by index + 1 (0: none). */
  uint64_t stack_off;
  uint32_t stack_cap;
  uint32_t reserved2;
  /* WSLA_FEAT_PIDNS: the pid namespace `pid` belongs to (stat of
     /proc/self/ns/pid).  A reader in another one (the recording was made in
     a container) knows that pid means nothing in its own. */
  uint64_t pidns_ino;
  uint64_t pidns_dev;
  /* WSLA_FEAT_LIFE_LOCK: the recordings of ended processes this process
     deleted under WSLALLOC_KEEP when it started: those of clean exits
     (status 0, no OOM) and the others (a failure, an OOM, a signal, or
     killed), which are deleted only once no clean one is left to go. */
  uint64_t pruned_clean;
  uint64_t pruned_failed;
  /* WSLA_FEAT_OTHERS: struct wsla_others[others_cap] at others_off, one per
     OOM record of the first others_cap (same index): the other programs
     holding memory on its device, as NVML listed them right after the
     failure. */
  uint64_t others_off;
  uint32_t others_size;         /* sizeof(struct wsla_others) */
  uint32_t others_cap;
  uint8_t reserved4[16];
  /* WSLA_FEAT_LIVE2: a second array of live slots, struct wsla_live[live2_cap]
     at live2_off, after the ring at the end of the file, made when the first
     one filled up.  Readers list the committed slots of both. */
  uint64_t live2_off;
  uint64_t live2_cap;
  /* WSLA_FEAT_VIEW_OWN: per device, the memory this process held (its live
     device bytes and the shim's WSLALLOC_RESERVE ballast) at the moment of
     the last device view, written before that view's free/total figures.
     total - free - view_own_bytes is what the others held then; this
     process's live_bytes now is from another moment and would blame the
     others for memory freed (or not yet taken) since. */
  uint64_t view_own_bytes[WSLA_DEVICE_MAX];
  /* WSLA_FEAT_TSC: every time in this file was read from the processor's
     time-stamp counter, not from clock_gettime (never a mix of the two):
     ns since start_monotonic_ns = (tsc - tsc_base) * tsc_mult >> 32, the
     rate measured against CLOCK_MONOTONIC over tsc_calibration_ns when the
     process began; tsc_hz is that rate in ticks per second.  Times are
     written in nanoseconds already: readers need none of this. */
  uint64_t tsc_base;
  uint64_t tsc_mult;
  uint64_t tsc_hz;
  uint64_t tsc_calibration_ns;
  uint8_t reserved[WSLA_PAGE - 192 - WSLA_PATH_MAX - WSLA_CMDLINE_MAX -
                   WSLA_OPTIONS_MAX - WSLA_ENVIRONMENT_MAX - 32 - 64 - 16 -
                   8 * WSLA_DEVICE_MAX - 32];
};

struct wsla_api_counters {
  uint64_t calls;  /* every call, failed or not */
  uint64_t failed; /* calls that returned an error */
  uint64_t bytes;  /* bytes requested by the calls that succeeded */
  uint64_t ooms;   /* failures that were out-of-memory */
};

struct wsla_device_counters {
  uint64_t live_bytes;     /* device memory live now, sizes as requested */
  uint64_t live_allocs;
  uint64_t peak_bytes;     /* the highest live_bytes seen */
  uint64_t peak_time_ns;   /* event-time of that peak */
  uint64_t total_bytes;    /* last device view: total memory */
  uint64_t free_bytes;     /* last device view: free memory */
  uint64_t view_time_ns;   /* event-time of the last device view; 0 = none */
  uint64_t ooms;
};

struct wsla_counters {
  uint64_t events_claimed;   /* ring slots claimed since the start */
  uint64_t ooms_claimed;     /* OOM records claimed (may exceed oom_cap) */
  uint64_t recovered;        /* OOMs the shim turned into a success */
  uint64_t host_live_bytes;  /* pinned and registered host memory */
  uint64_t host_live_allocs;
  uint64_t host_peak_bytes;
  uint64_t untracked_frees;  /* frees of pointers the shim never saw */
  uint64_t live_overflow;    /* live allocations that found no live slot */
  uint64_t modules_count;    /* module records written */
  uint64_t modules_lost;     /* modules that found no record */
  uint64_t table_oom;        /* live-table nodes the heap refused */
  uint64_t vmm_reserved_bytes; /* address space reserved, not memory */
  uint64_t vmm_mapped_bytes;   /* physical memory mapped into it */
  uint64_t lookups;          /* driver entry points asked for by name */
  uint64_t lookups_wrapped;  /* of those, answered with the shim's wrapper */
  uint64_t ballast_bytes;    /* WSLALLOC_RESERVE held now, all devices: the
                                shim's, not the client's, memory */
  struct wsla_api_counters api[WSLA_API_MAX];
  struct wsla_device_counters dev[WSLA_DEVICE_MAX];
};

/* A call stack, from the client's call outward: frames[0] is the site (the
   return address of the client's call), then its caller's, and so on.  In
   the OOM stacks, the stack of the thread that ran out, written before its
   OOM record's commit; in the allocation stacks, one distinct stack,
   written before any event names it. */
#define WSLA_STACK_MAX 30u
struct wsla_stack {
  uint64_t commit;                 /* its index + 1 once written */
  uint32_t depth;                  /* frames held, at most WSLA_STACK_MAX */
  uint32_t reserved;
  uint64_t frames[WSLA_STACK_MAX]; /* return addresses */
};

/* A loaded ELF module; a call site is resolved to path + (site - bias).  The
   build-id lets a reader refuse a file at that path that is not the one the
   process ran (a library upgraded since), rather than misname its code. */
#define WSLA_BUILD_ID_MAX 32u
struct wsla_module {
  uint64_t commit;                      /* index + 1 once written */
  uint64_t bias;                        /* dlpi_addr: the load bias */
  uint64_t lo, hi;                      /* absolute address range of its PT_LOAD segments */
  uint8_t build_id[WSLA_BUILD_ID_MAX];  /* NT_GNU_BUILD_ID's first bytes */
  uint8_t build_id_len;                 /* 0: the module has none */
  uint8_t reserved[7];
  char path[184];                       /* the tail, where longer */
};

/* Version 1's module, which readers convert. */
struct wsla_module_v1 {
  uint64_t commit, bias, lo, hi;
  char path[224];
};

struct wsla_oom {
  uint64_t commit;        /* index + 1 once written */
  uint64_t time_ns;       /* event-time of the failure */
  uint64_t size;          /* bytes requested */
  uint64_t free_bytes;    /* device view; see view_source */
  uint64_t total_bytes;
  uint64_t own_bytes;     /* this process's live device bytes on the device */
  uint64_t foreign_bytes; /* total - free - own, floored at zero */
  uint64_t view_time_ns;  /* event-time the free/total figures were taken */
  uint64_t site;          /* the caller's return address */
  uint64_t event_seq;     /* ring sequence of the matching WSLA_EV_OOM */
  uint64_t own_allocs;    /* live device allocations on the device */
  uint32_t tid;
  int32_t result;         /* the API's own error code */
  uint16_t api;
  int16_t device;         /* -1 when unknown */
  uint16_t outcome;       /* 0 failed, 1 recovered */
  uint16_t view_source;   /* enum wsla_view_source */
  uint16_t cause;         /* enum wsla_oom_cause */
  uint16_t steps_tried;   /* enum wsla_step bits */
  uint16_t steps_ok;      /* the step after which the retry worked */
  uint16_t steps_skipped; /* steps passed over (trim during a capture) */
  uint64_t budget_bytes;  /* the limit that refused it, for shim causes */
  uint64_t largest_block; /* WSLALLOC_PROBE: the largest block that could be
                             had right after the failure; 0 = not probed */
  uint64_t pool_cached;   /* the device's default stream-ordered pool at the
                             failure: memory it holds, freed by the program
                             but not given back (reserved less used); part
                             of this process's, not the others' (version 2) */
  /* The device's adapter LUID (cuDeviceGetLuid, little-endian: LowPart
     then HighPart), to find it among Windows' "GPU Process Memory"
     instances; only where luid_valid is 1 (the driver answered). */
  uint8_t luid[8];
  uint32_t luid_node_mask;
  uint32_t luid_valid;
  uint64_t reserved[13];
};

/* Another program holding memory on a device, in struct wsla_others. */
enum wsla_other_flags {
  WSLA_OTHER_BYTES = 1u << 0,     /* bytes is a figure; otherwise the source
                                     listed it without one (WDDM: "not
                                     available") and bytes is 0, not a size */
  WSLA_OTHER_COMPUTE = 1u << 1,   /* on NVML's compute list */
  WSLA_OTHER_GRAPHICS = 1u << 2,  /* on NVML's graphics list */
  WSLA_OTHER_NAME_NVML = 1u << 3, /* name from nvmlSystemGetProcessName */
  WSLA_OTHER_NAME_PROC = 1u << 4, /* name from /proc/<pid>/comm */
  WSLA_OTHER_NAME_TASKLIST = 1u << 5, /* name from Windows' tasklist */
  WSLA_OTHER_FOREIGN_NS = 1u << 6, /* pid of another pid namespace (the
                                      host's, seen from a container): not
                                      named from this /proc */
  WSLA_OTHER_EXITED = 1u << 7,    /* gone before it could be named */
  WSLA_OTHER_WSL_VM = 1u << 8,    /* Windows: the WSL VM itself (vmmem),
                                     this and other Linux programs */
};
enum wsla_others_source {
  WSLA_OTHERS_NONE = 0,    /* not asked */
  WSLA_OTHERS_NVML = 1,    /* NVML's running-process lists */
  WSLA_OTHERS_WINDOWS = 2, /* Windows' GPU Process Memory counters */
};
/* Why a list is empty or partial, in struct wsla_others.status. */
enum wsla_others_status {
  WSLA_OTHERS_OK = 0,
  WSLA_OTHERS_NO_LIBRARY = 1, /* libnvidia-ml.so.1 could not be loaded */
  WSLA_OTHERS_FAILED = 2,     /* NVML refused (status_code: its nvmlReturn_t) */
  WSLA_OTHERS_NO_DEVICE = 3,  /* the OOM named no device NVML knows */
  WSLA_OTHERS_UNMATCHED = 4,  /* Windows: no adapter could be matched to the
                                 device (written by the tools only) */
};
#define WSLA_OTHERS_KEEP 7u
#define WSLA_OTHER_NAME_MAX 48u
struct wsla_other {
  uint32_t pid;
  uint16_t flags;                 /* enum wsla_other_flags */
  uint16_t reserved;
  uint64_t bytes;                 /* only where WSLA_OTHER_BYTES */
  char name[WSLA_OTHER_NAME_MAX]; /* NUL-terminated; "" when unnamed */
};
struct wsla_others {
  uint64_t commit;       /* its OOM record's index + 1 once written */
  uint64_t listed_bytes; /* the sum over every listed program with a figure,
                            the WSL VM's share left out */
  uint16_t listed;       /* programs listed, kept or not (self excluded) */
  uint16_t kept;         /* entries filled: the largest, then unsized ones */
  uint16_t source;       /* enum wsla_others_source */
  uint16_t status;       /* enum wsla_others_status */
  int32_t status_code;
  uint32_t reserved0;
  uint64_t reserved[4];
  struct wsla_other entries[WSLA_OTHERS_KEEP];
};

struct wsla_live {
  uint64_t commit;  /* 0 free; otherwise ring sequence + 1 of its ALLOC */
  uint64_t addr;
  uint64_t size;    /* as requested; pitch x rows for pitched memory */
  uint64_t site;
  uint64_t time_ns;
  uint32_t tid;
  uint16_t api;
  int16_t device;
  uint32_t flags;   /* enum wsla_flags */
  uint32_t reserved0; /* the writer's own (its table's claim state); readers
                         look only at commit */
  uint32_t stack;   /* its allocation stack's index + 1; 0: none (v2) */
  uint32_t reserved1;
};

struct wsla_event {
  uint64_t commit;  /* ring sequence + 1 once written */
  uint64_t time_ns; /* monotonic ns since start_monotonic_ns */
  uint64_t addr;
  uint64_t size;
  uint64_t site;    /* the caller's return address */
  uint64_t aux;     /* per type, see enum wsla_event_type */
  uint32_t tid;
  int32_t result;   /* the API's return code */
  uint16_t type;    /* enum wsla_event_type */
  uint16_t api;     /* enum wsla_api */
  int16_t device;   /* -1 when unknown or host memory */
  uint16_t flags;   /* enum wsla_flags */
};

#define WSLA_ASSERT_OFF(type, field, off)                                      \
  _Static_assert(offsetof(struct type, field) == (off),                        \
                 #type "." #field " moved")

WSLA_ASSERT_OFF(wsla_header, magic, 0);
WSLA_ASSERT_OFF(wsla_header, version, 8);
WSLA_ASSERT_OFF(wsla_header, header_size, 12);
WSLA_ASSERT_OFF(wsla_header, file_size, 16);
WSLA_ASSERT_OFF(wsla_header, features, 24);
WSLA_ASSERT_OFF(wsla_header, counters_off, 32);
WSLA_ASSERT_OFF(wsla_header, module_off, 40);
WSLA_ASSERT_OFF(wsla_header, oom_off, 48);
WSLA_ASSERT_OFF(wsla_header, live_off, 56);
WSLA_ASSERT_OFF(wsla_header, ring_off, 64);
WSLA_ASSERT_OFF(wsla_header, counters_size, 72);
WSLA_ASSERT_OFF(wsla_header, module_size, 76);
WSLA_ASSERT_OFF(wsla_header, module_cap, 80);
WSLA_ASSERT_OFF(wsla_header, oom_size, 84);
WSLA_ASSERT_OFF(wsla_header, oom_cap, 88);
WSLA_ASSERT_OFF(wsla_header, live_size, 92);
WSLA_ASSERT_OFF(wsla_header, live_cap, 96);
WSLA_ASSERT_OFF(wsla_header, event_size, 104);
WSLA_ASSERT_OFF(wsla_header, api_max, 108);
WSLA_ASSERT_OFF(wsla_header, ring_cap, 112);
WSLA_ASSERT_OFF(wsla_header, device_max, 120);
WSLA_ASSERT_OFF(wsla_header, pid, 124);
WSLA_ASSERT_OFF(wsla_header, ppid, 128);
WSLA_ASSERT_OFF(wsla_header, uid, 132);
WSLA_ASSERT_OFF(wsla_header, proc_start_ticks, 136);
WSLA_ASSERT_OFF(wsla_header, start_realtime_ns, 144);
WSLA_ASSERT_OFF(wsla_header, start_monotonic_ns, 152);
WSLA_ASSERT_OFF(wsla_header, end_state, 160);
WSLA_ASSERT_OFF(wsla_header, exit_code, 164);
WSLA_ASSERT_OFF(wsla_header, end_signal, 168);
WSLA_ASSERT_OFF(wsla_header, sample_ms, 172);
WSLA_ASSERT_OFF(wsla_header, end_time_ns, 176);
WSLA_ASSERT_OFF(wsla_header, cmdline_len, 184);
WSLA_ASSERT_OFF(wsla_header, reserved0, 188);
WSLA_ASSERT_OFF(wsla_header, exe, 192);
WSLA_ASSERT_OFF(wsla_header, cmdline, 192 + WSLA_PATH_MAX);
WSLA_ASSERT_OFF(wsla_header, options, 192 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX);
WSLA_ASSERT_OFF(wsla_header, environment,
                192 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX);
WSLA_ASSERT_OFF(wsla_header, oom_stack_off,
                192 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX +
                    WSLA_ENVIRONMENT_MAX);
WSLA_ASSERT_OFF(wsla_header, oom_stack_size,
                200 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX +
                    WSLA_ENVIRONMENT_MAX);
WSLA_ASSERT_OFF(wsla_header, stack_off,
                208 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX +
                    WSLA_ENVIRONMENT_MAX);
WSLA_ASSERT_OFF(wsla_header, stack_cap,
                216 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX +
                    WSLA_ENVIRONMENT_MAX);
WSLA_ASSERT_OFF(wsla_header, pidns_ino, 3296);
WSLA_ASSERT_OFF(wsla_header, pidns_ino,
                224 + WSLA_PATH_MAX + WSLA_CMDLINE_MAX + WSLA_OPTIONS_MAX +
                    WSLA_ENVIRONMENT_MAX);
WSLA_ASSERT_OFF(wsla_header, pidns_dev, 3304);
WSLA_ASSERT_OFF(wsla_header, pruned_clean, 3312);
WSLA_ASSERT_OFF(wsla_header, pruned_failed, 3320);
WSLA_ASSERT_OFF(wsla_header, others_off, 3328);
WSLA_ASSERT_OFF(wsla_header, others_size, 3336);
WSLA_ASSERT_OFF(wsla_header, others_cap, 3340);
WSLA_ASSERT_OFF(wsla_header, reserved4, 3344);
WSLA_ASSERT_OFF(wsla_header, live2_off, 3360);
WSLA_ASSERT_OFF(wsla_header, live2_cap, 3368);
WSLA_ASSERT_OFF(wsla_header, view_own_bytes, 3376);
WSLA_ASSERT_OFF(wsla_header, tsc_base, 3376 + 8 * WSLA_DEVICE_MAX);
WSLA_ASSERT_OFF(wsla_header, tsc_mult, 3384 + 8 * WSLA_DEVICE_MAX);
WSLA_ASSERT_OFF(wsla_header, tsc_hz, 3392 + 8 * WSLA_DEVICE_MAX);
WSLA_ASSERT_OFF(wsla_header, tsc_calibration_ns, 3400 + 8 * WSLA_DEVICE_MAX);
WSLA_ASSERT_OFF(wsla_header, reserved, 3408 + 8 * WSLA_DEVICE_MAX);
_Static_assert(sizeof(struct wsla_header) == WSLA_PAGE, "header is one page");

WSLA_ASSERT_OFF(wsla_api_counters, calls, 0);
WSLA_ASSERT_OFF(wsla_api_counters, failed, 8);
WSLA_ASSERT_OFF(wsla_api_counters, bytes, 16);
WSLA_ASSERT_OFF(wsla_api_counters, ooms, 24);
_Static_assert(sizeof(struct wsla_api_counters) == 32, "api counters size");

WSLA_ASSERT_OFF(wsla_device_counters, live_bytes, 0);
WSLA_ASSERT_OFF(wsla_device_counters, live_allocs, 8);
WSLA_ASSERT_OFF(wsla_device_counters, peak_bytes, 16);
WSLA_ASSERT_OFF(wsla_device_counters, peak_time_ns, 24);
WSLA_ASSERT_OFF(wsla_device_counters, total_bytes, 32);
WSLA_ASSERT_OFF(wsla_device_counters, free_bytes, 40);
WSLA_ASSERT_OFF(wsla_device_counters, view_time_ns, 48);
WSLA_ASSERT_OFF(wsla_device_counters, ooms, 56);
_Static_assert(sizeof(struct wsla_device_counters) == 64, "device counters");

WSLA_ASSERT_OFF(wsla_counters, events_claimed, 0);
WSLA_ASSERT_OFF(wsla_counters, ooms_claimed, 8);
WSLA_ASSERT_OFF(wsla_counters, recovered, 16);
WSLA_ASSERT_OFF(wsla_counters, host_live_bytes, 24);
WSLA_ASSERT_OFF(wsla_counters, host_live_allocs, 32);
WSLA_ASSERT_OFF(wsla_counters, host_peak_bytes, 40);
WSLA_ASSERT_OFF(wsla_counters, untracked_frees, 48);
WSLA_ASSERT_OFF(wsla_counters, live_overflow, 56);
WSLA_ASSERT_OFF(wsla_counters, modules_count, 64);
WSLA_ASSERT_OFF(wsla_counters, modules_lost, 72);
WSLA_ASSERT_OFF(wsla_counters, table_oom, 80);
WSLA_ASSERT_OFF(wsla_counters, vmm_reserved_bytes, 88);
WSLA_ASSERT_OFF(wsla_counters, vmm_mapped_bytes, 96);
WSLA_ASSERT_OFF(wsla_counters, lookups, 104);
WSLA_ASSERT_OFF(wsla_counters, lookups_wrapped, 112);
WSLA_ASSERT_OFF(wsla_counters, ballast_bytes, 120);
WSLA_ASSERT_OFF(wsla_counters, api, 128);
WSLA_ASSERT_OFF(wsla_counters, dev, 128 + 32 * WSLA_API_MAX);
_Static_assert(sizeof(struct wsla_counters) ==
                   128 + 32 * WSLA_API_MAX + 64 * WSLA_DEVICE_MAX,
               "counters size");
_Static_assert(WSLA_API_COUNT <= WSLA_API_MAX, "API table full");

WSLA_ASSERT_OFF(wsla_module, commit, 0);
WSLA_ASSERT_OFF(wsla_module, bias, 8);
WSLA_ASSERT_OFF(wsla_module, lo, 16);
WSLA_ASSERT_OFF(wsla_module, hi, 24);
WSLA_ASSERT_OFF(wsla_module, build_id, 32);
WSLA_ASSERT_OFF(wsla_module, build_id_len, 64);
WSLA_ASSERT_OFF(wsla_module, reserved, 65);
WSLA_ASSERT_OFF(wsla_module, path, 72);
_Static_assert(sizeof(struct wsla_module) == 256, "module size");
WSLA_ASSERT_OFF(wsla_module_v1, path, 32);
_Static_assert(sizeof(struct wsla_module_v1) == sizeof(struct wsla_module),
               "version 1's modules have the same size");

WSLA_ASSERT_OFF(wsla_oom, commit, 0);
WSLA_ASSERT_OFF(wsla_oom, time_ns, 8);
WSLA_ASSERT_OFF(wsla_oom, size, 16);
WSLA_ASSERT_OFF(wsla_oom, free_bytes, 24);
WSLA_ASSERT_OFF(wsla_oom, total_bytes, 32);
WSLA_ASSERT_OFF(wsla_oom, own_bytes, 40);
WSLA_ASSERT_OFF(wsla_oom, foreign_bytes, 48);
WSLA_ASSERT_OFF(wsla_oom, view_time_ns, 56);
WSLA_ASSERT_OFF(wsla_oom, site, 64);
WSLA_ASSERT_OFF(wsla_oom, event_seq, 72);
WSLA_ASSERT_OFF(wsla_oom, own_allocs, 80);
WSLA_ASSERT_OFF(wsla_oom, tid, 88);
WSLA_ASSERT_OFF(wsla_oom, result, 92);
WSLA_ASSERT_OFF(wsla_oom, api, 96);
WSLA_ASSERT_OFF(wsla_oom, device, 98);
WSLA_ASSERT_OFF(wsla_oom, outcome, 100);
WSLA_ASSERT_OFF(wsla_oom, view_source, 102);
WSLA_ASSERT_OFF(wsla_oom, cause, 104);
WSLA_ASSERT_OFF(wsla_oom, steps_tried, 106);
WSLA_ASSERT_OFF(wsla_oom, steps_ok, 108);
WSLA_ASSERT_OFF(wsla_oom, steps_skipped, 110);
WSLA_ASSERT_OFF(wsla_oom, budget_bytes, 112);
WSLA_ASSERT_OFF(wsla_oom, largest_block, 120);
WSLA_ASSERT_OFF(wsla_oom, pool_cached, 128);
WSLA_ASSERT_OFF(wsla_oom, luid, 136);
WSLA_ASSERT_OFF(wsla_oom, luid_node_mask, 144);
WSLA_ASSERT_OFF(wsla_oom, luid_valid, 148);
_Static_assert(sizeof(struct wsla_oom) == 256, "oom record size");
#define WSLA_OOM_V1_SIZE 128u /* version 1's records: the first 128 bytes */

WSLA_ASSERT_OFF(wsla_stack, commit, 0);
WSLA_ASSERT_OFF(wsla_stack, depth, 8);
WSLA_ASSERT_OFF(wsla_stack, frames, 16);
_Static_assert(sizeof(struct wsla_stack) == 256, "oom stack size");

WSLA_ASSERT_OFF(wsla_other, pid, 0);
WSLA_ASSERT_OFF(wsla_other, flags, 4);
WSLA_ASSERT_OFF(wsla_other, bytes, 8);
WSLA_ASSERT_OFF(wsla_other, name, 16);
_Static_assert(sizeof(struct wsla_other) == 64, "other size");
WSLA_ASSERT_OFF(wsla_others, commit, 0);
WSLA_ASSERT_OFF(wsla_others, listed_bytes, 8);
WSLA_ASSERT_OFF(wsla_others, listed, 16);
WSLA_ASSERT_OFF(wsla_others, kept, 18);
WSLA_ASSERT_OFF(wsla_others, source, 20);
WSLA_ASSERT_OFF(wsla_others, status, 22);
WSLA_ASSERT_OFF(wsla_others, status_code, 24);
WSLA_ASSERT_OFF(wsla_others, entries, 64);
_Static_assert(sizeof(struct wsla_others) == 512, "others size");

WSLA_ASSERT_OFF(wsla_live, commit, 0);
WSLA_ASSERT_OFF(wsla_live, addr, 8);
WSLA_ASSERT_OFF(wsla_live, size, 16);
WSLA_ASSERT_OFF(wsla_live, site, 24);
WSLA_ASSERT_OFF(wsla_live, time_ns, 32);
WSLA_ASSERT_OFF(wsla_live, tid, 40);
WSLA_ASSERT_OFF(wsla_live, api, 44);
WSLA_ASSERT_OFF(wsla_live, device, 46);
WSLA_ASSERT_OFF(wsla_live, flags, 48);
WSLA_ASSERT_OFF(wsla_live, reserved0, 52);
WSLA_ASSERT_OFF(wsla_live, stack, 56);
WSLA_ASSERT_OFF(wsla_live, reserved1, 60);
_Static_assert(sizeof(struct wsla_live) == 64, "live slot size");

WSLA_ASSERT_OFF(wsla_event, commit, 0);
WSLA_ASSERT_OFF(wsla_event, time_ns, 8);
WSLA_ASSERT_OFF(wsla_event, addr, 16);
WSLA_ASSERT_OFF(wsla_event, size, 24);
WSLA_ASSERT_OFF(wsla_event, site, 32);
WSLA_ASSERT_OFF(wsla_event, aux, 40);
WSLA_ASSERT_OFF(wsla_event, tid, 48);
WSLA_ASSERT_OFF(wsla_event, result, 52);
WSLA_ASSERT_OFF(wsla_event, type, 56);
WSLA_ASSERT_OFF(wsla_event, api, 58);
WSLA_ASSERT_OFF(wsla_event, device, 60);
WSLA_ASSERT_OFF(wsla_event, flags, 62);
_Static_assert(sizeof(struct wsla_event) == 64, "event size");

/* The API's printable name, or NULL for an index the format does not know. */
static inline const char *wsla_api_name(unsigned api) {
  static const char *const names[] = {
#define WSLA_API_NAME(idx, name) [idx] = #name,
      WSLA_API_LIST(WSLA_API_NAME)
#undef WSLA_API_NAME
  };
  return api < sizeof names / sizeof names[0] ? names[api] : NULL;
}

#endif
