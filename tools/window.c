/* --from/--to: the time window plot and export take, parsed and checked alike. */
#include <stdlib.h>

#include "tool.h"

int window_option(const char *cmd, struct window *w, bool is_from, const char *text) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || v != v)
    return tool_usage_error(cmd, "--%s %s: not a number of seconds", is_from ? "from" : "to",
                            text);
  if (!(v >= 0 && v < 1e9))
    return tool_usage_error(cmd, "--%s %s: seconds from 0 to 1e9 after the start, not beyond",
                            is_from ? "from" : "to", text);
  if (is_from) w->from = v;
  else w->to = v;
  return 0;
}

int window_check(const char *cmd, const struct window *w) {
  if (w->from >= 0 && w->to >= 0 && w->to <= w->from) {
    return tool_usage_error(cmd, "--to must come after --from");
  }
  return 0;
}

uint64_t rec_span_end_ns(const struct rec *r) {
  uint64_t end = r->hdr->end_state != WSLA_END_RUNNING && r->hdr->end_time_ns > 0
                     ? (uint64_t)r->hdr->end_time_ns : 0;
  for (uint64_t i = 0; i < r->nevents; i++)
    if (r->events[i].time_ns > end) end = r->events[i].time_ns;
  return end;
}

int window_fit(const char *cmd, const struct window *w, const struct rec *r) {
  /* A window that starts where nothing was recorded would draw an empty
     panel (or write an empty trace) as if it were an answer. */
  uint64_t end = rec_span_end_ns(r);
  if (w->from > 0 && (uint64_t)(w->from * 1e9) >= end) {
    fprintf(stderr, "wslalloc %s: --from %g is past the end of %s, which spans 0 to %.3f s\n",
            cmd, w->from, r->path, end / 1e9);
    return 2;
  }
  return 0;
}
