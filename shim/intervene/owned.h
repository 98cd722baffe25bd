/* Owned memory: allocations the shim serves itself (stitched, spilled), by the device address the client holds. */
#ifndef WSLA_OWNED_H
#define WSLA_OWNED_H

#include <uthash.h>

#include "shim.h"

enum wsla_owned_kind { WSLA_OWNED_STITCHED = 1, WSLA_OWNED_SPILLED = 2 };

/* The first member of each kind's record. */
struct wsla_owned {
  uint64_t addr;
  uint8_t kind; /* enum wsla_owned_kind */
  UT_hash_handle hh;
};

/* Owned allocations alive now: frees look them up only while there is any. */
extern int wsla_owned_live;

void wsla_owned_put(struct wsla_owned *o);
/* Removes and returns addr's record; NULL if the shim does not own it. */
struct wsla_owned *wsla_owned_take(uint64_t addr);

/* pthread_atfork's handlers for the table (init.c registers them). */
void wsla_owned_fork_prepare(void);
void wsla_owned_fork_parent(void);
void wsla_owned_fork_child(void);

/* Each kind's way of giving one back (stitch.c, spill.c). */
void wsla_stitch_release(struct wsla_owned *o);
void wsla_spill_release(struct wsla_owned *o);

/* Whether the shim owns any allocation now: a free's fast path is only
   for memory it does not. */
static inline bool wsla_owned_any(void) {
  return __atomic_load_n(&wsla_owned_live, __ATOMIC_RELAXED) != 0;
}

/* Frees addr if the shim owns it (it never reaches the runtime's free
   then), and says whether it did. */
static inline bool wsla_free_if_own(uint64_t addr) {
  if (WSLA_LIKELY(!wsla_owned_any())) return false;
  struct wsla_owned *o = wsla_owned_take(addr);
  if (!o) return false;
  if (o->kind == WSLA_OWNED_STITCHED) wsla_stitch_release(o);
  else wsla_spill_release(o);
  return true;
}

#endif
