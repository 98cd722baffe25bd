/* Diagnostics: the shim's few messages on stderr, each at most once. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

void wsla_warn_once(int *flag, const char *fmt, ...) {
  if (flag && __atomic_exchange_n(flag, 1, __ATOMIC_RELAXED)) return;
  if (wsla_opts.quiet.num) return;
  char buf[512];
  int n = snprintf(buf, sizeof buf, "wslalloc: ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len] = '\0';
  /* A value echoed in the message (a path from the environment, say) stays
     on this line: a newline in it must not start a line that could pass
     for another message. */
  char line[sizeof buf];
  memcpy(line, buf, (size_t)n);
  wsla_escape_controls(buf + n, sizeof buf, line + n, sizeof line - (size_t)n - 1);
  len = strlen(line);
  memcpy(buf, line, len);
  buf[len++] = '\n';
  /* One write, so that lines from several threads do not interleave. */
  ssize_t w = write(STDERR_FILENO, buf, len);
  (void)w;
}
