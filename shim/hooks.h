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

static inline void hook_leave(void) { wsla_tls.depth--; }

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
