/* Ballast: WSLALLOC_RESERVE's block, held for the client and given back when it runs out. */
#ifndef WSLA_BALLAST_H
#define WSLA_BALLAST_H

#include "shim.h"

/* After a device allocation on dev succeeded: takes the ballast at the
   device's first use, or again once free_b (0: not known now) leaves room
   for it twice over after the ladder gave it back. */
void wsla_ballast_tend(struct wsla_proc *p, enum wsla_lib family, int dev,
                       uint64_t free_b);

/* The ladder's reserve step: gives dev's ballast back; false if none held. */
bool wsla_ballast_release(struct wsla_proc *p, enum wsla_lib family, int dev);

/* The ballast held on dev now, for telling it from others' memory. */
uint64_t wsla_ballast_on(int dev);

void wsla_ballast_reset_after_fork(void);

#endif
