/* Internal interfaces of libwslalloc: state shared by the hooks, and the inline hot path. */
#ifndef WSLA_SHIM_H
#define WSLA_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "wslalloc/format.h"
#include "wslalloc/options.h"

#define WSLA_EXPORT __attribute__((visibility("default")))
/* For code that runs when sanitizer runtimes look symbols up during their
   own start-up, before their shadow memory exists: dlsym's path. */
#define WSLA_NO_SANITIZE                                                       \
  __attribute__((no_sanitize_address, no_sanitize_thread,                      \
                 no_sanitize_undefined))
#define WSLA_LIKELY(x) __builtin_expect(!!(x), 1)
#define WSLA_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For the fast path's parts (fast.h, table.h): inlined into each hook even
   where the compiler would share one copy among many callers. */
#define WSLA_INLINE static inline __attribute__((always_inline))

/* The process's recording, mapped; valid while wsla_ready says so. */
struct wsla_proc {
  struct wsla_header *hdr;
  struct wsla_counters *ctr;
  struct wsla_module *modules;
  struct wsla_oom *ooms;
  struct wsla_stack *oom_stacks; /* one per OOM record */
  struct wsla_stack *stacks;     /* large allocations' distinct stacks */
  uint32_t stack_cap;
  struct wsla_others *others;    /* one per OOM record, the first others_cap */
  uint32_t others_cap;
  struct wsla_live *live;
  struct wsla_event *ring;
  uint64_t ring_mask;
  uint64_t live_cap;
  uint32_t oom_cap;
  uint32_t module_cap;
  void *map;
  size_t map_len;
  int64_t start_mono_ns;
  /* The event clock (clock.c): with tsc_mult, the time-stamp counter, ns =
     (tsc - tsc_base) * tsc_mult >> 32; else CLOCK_MONOTONIC. */
  uint64_t tsc_base;
  uint64_t tsc_mult;
  uint64_t sample_ns; /* 0: sampling off */
  /* For the fast path (fast.h): the size from which an allocation keeps
     its stack (WSLALLOC_STACKS; UINT64_MAX when off), and per device the
     time from which the next allocation goes the general way to take a
     sample (0: the next one; UINT64_MAX: never, sampling off). */
  uint64_t stack_min;
  uint64_t sample_next[WSLA_DEVICE_MAX];
  bool file_backed;
  char path[WSLA_OPT_PATH_MAX + 160];
};

/* Per-thread state.  depth > 0 means the thread is inside a hook, so calls
   that reach another hook from there pass straight through. */
struct wsla_tls {
  int depth;
  pid_t tid;
  /* The address the outermost free hook in progress is freeing: the
     runtime's own free of it inside that call passes straight through. */
  uint64_t freeing;
  /* The budget's reservation for the call in progress (budget.h): bytes,
     and the in-flight slot they were added to. */
  uint64_t budget_held;
  unsigned budget_slot;
  /* The device cache (wsla_device_cached): by family (0 CUDA, 1 HIP), the
     device of the thread's current context as last asked of the driver,
     valid while gen equals wsla_ctx_gen; gen 0 is never current. */
  struct {
    unsigned long gen;
    int16_t device;
  } dev_cache[2];
};

extern struct wsla_proc wsla_g;
extern struct wsla_options wsla_opts;
extern int wsla_g_ready; /* 1 once wsla_g is usable in this process */
/*
 * The gate word: zero while nothing unusual is on, so that every hook pays
 * one load to know it may take its fast path (fast.h).  Each bit names a
 * reason to take the general path instead:
 *   BUDGET     a budget (WSLALLOC_LIMIT, WSLALLOC_PINNED_LIMIT) is set;
 *   PROBE      a largest-block probe (recover.c) is searching with real
 *              allocations, so a device allocation that starts now waits
 *              for it to stop rather than find its memory taken;
 *   UNREADY    this process has no recording yet (or cannot have one);
 *   STITCH, RESERVE   WSLALLOC_STITCH=force and WSLALLOC_RESERVE, set at
 *              start;
 *   RECOVER    WSLALLOC_RECOVER, set at start: the one flag the fast path
 *              takes calls under (fast.h's WSLA_GATE_SLOW), noting the
 *              runtime's pending error first for a rescue to keep;
 *   FIRST_AID  an OOM not yet followed by a success: the next success
 *              clears it (wsla_first_aid_clear);
 *   OWNED      the shim has served memory of its own (stitched, spilled),
 *              which a free must give back itself: set at the first, kept.
 * The bits from WSLA_GATE_EPOCH up count probes begun: an allocation that
 * read the gate before a probe began, and then ran out of memory, sees the
 * word moved and is retried once, after the probe (budget.h).
 */
