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
/* The file name of path, without its folders. */
const char *live_base(const char *path);

#endif
