/* Diagnostics: the shim's few messages on stderr, each at most once. */
#include <stdarg.h>
#include <stdio.h>
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
  buf[len++] = '\n';
  /* One write, so that lines from several threads do not interleave. */
  ssize_t w = write(STDERR_FILENO, buf, len);
  (void)w;
}
