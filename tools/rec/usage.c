/* Usage errors, alike for every command: one line naming what the user gave, then where help is. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rec.h"

int tool_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One line whatever the user typed: a newline or other control byte in
     a value is shown escaped, so that nothing reads as a line of its own. */
  fprintf(stderr, "wslalloc %s: ", cmd);
  for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
    if (*c == '\n') fputs("\\n", stderr);
    else if (*c == '\r') fputs("\\r", stderr);
    else if (*c == '\t') fputs("\\t", stderr);
    else if (*c < 0x20 || *c == 0x7f) fprintf(stderr, "\\x%02x", *c);
    else fputc(*c, stderr);
  }
  fprintf(stderr, "\ntry 'wslalloc %s --help'\n", cmd);
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

int tool_open_recording(const char *cmd, int argc, char **argv, int optind, struct rec *r) {
  if (argc - optind > 1)
    return tool_usage_error(cmd, "one FILE at most, not '%s' too", argv[optind + 1]);
  char path[4096], err[4400];
  if (optind < argc) snprintf(path, sizeof path, "%s", argv[optind]);
  else if (rec_find_newest(path, sizeof path, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc %s: %s\n", cmd, err), 1;
  if (rec_open(path, r, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc %s: %s\n", cmd, err), 1;
  return 0;
}
