/* --from/--to: the time window plot and export take, parsed and checked alike. */
#include <stdlib.h>

#include "tool.h"

int window_option(const char *cmd, struct window *w, bool is_from, const char *text) {
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || !(v >= 0 && v < 1e9)) {
    return tool_usage_error(cmd, "--%s %s: not a number of seconds", is_from ? "from" : "to",
                            text);
  }
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
