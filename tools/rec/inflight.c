/* Calls in flight when a process ended: its live counters against its list of live allocations. */
#include <inttypes.h>
#include <string.h>

#include "rec.h"

/*
 * The shim counts an allocation in two places, each by itself without
 * locks: its live slot (written whole, under one commit word) and the
 * counters (bytes and count, two atomic additions).  A process killed
 * between them (SIGKILL, the OOM killer) leaves them apart by the calls in
 * flight: an allocation already in the list but not yet counted, a free
 * already out of the list but still counted, or bytes counted before the
 * count.  The report states that margin rather than let "live now" and
 * "Still allocated at the end" contradict each other silently.
 */

/* The counters less the live slots, in allocations and bytes; false where
   they cannot be compared (the process still runs, or some allocation
   found no slot) or agree. */
static bool in_flight(const struct rec *r, int64_t *allocs, int64_t *bytes) {
  /* A file cut short lost slots, not calls: the report says so instead. */
  if (!strcmp(rec_end_state(r), "running") || r->ctr->live_overflow || r->ctr->table_oom ||
      r->partial)
    return false;
  uint64_t counted_allocs = r->ctr->host_live_allocs, counted_bytes = r->ctr->host_live_bytes;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    counted_allocs += r->ctr->dev[d].live_allocs;
    counted_bytes += r->ctr->dev[d].live_bytes;
  }
  uint64_t listed_allocs = 0, listed_bytes = 0;
  for (uint64_t i = 0; i < r->live_count; i++) {
    const struct wsla_live *l = &r->live[i];
    if (!l->commit) continue;
    /* Only what the counters count: host memory, and the devices that
       have counters of their own. */
    if (!(l->flags & WSLA_F_HOST) && (l->device < 0 || (unsigned)l->device >= WSLA_DEVICE_MAX))
      continue;
    listed_allocs++;
    listed_bytes += l->size;
  }
  *allocs = (int64_t)(counted_allocs - listed_allocs);
  *bytes = (int64_t)(counted_bytes - listed_bytes);
  return *allocs || *bytes;
}

void rec_in_flight_text(FILE *out, const struct rec *r) {
  int64_t allocs, bytes;
  if (!in_flight(r, &allocs, &bytes)) return;
  /* Each call in flight moves the count by one at most; bytes without a
     count is one call caught between its two additions. */
  /* Magnitudes in unsigned arithmetic: a hostile file's INT64_MIN has no
     negation in int64_t. */
  uint64_t calls = allocs < 0 ? 0 - (uint64_t)allocs : (uint64_t)allocs;
  if (!calls) calls = 1;
  char b[32];
  fprintf(out,
          "  in flight: %" PRIu64 " allocation%s %s being allocated or freed when the process "
          "died: the live counts above differ from this list by %+" PRId64
          " allocation%s and %s%s\n",
          calls, calls == 1 ? "" : "s", calls == 1 ? "was" : "were", allocs,
          allocs == 1 || allocs == -1 ? "" : "s", bytes < 0 ? "-" : "+",
          fmt_size(bytes < 0 ? 0 - (uint64_t)bytes : (uint64_t)bytes, b, sizeof b));
}

void rec_in_flight_json(struct json *j, const struct rec *r) {
  int64_t allocs = 0, bytes = 0;
  in_flight(r, &allocs, &bytes);
  json_obj(j, "in_flight");
  json_i64(j, "allocs", allocs);
  json_i64(j, "bytes", bytes);
  json_end_obj(j);
}