enum {
  WSLA_GATE_BUDGET = 1,
  WSLA_GATE_PROBE = 2,
  WSLA_GATE_UNREADY = 4,
  WSLA_GATE_RECOVER = 8,
  WSLA_GATE_STITCH = 16,
  WSLA_GATE_RESERVE = 32,
  WSLA_GATE_FIRST_AID = 64,
  WSLA_GATE_OWNED = 128,
  WSLA_GATE_FLAGS = 255,
  WSLA_GATE_EPOCH = 256,
};
extern int wsla_gate_word;

/* Sets or clears a flag of the gate word.  Release: pairs with the acquire
   load in wsla_gate, so that a hook that sees the flag clear sees what was
   set up before it was cleared (the recording, for UNREADY). */
static inline void wsla_gate_set(int flag) {
  __atomic_fetch_or(&wsla_gate_word, flag, __ATOMIC_RELEASE);
}
static inline void wsla_gate_clear(int flag) {
  __atomic_fetch_and(&wsla_gate_word, ~flag, __ATOMIC_RELEASE);
}
static inline int wsla_gate(void) {
  /* Acquire: pairs with wsla_gate_set/clear and the probe's
     read-modify-writes of the word. */
  return __atomic_load_n(&wsla_gate_word, __ATOMIC_ACQUIRE);
}

extern __thread struct wsla_tls wsla_tls __attribute__((tls_model("initial-exec")));

/* --- the per-thread device cache (track.c holds the generation) --- */

enum { WSLA_CACHE_CUDA = 0, WSLA_CACHE_HIP = 1 };

/* Bumped after every context-changing call a hook sees (cudaSetDevice,
   cuCtxSetCurrent, push and pop, context create and destroy, primary
   context release and reset, and HIP's), on whichever thread: every
   thread's cached device is then asked of the driver anew.  Starts at 1,
   so that a thread's zeroed cache is empty. */
extern unsigned long wsla_ctx_gen;

static inline void wsla_ctx_changed(void) {
  /* Relaxed: pairs with the relaxed load in wsla_device_cached.  A thread's
     own context change is ordered before its next allocation by program
     order; another thread's (a cuCtxDestroy of a context current here) by
     the client's own synchronisation between the two, which a relaxed load
     respects (coherence). */
  __atomic_fetch_add(&wsla_ctx_gen, 1, __ATOMIC_RELAXED);
}

/* True with *dev the calling thread's cached device of family fam (a
   WSLA_CACHE_*), while no context change has happened since it was asked;
   *gen is the generation to store a fresh answer under. */
static inline bool wsla_device_cached(int fam, int16_t *dev, unsigned long *gen) {
  /* Relaxed: pairs with the fetch-add in wsla_ctx_changed. */
  unsigned long g = __atomic_load_n(&wsla_ctx_gen, __ATOMIC_RELAXED);
  *gen = g;
  if (WSLA_LIKELY(wsla_tls.dev_cache[fam].gen == g)) {
    *dev = wsla_tls.dev_cache[fam].device;
    return true;
  }
  return false;
}

/* Stores the driver's answer, asked after gen was read: a change between
   the two leaves a generation already behind, asked again next time.
   Failures (-1: no context yet) are never cached, since the runtime makes
   its first context where the shim does not see it. */
static inline void wsla_device_note(int fam, unsigned long gen, int16_t dev) {
  if (dev < 0) {
    wsla_tls.dev_cache[fam].gen = 0;
    return;
  }
  wsla_tls.dev_cache[fam].device = dev;
  wsla_tls.dev_cache[fam].gen = gen;
}

/* --- set-up and teardown (init.c); the globals above are state.c's --- */

/* Slow path of wsla_proc_get: the first call in a process (or in a child
   after fork) creates the recording.  NULL when the shim records nothing. */
struct wsla_proc *wsla_proc_init(void);

/* The process's recording, creating it on first use; NULL: pass through. */
static inline struct wsla_proc *wsla_proc_get(void) {
  /* Acquire pairs with the release store that publishes wsla_g in
     wsla_proc_init, so every field of wsla_g is visible here. */
  if (WSLA_LIKELY(__atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE) == 1))
    return &wsla_g;
  return wsla_proc_init();
}

