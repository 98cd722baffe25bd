/* Memory the shim serves itself: stitched from chunks, or spilled to host. */
#ifndef WSLA_STITCH_H
#define WSLA_STITCH_H

#include "spill.h"

/* Serves size on device from physical chunks (cuMemCreate or hipMemCreate,
   halving the
   chunk size down to the granularity as the device refuses) mapped back to
   back into one reserved range; the current context must be the device's.
   True with *va and *chunks set; false, with everything given back. */
bool wsla_stitch_alloc(enum wsla_lib family, int device, uint64_t size,
                       uint64_t *va, unsigned *chunks);

/* If addr is a stitched allocation: waits for the device, unmaps and
   releases its chunks and frees its range, and returns true.  Such memory
   never reaches the runtime's free. */
bool wsla_stitch_free(uint64_t addr);


/* Frees addr if the shim owns it (stitched or spilled; it never reaches
   the runtime's free then), and says whether it did. */
static inline bool wsla_free_if_own(uint64_t addr) {
  if (WSLA_LIKELY(!__atomic_load_n(&wsla_owned_live, __ATOMIC_RELAXED)))
    return false;
  return wsla_stitch_free(addr) || wsla_spill_free(addr);
}

#endif
