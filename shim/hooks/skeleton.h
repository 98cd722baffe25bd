/* One skeleton per hook kind (device allocation, host allocation, free, context change, a counted call), parameterised by the API family that includes it. */
#ifndef WSLA_SKELETON_H
#define WSLA_SKELETON_H

#include "budget.h"
#include "fast.h"
#include "hooks.h"
#include "owned.h"
#include "recover.h"

/*
 * The family's part.  A hooks file defines, before it uses a skeleton:
 *
 *   HOOK_T, HOOK_OK, HOOK_OOM    its return type, success and out-of-memory codes
 *   HOOK_LIB                     the library its real functions are found in
 *   HOOK_FAMILY                  the family the intervening parts work with
 *                                (WSLA_LIB_CUDA for both CUDA layers, or HIP)
 *   HOOK_FUNCTION(name, params, args) { body }
 *   HOOK_FREE_FUNCTION(name, params, args, addr) { body }
 *                                the exported function, its body given the
 *                                client's call site as site_; optional: by
 *                                default the body is inlined into the export
 *                                (below; the driver's are thin entries:
 *                                nested, they only jump)
 *
 * and these static functions, its operations (each inline where cheap):
 *
 *   HOOK_T family_missing(const char *name)
 *       the answer when no loaded library has the real function;
 *   int16_t family_device_before(struct wsla_proc *p, uint64_t size)
 *       the device, where the family must know it before the call (HIP,
 *       whose every call sets the last error), or -1;
 *   bool family_fast_before(uint64_t size, int16_t *device)
 *       the same for the fast path: false sends the call the general way;
 *   int16_t family_fast_device(int16_t before)
 *       the allocation's device on the fast path, after the call;
 *   uint16_t family_refusal(struct wsla_proc *p, uint16_t flags, int16_t device, uint64_t size)
 *       a budget's verdict on the request (budget.h; 0: go ahead);
 *   HOOK_T family_refuse(void)
 *       the refusal as the family itself would fail the call;
 *   HOOK_T family_pending_error(void)
 *       the error pending before the call, for a rescue to leave it as is;
 *   void family_retried(HOOK_T rc)
 *       after a call retried because a probe ran meanwhile;
 *   void family_after_ladder(bool ok, HOOK_T prior)
 *       after the recovery ladder, rescued or not;
 *   int16_t family_ladder_device(int16_t before)
 *       the device the ladder works on;
 *   bool family_forced_stitch(struct wsla_proc *p, uint64_t size, uint64_t *va)
 *       WSLALLOC_STITCH=force serving the request itself;
 *   void family_done_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
 *                          int16_t device, HOOK_T rc, uint64_t addr, uint64_t size,
 *                          uint64_t site, uint16_t cause, const struct wsla_ladder *ladder)
 *       records an allocation's outcome the general way;
 *   bool family_free_own(uint64_t addr, bool outer)
 *       frees addr if the shim owns it;
 *   void family_done_free(struct wsla_proc *p, uint16_t api, HOOK_T rc, uint64_t addr,
 *                         const struct wsla_taken *taken, uint64_t site)
 *       records a free's outcome the general way.
 */

/* The parameter list with the call site in front, and the matching
   arguments, for a body kept apart from its exported entry. */
#define HOOK_SITE_PARAM(...) (uint64_t site_ __attribute__((unused)), __VA_ARGS__)
#define HOOK_SITE_ARG(...) ((uint64_t)(uintptr_t)__builtin_return_address(0), __VA_ARGS__)
#define HOOK_WITH_SITE(...) (site_, __VA_ARGS__)

/* The default entry: the exported function is the hook, its body inlined
   into it, so that the call site is the client's. */
