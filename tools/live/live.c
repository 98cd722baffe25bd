/* What ls, top and metrics share: the recordings of the directory, loaded
   and sorted oldest first. */
#include <stdlib.h>
#include <string.h>

#include "live.h"

struct loading {
  struct rec **all;
  size_t n, cap;
  unsigned parts;
  bool quiet, full; /* full: the heap refused more */
};

static void load_one(int fd, const char *path, void *arg) {
  struct loading *l = arg;
  char why[4400];
  if (l->full) return;
  struct rec *r = malloc(sizeof *r);
  if (!r) {
    l->full = true;
    return;
  }
  if (rec_open_fd(fd, path, l->parts, r, why, sizeof why) != 0) {
    if (!l->quiet) fprintf(stderr, "wslalloc: skipping %s\n", why);
    free(r);
    return;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct rec **more = realloc(l->all, cap * sizeof *more);
    if (!more) {
      rec_close(r);
      free(r);
      l->full = true;
      return;
    }
    l->all = more;
    l->cap = cap;
  }
  l->all[l->n++] = r;
}

/* The recordings of the recordings directory, readable and trusted ones
   only (rec_scan_dir), oldest first, in *out (*n of them; the caller frees
   each and the array); of each, the header and counters and the parts
   asked for.  -1 with err if the directory cannot be read or is refused
   (errno ENOENT: not made yet); an empty folder is no error. */
int live_load_all(const char *dir, bool chosen, unsigned parts, struct rec ***out,
                    size_t *n, char *err, size_t len, bool quiet) {
  struct loading l = {.parts = parts, .quiet = quiet};
  int rc = rec_scan_dir(dir, chosen, quiet, load_one, &l, err, len);
  struct rec **all = l.all;
  *n = l.n;
  for (size_t i = 1; i < *n; i++) /* insertion sort by start time */
    for (size_t k = i; k > 0 && all[k - 1]->hdr->start_realtime_ns >
                                    all[k]->hdr->start_realtime_ns; k--) {
      struct rec *t = all[k];
      all[k] = all[k - 1];
      all[k - 1] = t;
    }
  *out = all;
  return rc;
}

void live_free_all(struct rec **all, size_t n) {
  for (size_t i = 0; i < n; i++) {
    rec_close(all[i]);
    free(all[i]);
  }
  free(all);
}

const char *live_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

uint64_t live_view_foreign(const struct rec *r, unsigned dv, uint64_t also, bool *estimate) {
  const struct wsla_device_counters *d = &r->ctr->dev[dv];
  uint64_t used = d->total_bytes > d->free_bytes ? d->total_bytes - d->free_bytes : 0;
  bool same_moment = r->hdr->features & WSLA_FEAT_VIEW_OWN;
  uint64_t own = same_moment ? r->hdr->view_own_bytes[dv] : d->live_bytes;
  *estimate = !same_moment;
  own = own + also < own ? UINT64_MAX : own + also;
  return used > own ? used - own : 0;
}
