/* Usage errors, alike for every command: one line naming what the user gave, then where help is. */
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "rec.h"

int tool_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "wslalloc %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\ntry 'wslalloc %s --help'\n", cmd);
  va_end(ap);
  return 2;
}

/* getopt_long's own messages name the program as argv[0], which for a
   command is "report", not "wslalloc": the commands set opterr = 0 and
   start their option strings with ':', and say here which word was wrong. */
int tool_bad_option(const char *cmd, int c, int argc, char **argv) {
  const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
  bool is_long = !strncmp(word, "--", 2);
  if (is_long) {
    int len = (int)strcspn(word, "=");
    if (c == ':') return tool_usage_error(cmd, "option '%.*s' needs a value", len, word);
    if (word[len] && optopt)
      return tool_usage_error(cmd, "option '%.*s' takes no value", len, word);
    return tool_usage_error(cmd, "unknown option '%.*s'", len, word);
  }
  if (c == ':') return tool_usage_error(cmd, "option '-%c' needs a value", optopt);
  if (optopt > ' ' && optopt < 127) return tool_usage_error(cmd, "unknown option '-%c'", optopt);
  return tool_usage_error(cmd, "unknown option '%s'", word);
}