#ifndef HOOK_FUNCTION
#define HOOK_FUNCTION(name, params, args)                                                         \
  static inline __attribute__((always_inline)) HOOK_T name##_body HOOK_SITE_PARAM params;         \
  WSLA_EXPORT HOOK_T name params { return name##_body HOOK_SITE_ARG args; }                       \
  static inline __attribute__((always_inline)) HOOK_T name##_body HOOK_SITE_PARAM params
#endif
#ifndef HOOK_FREE_FUNCTION
#define HOOK_FREE_FUNCTION(name, params, args, addr) HOOK_FUNCTION(name, params, args)
#endif

/* The address an out-parameter holds after a successful call, whatever its
   type (a pointer, or the driver's CUdeviceptr); and a served address
   stored there. */
#define HOOK_OUT_ADDR(rc, out) ((rc) == HOOK_OK && (out) ? (uint64_t)(uintptr_t)*(out) : 0)
#define HOOK_SERVE(out, va) (*(out) = (__typeof__(*(out)))(uintptr_t)(va))

/* The real function, or the family's answer when no library has it. */
#define HOOK_REAL_OR_MISSING(name)                                             \
  __typeof__(real_##name) real = WSLA_REAL(HOOK_LIB, name);                    \
  if (WSLA_UNLIKELY(!real)) return family_missing(#name)

/*
 * A device allocation: out receives the address (NULL where the call has
 * none to serve), size is the request as judged before the call and held
 * what the client holds after it (the two differ for pitched memory; held
 * may read rc), and can_serve whether the ladder's stitch step may serve it.
 *
 * The fast path (fast.h) is the whole hook while the gate word says
 * nothing but, at most, WSLALLOC_RECOVER: the real call and an inline
 * record.  The general path applies, in this order, the device the family
 * must know first, the budget (which a running probe is waited for), a
 * forced stitch and the real call.  Both end in name##_after, out of line,
 * for what follows a call the fast record does not take: one retry if a
 * probe ran meanwhile, the recovery ladder, and the general record.
 */
#define HOOK_AFTER_PARAM(...)                                                                     \
  (uint64_t site_, struct wsla_proc *p, HOOK_T rc, int gate, HOOK_T prior, int16_t device,        \
   uint16_t refused, __VA_ARGS__)
#define HOOK_AFTER_ARG(...) (site_, p, rc, gate, prior, device, refused, __VA_ARGS__)
#define HOOK_DEVICE_ALLOC(name, api, flags, params, args, out, size, held, can_serve)            \
  static __attribute__((noinline)) HOOK_T name##_after HOOK_AFTER_PARAM params {                  \
    /* Called only after the real function was: its slot is filled. */                          \
    __typeof__(real_##name) real = WSLA_REAL(HOOK_LIB, name);                                     \
    if (WSLA_UNLIKELY(rc == HOOK_OOM) && !refused && wsla_probe_overlapped(gate)) {               \
      rc = real args;                                                                             \
      family_retried(rc);                                                                         \
    }                                                                                             \
    struct wsla_ladder ladder;                                                                    \
    const struct wsla_ladder *laddered = NULL;                                                    \
    if (WSLA_UNLIKELY(rc == HOOK_OOM && !refused && p && wsla_opts.recover.num)) {                \
      wsla_ladder_begin(&ladder, p, HOOK_FAMILY, family_ladder_device(device), (size));           \
      ladder.can_stitch = (can_serve) && (out) != NULL;                                           \
      for (int move; rc == HOOK_OOM && (move = wsla_ladder_next(&ladder)) != WSLA_LADDER_DONE;)   \
        rc = move == WSLA_LADDER_SERVED ? (HOOK_SERVE(out, ladder.served), HOOK_OK) : real args;  \
      wsla_ladder_end(&ladder, rc == HOOK_OK);                                                    \
      laddered = &ladder;                                                                         \
      family_after_ladder(rc == HOOK_OK, prior);                                                  \
    }                                                                                             \
    if (p)                                                                                        \
      family_done_alloc(p, (api), (flags), device, rc, HOOK_OUT_ADDR(rc, out), (held), site_,     \
                        refused, laddered);                                                       \
    return rc;                                                                                    \
  }                                                                                               \
  static __attribute__((noinline)) HOOK_T name##_general HOOK_SITE_PARAM params {                 \
    HOOK_REAL_OR_MISSING(name);                                                                   \
    struct wsla_proc *p = hook_enter();                                                           \
    int16_t device = family_device_before(p, (size));                                             \
    HOOK_T prior = family_pending_error();                                                        \
    int gate = wsla_gate_pass();                                                                  \
    uint16_t refused = WSLA_UNLIKELY(gate & WSLA_GATE_BUDGET) && p                                \
                           ? family_refusal(p, (flags), device, (size))                            \
                           : 0;                                                                   \
    uint64_t va_;                                                                                 \
    HOOK_T rc = refused ? family_refuse()                                                         \
                : (can_serve) && (out) && family_forced_stitch(p, (size), &va_)                   \
                    ? (HOOK_SERVE(out, va_), HOOK_OK)                                             \
                    : real args;                                                                  \
    rc = name##_after HOOK_AFTER_ARG args;                                                        \
    hook_leave();                                                                                 \
    return rc;                                                                                    \
  }                                                                                               \
  HOOK_FUNCTION(name, params, args) {                                                             \
    /* Acquire: pairs with the release store that fills the slot. */                             \
    __typeof__(real_##name) real = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);               \
    int gate;                                                                                     \
    int16_t device;                                                                               \
    if (WSLA_UNLIKELY(!real) || !wsla_fast_enter(&gate))                                          \
      return name##_general HOOK_WITH_SITE args;                                                  \
    if (!family_fast_before((size), &device)) {                                                   \
      wsla_fast_leave();                                                                          \
      return name##_general HOOK_WITH_SITE args;                                                  \
    }                                                                                             \
    /* A rescue must leave the last error as it was before the call. */                          \
    HOOK_T prior = WSLA_UNLIKELY(gate & WSLA_GATE_RECOVER) ? family_pending_error() : HOOK_OK;    \
    HOOK_T rc = real args;                                                                        \
    if (WSLA_UNLIKELY(rc != HOOK_OK) ||                                                           \
        !wsla_fast_alloc(&wsla_g, (api), (flags), family_fast_device(device),                     \
                         HOOK_OUT_ADDR(rc, out), (held), site_)) {                                \
      struct wsla_proc *p = &wsla_g;                                                              \
      uint16_t refused = 0;                                                                       \
      rc = name##_after HOOK_AFTER_ARG args;                                                      \
    }                                                                                             \
    wsla_fast_leave();                                                                            \
    return rc;                                                                                    \
  }

/* A host allocation (pinned memory) into out.  No fast path: pinned memory
   is rare and large. */
#define HOOK_HOST_ALLOC(name, api, params, args, out, size)                                       \
  HOOK_HOST_HOOK(name, api, WSLA_F_HOST, params, args, HOOK_OUT_ADDR(rc, out), size)

/* Registered memory: the client's own, whose three parameters every family
   spells alike. */
#define HOOK_HOST_REGISTER(name, api)                                                             \
  HOOK_HOST_HOOK(name, api, WSLA_F_HOST | WSLA_F_REGISTER,                                        \
                 (void *ptr, size_t size, unsigned int flags), (ptr, size, flags),                \
                 rc == HOOK_OK ? (uint64_t)(uintptr_t)ptr : 0, size)

/* Either: addr is the address held after the call (it may read rc). */
#define HOOK_HOST_HOOK(name, api, flags, params, args, addr, size)                                \
  HOOK_FUNCTION(name, params, args) {                                                             \
    HOOK_REAL_OR_MISSING(name);                                                                   \
    struct wsla_proc *p = hook_enter();                                                           \
    uint16_t refused = WSLA_UNLIKELY(wsla_gate() & WSLA_GATE_BUDGET) && p                         \
                           ? family_refusal(p, (flags), -1, (size))                                \
                           : 0;                                                                   \
    HOOK_T rc = refused ? family_refuse() : real args;                                            \
    if (p) family_done_alloc(p, (api), (flags), -1, rc, (addr), (size), site_, refused, NULL);    \
    hook_leave();                                                                                 \
    return rc;                                                                                    \
  }

/*
 * A free of addr.  The entry is taken before the real free (wsla_take);
 * memory the shim owns (stitched, spilled) never reaches the real free.
 * The fast path is for a free while the gate word holds none of
 * WSLA_GATE_SLOW (fast.h), which it does once the shim has owned any
 * memory (WSLA_GATE_OWNED).
 */
#define HOOK_FREE(name, api, params, args, addr_expr)                                             \
  static __attribute__((noinline)) HOOK_T name##_general HOOK_SITE_PARAM params {                 \
    HOOK_REAL_OR_MISSING(name);                                                                   \
    uint64_t addr = (uint64_t)(uintptr_t)(addr_expr);                                             \
    bool outer = wsla_tls.depth == 0;                                                             \
    struct wsla_taken taken;                                                                      \
    struct wsla_proc *p = hook_enter_free(addr, &taken);                                          \
    HOOK_T rc = family_free_own(addr, outer) ? HOOK_OK : real args;                               \
    if (p) family_done_free(p, (api), rc, addr, &taken, site_);                                   \
    hook_leave_free();                                                                            \
    return rc;                                                                                    \
  }                                                                                               \
  HOOK_FREE_FUNCTION(name, params, args, addr_expr) {                                             \
    /* Acquire: pairs with the release store that fills the slot. */                             \
    __typeof__(real_##name) real = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);               \
    int gate;                                                                                     \
    if (WSLA_UNLIKELY(!real) || !wsla_fast_enter(&gate))                                          \
      return name##_general HOOK_WITH_SITE args;                                                  \
    uint64_t addr = (uint64_t)(uintptr_t)(addr_expr);                                             \
    struct wsla_taken taken;                                                                      \
    wsla_fast_take(&wsla_g, addr, &taken);                                                        \
    HOOK_T rc = real args;                                                                        \
    if (WSLA_UNLIKELY(rc != HOOK_OK) || !wsla_fast_free(&wsla_g, (api), addr, &taken, site_))    \
      family_done_free(&wsla_g, (api), rc, addr, &taken, site_);                                  \
    wsla_fast_leave_free();                                                                       \
    return rc;                                                                                    \
  }

/* A stream-ordered hook and its per-thread-default-stream twin, name##_ptsz:
   one ABI, recorded under one id (hooks.def's WSLA_HOOK_PTSZ). */
#define HOOK_DEVICE_ALLOC_PTSZ(name, ...)                                                         \
  HOOK_DEVICE_ALLOC(name, __VA_ARGS__)                                                            \
  HOOK_DEVICE_ALLOC(name##_ptsz, __VA_ARGS__)
#define HOOK_FREE_PTSZ(name, ...) HOOK_FREE(name, __VA_ARGS__) HOOK_FREE(name##_ptsz, __VA_ARGS__)

/* A context change, passed through untouched and recorded nowhere: a
   success moves the context generation (shim.h), so that every thread asks
   for its device again before its next allocation.  The driver's, nested
   under a runtime call, only jump (driver.c says why), and move nothing. */
#define HOOK_CONTEXT(name, params, args)                                                          \
  HOOK_FUNCTION(name, params, args) {                                                             \
    HOOK_REAL_OR_MISSING(name);                                                                   \
    HOOK_T rc = real args;                                                                        \
    if (rc == HOOK_OK) wsla_ctx_changed();                                                        \
    return rc;                                                                                    \
  }

/* A call that allocates nothing: counted under WSLA_API_<name>, passed
   through, and its outcome handed to after (run while recording, with the
   call's arguments, p, rc and site_ in scope). */
#define HOOK_COUNTED(name, params, args, after)                                                   \
  HOOK_FUNCTION(name, params, args) {                                                             \
    HOOK_REAL_OR_MISSING(name);                                                                   \
    struct wsla_proc *p = hook_enter();                                                           \
    HOOK_T rc = real args;                                                                        \
    if (p) {                                                                                      \
      wsla_track_call(p, WSLA_API_##name, rc == HOOK_OK);                                         \
      after;                                                                                      \
    }                                                                                             \
    hook_leave();                                                                                 \
    return rc;                                                                                    \
  }

#endif
