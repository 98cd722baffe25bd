/* Spill: serves a failed device allocation from mapped pinned host memory, slow but alive. */
#include <stdlib.h>

#include "budget.h"
#include "family.h"
#include "spill.h"

/*
 * The Linux counterpart of the Windows driver's sysmem fallback, which WSL
 * processes cannot use: kernels reach the memory over the bus.  The client
 * holds the device pointer of a mapped pinned host block; its free comes
 * back here.
 */

struct spilled {
  struct wsla_owned owned; /* first: the registry's record */
  void *host;
  const struct wsla_family_ops *ops;
};

bool wsla_spill_alloc(struct wsla_proc *p, enum wsla_lib family,
                      uint64_t size, uint64_t *dptr) {
  /* The request now lands in pinned memory, not on the device: it gives
     up the device's reservation and holds one against the pinned limit
     until its call is counted (wsla_track_alloc releases it), as a plain
     pinned allocation does, so that spills racing in many threads cannot
     all pass the limit together. */
  wsla_budget_release();
  if (wsla_budget_refusal(p, true, -1, size)) return false;
  const struct wsla_family_ops *ops = wsla_family(family);
  struct spilled *s = calloc(1, sizeof *s);
  void *host;
  uint64_t d;
  if (!ops || !s || !ops->host_alloc_mapped(size, &host, &d)) {
    free(s);
    wsla_budget_release();
    return false;
  }
  s->owned.addr = d;
  s->owned.kind = WSLA_OWNED_SPILLED;
  s->host = host;
  s->ops = ops;
  wsla_owned_put(&s->owned);
  *dptr = d;
  return true;
}

void wsla_spill_release(struct wsla_owned *o) {
  struct spilled *s = (struct spilled *)o;
  /* Waits for the device, as the client's free would. */
  s->ops->synchronize();
  s->ops->host_free(s->host);
  free(s);
}
