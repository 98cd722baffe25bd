/* JSON output: a small streaming writer with correct escaping. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "utf8.h"

void json_begin(struct json *j, FILE *out) {
  j->out = out;
  j->depth = 0;
  j->need_comma[0] = false;
}

static void escaped(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p >= 0x80) { /* JSON is UTF-8: an ill-formed sequence is U+FFFD */
      size_t bad = 0, len = utf8_sequence(p, strnlen((const char *)p, 4), &bad);
      if (len) fwrite(p, 1, len, out);
      else fputs(UTF8_REPLACEMENT, out);
      p += (len ? len : bad) - 1;
      continue;
    }
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\u%04x", *p);
      else fputc(*p, out);
    }
  }
  fputc('"', out);
}

static void member(struct json *j, const char *key) {
  if (j->need_comma[j->depth]) fputc(',', j->out);
  j->need_comma[j->depth] = true;
  if (key) {
    escaped(j->out, key);
    fputc(':', j->out);
  }
}

static void open_(struct json *j, const char *key, char c) {
  member(j, key);
  fputc(c, j->out);
  if (j->depth < 31) j->depth++;
  j->need_comma[j->depth] = false;
}

void json_obj(struct json *j, const char *key) { open_(j, key, '{'); }
void json_arr(struct json *j, const char *key) { open_(j, key, '['); }
void json_end_obj(struct json *j) {
  fputc('}', j->out);
  if (j->depth) j->depth--;
}
void json_end_arr(struct json *j) {
  fputc(']', j->out);
  if (j->depth) j->depth--;
}
void json_str(struct json *j, const char *key, const char *v) {
  member(j, key);
  escaped(j->out, v ? v : "");
}
void json_u64(struct json *j, const char *key, uint64_t v) {
  member(j, key);
  fprintf(j->out, "%" PRIu64, v);
}
void json_i64(struct json *j, const char *key, int64_t v) {
  member(j, key);
  fprintf(j->out, "%" PRId64, v);
}
/* A double as JSON: an integral value as the integer it is, any other in
   the fewest digits that read back as the same double (%.6g rounded a
   start time of 1795994086 to 1795990000). */
void json_f64(struct json *j, const char *key, double v) {
  member(j, key);
  if (!isfinite(v)) {
    fputs("null", j->out);
    return;
  }
  if (v == trunc(v) && fabs(v) < 1e18) {
    fprintf(j->out, "%.0f", v);
    return;
  }
  char buf[40];
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) break;
  }
  fputs(buf, j->out);
}

void json_fixed_text(char *buf, size_t len, int64_t v, int decimals) {
  uint64_t scale = 1;
  for (int i = 0; i < decimals; i++) scale *= 10;
  uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
  uint64_t whole = mag / scale, frac = mag % scale;
  int n = snprintf(buf, len, "%s%" PRIu64, v < 0 ? "-" : "", whole);
  if (!frac || n < 0 || (size_t)n >= len) return;
  /* The fraction with its leading zeros, then without trailing ones. */
  while (frac % 10 == 0) frac /= 10, decimals--;
  snprintf(buf + n, len - (size_t)n, ".%0*" PRIu64, decimals, frac);
}

void json_fixed(struct json *j, const char *key, int64_t v, int decimals) {
  char buf[48];
  member(j, key);
  json_fixed_text(buf, sizeof buf, v, decimals);
  fputs(buf, j->out);
}

void json_bool(struct json *j, const char *key, bool v) {
  member(j, key);
  fputs(v ? "true" : "false", j->out);
}
void json_null(struct json *j, const char *key) {
  member(j, key);
  fputs("null", j->out);
}
void json_finish(struct json *j) { fputc('\n', j->out); }
