/* Stitching: one device pointer over several physical chunks, where no single block is large enough. */
#ifndef WSLA_STITCH_H
#define WSLA_STITCH_H

#include "owned.h"

/* Serves size on device from physical chunks (cuMemCreate or hipMemCreate,
   halving the chunk size down to the granularity as the device refuses)
   mapped back to back into one reserved range; the current context must be
   the device's.  True with *va and *chunks set; false, with everything
   given back.  Its free comes back through wsla_free_if_own. */
bool wsla_stitch_alloc(enum wsla_lib family, int device, uint64_t size,
                       uint64_t *va, unsigned *chunks);

#endif
