/* Hook scaffolding shared by the API families: entering, leaving, and the call site. */
#ifndef WSLA_HOOKS_H
#define WSLA_HOOKS_H

#include "shim.h"

/* Enters a hook.  NULL means pass through unrecorded: the thread is already
   inside a hook (the runtime called its own export), or nothing records.
   Every hook_enter is matched by one hook_leave. */
static inline struct wsla_proc *hook_enter(void) {
  if (WSLA_UNLIKELY(wsla_tls.depth++ != 0)) return NULL;
  return wsla_proc_get();
}

/* A child forked inside a hook starts again at depth 0 (the shim's
   after-fork handler) and may still return through the hook it forked in. */
static inline void hook_leave(void) {
  if (WSLA_LIKELY(wsla_tls.depth > 0)) wsla_tls.depth--;
}

/*
 * Enters a free hook for addr and takes its entry (before the real free,
 * see wsla_take).  A free nested in another hook is usually the runtime's
 * own, inside the call being recorded (cudaFree reaching cuMemFree_v2, its
 * entry taken by the outer hook): it passes through, NULL.  One from a
 * signal handler that interrupted this thread in a hook is the client's,
 * and its block would otherwise stay live in the recording for ever: it is
 * recorded when the table has its address.  Its leave is hook_leave_free.
 */
static inline struct wsla_proc *hook_enter_free(uint64_t addr, struct wsla_taken *taken) {
  if (WSLA_LIKELY(wsla_tls.depth++ == 0)) {
    struct wsla_proc *p = wsla_proc_get();
    wsla_tls.freeing = addr;
    wsla_take(p, addr, taken);
    return p;
  }
  taken->had = false;
  /* Acquire pairs with the release store that publishes wsla_g; nested
     here, the outer hook made the recording already, if it could. */
  if (addr == wsla_tls.freeing || !addr ||
      __atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE) != 1 ||
      !wsla_table_take_nested(&wsla_g, addr, &taken->e))
    return NULL;
  taken->had = true;
  taken->seq = wsla_claim(&wsla_g);
  return &wsla_g;
}

static inline void hook_leave_free(void) {
  if (wsla_tls.depth == 1) wsla_tls.freeing = 0;
  hook_leave();
}

/* The calling thread's device of family fam (a WSLA_CACHE_*) asked anew
   through ask, the family's question (the device, or -1), and kept in the
   thread's device cache under the generation read before asking (shim.h). */
static inline int16_t hook_device_fresh(int fam, int (*ask)(void)) {
  int16_t dev;
  unsigned long gen;
  (void)wsla_device_cached(fam, &dev, &gen); /* the generation */
  int d = ask();
  dev = d >= 0 && d < INT16_MAX ? (int16_t)d : -1;
  wsla_device_note(fam, gen, dev);
  return dev;
}

/* The client's return address; valid only in the exported function itself. */
#define HOOK_SITE ((uint64_t)(uintptr_t)__builtin_return_address(0))

/* An out-parameter pointer read only when the call succeeded. */
#define HOOK_OUT(ok, pp) ((ok) && (pp) ? (uint64_t)(uintptr_t)*(pp) : 0)

/* width * height * depth, saturating instead of wrapping. */
static inline uint64_t hook_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* What a pitched allocation holds once made: pitch rows of height (times
   depth), the bytes the client may address and the device gave, not the
   width it asked for.  Before the call, or where it failed, the request. */
static inline uint64_t hook_pitched(bool ok, const size_t *pitch, uint64_t width,
                                    uint64_t rows) {
  return ok && pitch && *pitch >= width ? hook_mul(*pitch, rows) : hook_mul(width, rows);
}

#endif
