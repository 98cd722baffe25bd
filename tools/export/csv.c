/* export --format csv: RAPIDS RMM's logging columns, for RMM's replay benchmark. */
#include <inttypes.h>
#include <time.h>

#include "export.h"

static void write_csv(FILE *out, const struct rec *r, const struct export_opts *o) {
  fputs("Thread,Time,Action,Pointer,Size,Stream\n", out);
  struct export_progress pg = {r->nevents, r->nevents / 10};
  for (uint64_t i = 0; i < r->nevents; i++) {
    export_tick(&pg, i);
    const struct wsla_event *e = &r->events[i];
    if (e->time_ns > o->until_ns) break;
    if (e->time_ns < o->from_ns) continue;
    const char *action = e->type == WSLA_EV_ALLOC   ? "allocate"
                         : e->type == WSLA_EV_FREE  ? "free"
                         : e->type == WSLA_EV_OOM ? "allocate failure"
                                                    : NULL;
    if (!action || !export_device_event(e)) continue;
    int64_t ns = export_wall_ns(r, e->time_ns);
    time_t sec = (time_t)(ns / 1000000000);
    struct tm tm;
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", localtime_r(&sec, &tm));
    fprintf(out, "%u,%s.%06ld,%s,", e->tid, hms, (long)(ns % 1000000000 / 1000), action);
    if (e->addr && e->type != WSLA_EV_OOM) fprintf(out, "0x%" PRIx64, e->addr);
    else fputs("(nil)", out);
    fprintf(out, ",%" PRIu64 ",0\n", e->size);
  }
}

const struct exporter export_csv = {"csv", write_csv};