/* The calling thread's id, asked of the kernel and cached (state.c): the
   slow path of wsla_tid. */
pid_t wsla_tid_slow(void);

/* --- the recording file (recording.c) --- */

/* Lays out, creates (or, failing that, maps anonymously) and maps p's
   recording and fills its header; false if no memory could be had. */
bool wsla_recording_open(struct wsla_proc *p);

/* Records how the process ends (an enum wsla_end, an exit status, a
   signal); false if nothing was recorded (no recording, or an end already
   marked).  Async-signal-safe.  wsla_recording_unmark_end takes the mark
   back: the process survived a signal it was marked as dying of. */
bool wsla_recording_mark_end(uint32_t state, int code, int sig);
void wsla_recording_unmark_end(void);

/* A child after fork: the environment's lock is made anew, and the pid
   namespace read again. */
void wsla_recording_reset_after_fork(void);

/* Appends "key=value\n" lines to the recording's environment. */
void wsla_environment_add(struct wsla_proc *p, const char *lines);

/* exec (exec.c): marks the recording ended by exec of what, if this
   process made it (not a vfork child sharing its memory); true if marked.
   wsla_exec_failed takes the mark back when the exec returned. */
bool wsla_exec_begin(const char *what);
void wsla_exec_failed(void);

/* --- modules (modules.c) --- */

/* Records modules loaded since the last call; cheap when none were. */
void wsla_modules_refresh(struct wsla_proc *p);
/* A child after fork: every module is recorded anew, into its own file. */
void wsla_modules_reset_after_fork(void);

/* --- pruning (prune.c) --- */

/* WSLALLOC_KEEP: deletes the recordings of ended processes in the
   directory dfd beyond the number kept, never own; counts what it deleted
   into pruned[0] (clean ends) and pruned[1] (failures). */
void wsla_prune_recordings(int dfd, const char *own, uint64_t pruned[2]);

/* --- first aid (first_aid.c) --- */

/* Composes the explanation of an OOM that the process may die of. */
void wsla_first_aid_note(struct wsla_proc *p, const struct wsla_oom *o);
/* Writes it to stderr if the last OOM was not followed by a success and
   WSLALLOC_QUIET is off; async-signal-safe when from_signal. */
void wsla_first_aid_print(bool from_signal);

/* A success after an OOM: the client dealt with it (PyTorch frees its cache
   and retries), so a later death is not of that OOM.  The OOM pending is
   the gate's FIRST_AID flag (one word: a clear racing an OOM's set leaves
   the flag as one of the two made it, never half), so only the general
   path, which that flag sends every call to, pays this. */
static inline void wsla_first_aid_clear(void) {
  if (WSLA_UNLIKELY(wsla_gate() & WSLA_GATE_FIRST_AID)) wsla_gate_clear(WSLA_GATE_FIRST_AID);
}

/* A child after fork: a lock another thread held at the fork is made anew. */
void wsla_first_aid_reset_after_fork(void);

/* --- other programs on the device (others.c) --- */

/* Lists, into OOM record idx's others slot, the other programs NVML says
   hold memory on device; before the record's own commit.  The failure
   path only: it may load NVML and take milliseconds (OOMs within a second
   on one device share a look).  CUDA's APIs only: NVML is NVIDIA's.  Also
   writes the record's adapter LUID, where the driver gives it. */
void wsla_others_note(struct wsla_proc *p, uint64_t idx, int device, uint16_t api);
/* A child after fork: a lock another thread held at the fork is made anew. */
void wsla_others_reset_after_fork(void);
/* For the first aid of OOM record o: line, "others hold 3.00 GiB: chrome
   2.00 GiB, blender 1.00 GiB" (or their names alone where no figure was
   given), and named, the sized part for the fix; both "" when none. */
void wsla_others_first_aid(struct wsla_proc *p, const struct wsla_oom *o, char *line, size_t llen,
                           char *named, size_t nlen);

/* --- OOM stacks (stack.c) --- */

/* Records the calling thread's stack for OOM record idx, from site (the
   client's return address) outward; before the record's own commit. */
void wsla_oom_stack_note(struct wsla_proc *p, uint64_t idx, uint64_t site);

