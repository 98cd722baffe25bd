/* Stitching: one device pointer over several physical chunks, where no single block is large enough. */
#ifndef WSLA_STITCH_H
#define WSLA_STITCH_H

#include "shim.h"

/* Stitched allocations alive now: frees look them up only when any is. */
extern int wsla_stitched_live;

/* Serves size on device from physical chunks (cuMemCreate, halving the
   chunk size down to the granularity as the device refuses) mapped back to
   back into one reserved range; the current context must be the device's.
   True with *va and *chunks set; false, with everything given back. */
bool wsla_stitch_alloc(int device, uint64_t size, uint64_t *va,
                       unsigned *chunks);

/* If addr is a stitched allocation: waits for the device, unmaps and
   releases its chunks and frees its range, and returns true.  Such memory
   never reaches the runtime's free. */
bool wsla_stitch_free(uint64_t addr);

/* Is addr a stitched allocation's start? */
static inline bool wsla_stitched(uint64_t addr) {
  bool wsla_stitch_owns(uint64_t addr);
  return WSLA_UNLIKELY(__atomic_load_n(&wsla_stitched_live, __ATOMIC_RELAXED) != 0) &&
         wsla_stitch_owns(addr);
}

#endif
