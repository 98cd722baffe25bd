/* Spill: device requests served from mapped pinned host memory (WSLALLOC_SPILL=host). */
#ifndef WSLA_SPILL_H
#define WSLA_SPILL_H

#include "owned.h"

/* Serves size from a mapped pinned host block within WSLALLOC_PINNED_LIMIT.
   True with *dptr, the block's device pointer, set. */
bool wsla_spill_alloc(struct wsla_proc *p, enum wsla_lib family,
                      uint64_t size, uint64_t *dptr);

#endif
