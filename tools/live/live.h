/* The live commands (ls, top, metrics) and what they share (live.c). */
#ifndef WSLA_LIVE_H
#define WSLA_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "tool.h"

/* The recordings of the recordings directory, readable and trusted ones
   only (rec_scan_dir), oldest first, in *out (*n of them; the caller frees
   them with live_free_all); of each, the header and counters and the parts
   asked for.  -1 with err if the directory cannot be read or is refused
   (errno ENOENT: not made yet); an empty folder is no error. */
int live_load_all(const char *dir, bool chosen, unsigned parts, struct rec ***out,
                  size_t *n, char *err, size_t len, bool quiet);
void live_free_all(struct rec **all, size_t n);
/* What the others held at r's last view of device dv: total - free - ours,
   with ours from the same moment (WSLA_FEAT_VIEW_OWN).  A recording without
   it has only this process's live bytes now, from another moment: *estimate
   says so.  `also` is what other processes of ours hold on it (top). */
uint64_t live_view_foreign(const struct rec *r, unsigned dv, uint64_t also, bool *estimate);
/* The file name of path, without its folders. */
const char *live_base(const char *path);

#endif