/* WSLALLOC_STACKS: the index + 1 of the calling thread's stack from site
   (the client's return address) outward, stored once in the recording's
   stacks; 0 where the table is full or nothing could be unwound. */
uint16_t wsla_stack_intern(struct wsla_proc *p, uint64_t site);
/* A child after fork: the stacks are its own recording's from now on. */
void wsla_stack_reset_after_fork(void);

/* This process's live device memory on device that has a stack, summed by
   what it is for (the phase its stack names), largest first, into out;
   how many.  For the first aid: a scan of the live slots, at an OOM only. */
struct wsla_purpose_sum {
  const char *label;
  uint64_t bytes;
};
size_t wsla_purposes_live(struct wsla_proc *p, int device, struct wsla_purpose_sum *out,
                          size_t max);

/* What the program was doing at OOM record idx, from the exported
   functions on its stack (the shim has no debug information to read);
   NULL if none tells. */
struct wsla_phase;
const struct wsla_phase *wsla_oom_stack_phase(struct wsla_proc *p, uint64_t idx);

/* --- diagnostics (diag.c) --- */

/* "wslalloc: <msg>\n" on stderr unless WSLALLOC_QUIET; once per *flag. */
void wsla_warn_once(int *flag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- symbol resolution (resolve.c) --- */

enum wsla_lib { WSLA_LIB_CUDART, WSLA_LIB_HIP, WSLA_LIB_CUDA, WSLA_LIB_NVML };

/* Finds the client's real `name` in lib, wherever that library was loaded
   (global scope, or a dlopen(RTLD_LOCAL) namespace), never the shim's own.
   Publishes it in *slot on success.  NULL if no loaded library has it. */
void *wsla_resolve(void **slot, enum wsla_lib lib, const char *name);

/* A library was unloaded (dlclose): every slot of the section above goes
   back to NULL, so that each is found again, wherever its library is now,
   before it is next called.  Never on the path of an allocation. */
void wsla_resolve_forget(void);

/* glibc's own dlsym, never the shim's hook.  RTLD_NEXT through it means
   "after libwslalloc", since glibc judges by the caller's address. */
WSLA_NO_SANITIZE void *(*wsla_libc_dlsym(void))(void *, const char *);

static inline void *wsla_real(void **slot, enum wsla_lib lib,
                              const char *name) {
  /* Acquire pairs with the release store in wsla_resolve. */
  void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (WSLA_LIKELY(fn != NULL)) return fn;
  return wsla_resolve(slot, lib, name);
}

/* Every resolved slot lives in one section, so that all of them can be
   cleared when a library is unloaded (wsla_resolve_forget) at no cost to
   the calls that read them.  Pointer-sized entries only. */
#define WSLA_SLOT __attribute__((section("wsla_real_slots")))
/* The real name, from its slot: one per line of interpose/hooks.def, declared
   by real.h.  lib must be the library the list finds name in; a call that
   names another does not compile. */
#define WSLA_REAL(lib, name)                                                   \
  ((__typeof__(real_##name))wsla_real(                                         \
      (void **)&real_##name, WSLA_REAL_LIB(lib, wsla_lib_of_##name), #name))
#define WSLA_REAL_LIB(lib, listed)                                             \
  ((void)sizeof(struct {                                                       \
     _Static_assert((int)(lib) == (int)(listed), "not the library hooks.def names"); \
     int unused_;                                                              \
   }),                                                                         \
   (enum wsla_lib)(listed))

/* --- live table (table.c) --- */

struct wsla_entry {
  uint64_t size;
  uint16_t api;
  int16_t device;
  uint16_t flags;
  uint16_t stack; /* its allocation stack's index + 1; 0: none */
};

/* Inserts addr; an older entry for the same address (freed by a path the
   shim does not see) is returned in *stale, and true, so that the caller
   can retire its bytes.  Writes the live slot for post-mortem readers. */
bool wsla_table_put(struct wsla_proc *p, uint64_t addr,
                    const struct wsla_entry *e, uint64_t site,
                    uint64_t time_ns, uint64_t seq, bool *inserted,
                    struct wsla_entry *stale);

/* Removes addr and returns its entry; false if the shim never saw it. */
bool wsla_table_take(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e);

/* The same from a signal handler that interrupted this thread in a hook:
   false also where the interrupted code holds addr's shard, whose lock it
   could never have back. */
bool wsla_table_take_nested(struct wsla_proc *p, uint64_t addr, struct wsla_entry *e);

/* Forgets every entry: the state of a child after fork. */
void wsla_table_reset_after_fork(void);

/* The live slots past p->live: the region the table grew when full (in the
   recording too, at live2_off), or NULL with *cap 0. */
const struct wsla_live *wsla_table_more(uint64_t *cap);

/* --- the clock (clock.c) --- */

/* The recording's clock (clock.c): chosen before its first event, the same
   for every event after.  Sets p's clock and time 0, and h's record of
   them (start_realtime_ns, start_monotonic_ns, the TSC's calibration). */
void wsla_clock_start(struct wsla_proc *p, struct wsla_header *h);

/* Nanoseconds since the recording started, in its one clock: the
   time-stamp counter converted, or CLOCK_MONOTONIC (vDSO, no syscall). */
static inline uint64_t wsla_now(const struct wsla_proc *p) {
#if defined(__x86_64__)
  if (WSLA_LIKELY(p->tsc_mult)) {
    /* A core whose counter is a few ticks behind the one that started the
       recording reads 0, not a time before the start.  A counter far
       behind (one that jumped back) reads 0 until it catches up: times
       stand still then, but nothing waits on them (the recovery ladder's
       wait keeps CLOCK_MONOTONIC's time). */
    int64_t ticks = (int64_t)(__builtin_ia32_rdtsc() - p->tsc_base);
    return ticks > 0 ? (uint64_t)(((unsigned __int128)ticks * p->tsc_mult) >> 32) : 0;
  }
#endif
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
                    p->start_mono_ns);
}

/* --- accounting (track.c, and the ring writer inline here) --- */

static inline uint32_t wsla_tid(void) {
  pid_t t = wsla_tls.tid;
  return (uint32_t)(WSLA_LIKELY(t) ? t : wsla_tid_slow());
}

#define WSLA_RELAXED_STORE(field, value)                                       \
  __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

/* Zeroes a commit word so that no later store of the payload can be seen
   before it.  A release fence after a relaxed store does that for free on
   x86-64 (it only restrains the compiler); ThreadSanitizer cannot model
   fences, so its builds use an acquire-release exchange, which gives the
   same order at the cost of one locked instruction. */
#if defined(__SANITIZE_THREAD__)
#define WSLA_INVALIDATE(word)                                                  \
  ((void)__atomic_exchange_n(&(word), 0, __ATOMIC_ACQ_REL))
#else
#define WSLA_INVALIDATE(word)                                                  \
  (WSLA_RELAXED_STORE(word, 0), __atomic_thread_fence(__ATOMIC_RELEASE))
#endif

/* Claims the next ring slot: its sequence number, for wsla_emit_at. */
static inline uint64_t wsla_claim(struct wsla_proc *p) {
  return __atomic_fetch_add(&p->ctr->events_claimed, 1, __ATOMIC_RELAXED);
}

/*
 * Writes one event into the slot claimed as seq, and returns seq.
 * Lock-free: a slot being written shows a commit word of 0 until its
 * payload is complete.  The slot may have been claimed long before (a free
 * claims before the real free, which may wait for the device); if the ring
 * lapped it meanwhile, the newer event there is lost, not torn: the commit
 * word is zeroed before the payload is touched, and a reader keeps only a
 * commit word it expects.
 */
static inline uint64_t wsla_emit_at(struct wsla_proc *p, uint64_t seq, uint16_t type,
                                    uint16_t api, int16_t device, uint16_t flags,
                                    int32_t result, uint64_t addr, uint64_t size,
                                    uint64_t site, uint64_t aux, uint64_t t) {
  struct wsla_event *e = &p->ring[seq & p->ring_mask];
  /* Pairs with the reader's acquire fence before it re-reads commit: a
     reader that saw any byte of this payload sees commit 0 (or our final
     value) on the re-read, never the previous lap's value. */
  WSLA_INVALIDATE(e->commit);
  WSLA_RELAXED_STORE(e->time_ns, t);
  WSLA_RELAXED_STORE(e->addr, addr);
  WSLA_RELAXED_STORE(e->size, size);
  WSLA_RELAXED_STORE(e->site, site);
  WSLA_RELAXED_STORE(e->aux, aux);
  WSLA_RELAXED_STORE(e->tid, wsla_tid());
  WSLA_RELAXED_STORE(e->result, result);
  WSLA_RELAXED_STORE(e->type, type);
  WSLA_RELAXED_STORE(e->api, api);
  WSLA_RELAXED_STORE(e->device, device);
  WSLA_RELAXED_STORE(e->flags, flags);
  /* Release: pairs with the reader's acquire load of commit, so a reader
     that sees seq + 1 sees the whole payload above. */
  __atomic_store_n(&e->commit, seq + 1, __ATOMIC_RELEASE);
  return seq;
}

/* Appends one event to the ring and returns its sequence number. */
static inline uint64_t wsla_emit(struct wsla_proc *p, uint16_t type,
                                 uint16_t api, int16_t device, uint16_t flags,
                                 int32_t result, uint64_t addr, uint64_t size,
                                 uint64_t site, uint64_t aux, uint64_t t) {
  return wsla_emit_at(p, wsla_claim(p), type, api, device, flags, result, addr,
                      size, site, aux, t);
}

/*
 * What a free takes out of the live table before the real free: the entry,
 * and the ring slot its event will fill.  The slot is claimed before the
 * real free gives the address back, so in sequence order the free comes
 * before any allocation of that address another thread is handed next; a
 * replay or a reader pairing by address stays right under many threads.
 */
struct wsla_taken {
  struct wsla_entry e;
  uint64_t seq; /* the claimed slot, where had */
  bool had;     /* the shim saw the allocation */
};

static inline void wsla_take(struct wsla_proc *p, uint64_t addr, struct wsla_taken *t) {
  t->had = p && addr && wsla_table_take(p, addr, &t->e);
  if (t->had) t->seq = wsla_claim(p);
}

/* A device view: what the driver or runtime says of a device's memory. */
struct wsla_view {
  uint64_t free_bytes, total_bytes, time_ns;
  uint16_t source; /* enum wsla_view_source */
};

struct wsla_ladder;

/* The outcome of one allocation call, for wsla_track_alloc. */
struct wsla_call {
  uint16_t api;
  int16_t device;  /* -1 unknown; ignored for host memory */
  uint16_t flags;  /* enum wsla_flags */
  int32_t result;  /* the API's return code */
  bool ok;         /* result means success */
  bool oom;        /* result means out of memory */
  uint64_t addr;   /* on success */
  uint64_t size;   /* as requested */
  uint64_t site;
  uint64_t time_ns; /* wsla_now() when the real call returned */
  uint16_t cause;   /* enum wsla_oom_cause, for an OOM */
  /* When the first attempt ran out of memory and WSLALLOC_RECOVER retried:
     the steps taken; ok and oom then describe the last retry. */
  const struct wsla_ladder *ladder;
  uint64_t largest_block; /* WSLALLOC_PROBE's finding at an OOM, or 0 */
  uint64_t pool_cached;   /* at an OOM: the default pool's unused memory */
};

/* Records an allocation call: success, OOM (view may be NULL) or failure. */
void wsla_track_alloc(struct wsla_proc *p, const struct wsla_call *c,
                      const struct wsla_view *view);

/* Records a free call whose entry (if any) was taken before the real free.
   On failure the entry is put back, so a refused free changes nothing. */
void wsla_track_free(struct wsla_proc *p, uint16_t api, int32_t result,
                     bool ok, uint64_t addr, const struct wsla_taken *taken,
                     uint64_t site, uint64_t t);

/* Retires an entry already taken from the table, counting no call, its
   event in slot seq (claimed by the caller): the memory of a VMM handle
   goes when its last mapping does. */
void wsla_track_retire(struct wsla_proc *p, uint16_t api, uint64_t addr,
                       const struct wsla_entry *taken, uint64_t seq,
                       uint64_t site, uint64_t t);

/* Counts a call that allocates nothing (a query). */
static inline void wsla_track_call(struct wsla_proc *p, uint16_t api, bool ok) {
  __atomic_fetch_add(&p->ctr->api[api].calls, 1, __ATOMIC_RELAXED);
  if (!ok) __atomic_fetch_add(&p->ctr->api[api].failed, 1, __ATOMIC_RELAXED);
}

/* True when device dev's view is older than the sampling period; claims
   the sample so that one thread takes it. */
bool wsla_sample_claim(struct wsla_proc *p, int dev, uint64_t now);

/* Stores a view as the device's latest and appends a SAMPLE event. */
void wsla_sample_store(struct wsla_proc *p, int dev, const struct wsla_view *v);

#endif
