/* Spill: device requests served from mapped pinned host memory (WSLALLOC_SPILL=host). */
#ifndef WSLA_SPILL_H
#define WSLA_SPILL_H

#include "shim.h"

/* Allocations the shim serves itself (stitched or spilled) alive now:
   frees look them up only while there is any. */
extern int wsla_owned_live;

/* Serves size from a mapped pinned host block within WSLALLOC_PINNED_LIMIT.
   True with *dptr, the block's device pointer, set. */
bool wsla_spill_alloc(struct wsla_proc *p, enum wsla_lib family,
                      uint64_t size, uint64_t *dptr);

/* If addr was served by a spill: gives the host block back, true. */
bool wsla_spill_free(uint64_t addr);

#endif
