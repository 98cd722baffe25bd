/* Stitching: serves a device allocation from smaller physical chunks mapped into one range. */
#include <stdlib.h>

#include "family.h"
#include "stitch.h"

/*
 * A stitched allocation is the shim's own: the client holds one ordinary
 * device pointer (kernels and copies see contiguous virtual memory), and
 * its free comes back here.  What cannot be done with it: IPC handles
 * (cudaIpcGetMemHandle wants memory from cudaMalloc), and anything that
 * asks the runtime what the pointer is (cudaPointerGetAttributes reports
 * VMM memory).  The CUDA side uses the driver, which keeps no last-error
 * state; on HIP the last call, when it works, is hipMemSetAccess, whose
 * success is the status a working allocation leaves.
 */

struct stitched {
  struct wsla_owned owned; /* first: the registry's record; owned.addr is va */
  uint64_t va, span;
  const struct wsla_family_ops *ops;
  unsigned n;
  uint64_t *handle;
  uint64_t *length;
};

/* Unmaps and releases the first s->n chunks and frees the range. */
static void give_back(struct stitched *s) {
  uint64_t off = 0;
  for (unsigned i = 0; i < s->n; i++) {
    s->ops->vmm_unmap(s->va + off, s->length[i]);
    s->ops->vmm_release(s->handle[i]);
    off += s->length[i];
  }
  s->ops->vmm_unreserve(s->va, s->span);
  free(s->handle);
  free(s->length);
  free(s);
}

bool wsla_stitch_alloc(enum wsla_lib family, int device, uint64_t size,
                       uint64_t *va, unsigned *chunks) {
  const struct wsla_family_ops *ops = wsla_family(family);
  uint64_t g;
  if (!ops || device < 0 || size == 0 || !ops->vmm_granularity(device, &g)) return false;
  struct stitched *s = calloc(1, sizeof *s);
  uint64_t span = (size + g - 1) / g * g, most = span / g;
  if (!s) return false;
  s->span = span;
  s->ops = ops;
  s->handle = calloc(most, sizeof *s->handle);
  s->length = calloc(most, sizeof *s->length);
  if (!s->handle || !s->length || !ops->vmm_reserve(span, &s->va)) {
    free(s->handle);
    free(s->length);
    free(s);
    return false;
  }
  uint64_t off = 0, chunk = span, cap = wsla_opts.stitch_chunk.num / g * g;
  if (cap && chunk > cap) chunk = cap;
  while (off < span) {
    uint64_t want = chunk < span - off ? chunk : span - off, h;
    if (ops->vmm_create(device, want, &h)) {
      if (!ops->vmm_map(s->va + off, want, h)) {
        ops->vmm_release(h);
        give_back(s);
        return false;
      }
      s->handle[s->n] = h;
      s->length[s->n++] = want;
      off += want;
      continue;
    }
    if (chunk == g) { /* not even one granule: no memory left to stitch */
      give_back(s);
      return false;
    }
    chunk = chunk / 2 / g * g;
    if (chunk < g) chunk = g;
  }
  if (!ops->vmm_access(device, s->va, span)) {
    give_back(s);
    return false;
  }
  s->owned.addr = s->va;
  s->owned.kind = WSLA_OWNED_STITCHED;
  wsla_owned_put(&s->owned);
  *va = s->va;
  *chunks = s->n;
  return true;
}

void wsla_stitch_release(struct wsla_owned *o) {
  struct stitched *s = (struct stitched *)o;
  /* The client's free waits for the device; so does this, before the
     memory goes. */
  s->ops->synchronize();
  give_back(s);
}
