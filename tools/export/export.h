/* The exports: one writer per format behind one table (export.c), each given the recording and the window. */
#ifndef WSLA_EXPORT_H
#define WSLA_EXPORT_H

#include <stdio.h>

#include "tool.h"

/* What every writer is given beside the recording. */
struct export_opts {
  /* --from: events before this event-time are not written, though the
     levels they leave are where the window's series start. */
  uint64_t from_ns;
  /* --to: events after this event-time are not written. */
  uint64_t until_ns;
  /* Perfetto's live series: buckets across the window, 0 for every point. */
  uint64_t buckets;
};

/* A format: its name for --format, and its writer. */
struct exporter {
  const char *name;
  void (*write)(FILE *out, const struct rec *r, const struct export_opts *o);
};

extern const struct exporter export_csv, export_perfetto, export_memviz;

/* Events that are device memory as a client sees it. */
static inline bool export_device_event(const struct wsla_event *e) {
  /* VMM physical memory (cuMemCreate) is device memory like any other:
     llama.cpp's compute pool and PyTorch's expandable segments are made
     of it.  Its mappings are other event types, never counted twice. */
  return e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX && !(e->flags & WSLA_F_HOST);
}

/* Wall-clock nanoseconds of an event-time, saturated: both come from the file. */
static inline int64_t export_wall_ns(const struct rec *r, uint64_t t) {
  int64_t ns;
  if (t > INT64_MAX || __builtin_add_overflow(r->hdr->start_realtime_ns, (int64_t)t, &ns))
    return INT64_MAX;
  return ns < 0 ? 0 : ns;
}

/* A line on stderr every tenth of a long export: total events, and the
   count at which the next line is due. */
struct export_progress {
  uint64_t total, next;
};

void export_tick(struct export_progress *p, uint64_t done);

#endif
