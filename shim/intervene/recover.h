/* Recovery: the ladder of steps WSLALLOC_RECOVER climbs after an out-of-memory failure. */
#ifndef WSLA_RECOVER_H
#define WSLA_RECOVER_H

#include "shim.h"

/* What wsla_ladder_next asks of the caller. */
enum wsla_ladder_move {
  WSLA_LADDER_DONE = 0,   /* nothing left to try: the failure stands */
  WSLA_LADDER_RETRY = 1,  /* retry the same call */
  WSLA_LADDER_SERVED = 2, /* a step served the request: use l->served */
};

struct wsla_ladder {
  struct wsla_proc *p;
  enum wsla_lib family; /* WSLA_LIB_CUDA (runtime or driver) or WSLA_LIB_HIP */
  int device;
  uint64_t size;
  int next;             /* index of the next step */
  uint16_t current;     /* the step just taken */
  uint16_t tried, ok, skipped;
  uint64_t deadline_ns; /* of the wait step, on CLOCK_MONOTONIC */
  uint64_t backoff_ms;
  struct wsla_view view; /* the device at the first failure */
  uint64_t ballast;      /* the shim's ballast held then, part of "used" */
  uint64_t pool_cached;  /* the default pool's unused memory then, too */
  bool have_view;
  bool can_stitch;       /* the caller can take a served pointer */
  uint64_t served;       /* the served allocation, for SERVED */
  uint16_t served_flags; /* enum wsla_flags of it (WSLA_F_SPILLED...) */
};

/* After a failed allocation of size on device: notes the device's state. */
void wsla_ladder_begin(struct wsla_ladder *l, struct wsla_proc *p,
                       enum wsla_lib family, int device, uint64_t size);

/* Takes the next step (or the next round of waiting) and says what the
   caller is to do (enum wsla_ladder_move). */
int wsla_ladder_next(struct wsla_ladder *l);

/* The final retry's outcome. */
void wsla_ladder_end(struct wsla_ladder *l, bool ok);

/* The memory device's default stream-ordered pool holds but does not use
   (freed by the program, not given back), 0 if unknown: this process's,
   though no allocation of it is live.  Queries that change nothing; on HIP
   they set the thread's status, which the caller restores. */
uint64_t wsla_pool_cached(enum wsla_lib family, int device);

/* WSLALLOC_PROBE: the largest block device can give now, found by halving
   with real allocations freed at once, within [0, most]; 0 when not
   probed (off, a capture running, nothing to search, another probe
   running, or stopped because another thread began a device allocation). */
uint64_t wsla_probe_largest(enum wsla_lib family, int device, uint64_t most);
/* A child after fork: no probe runs in it. */
void wsla_probe_reset_after_fork(void);

#endif
