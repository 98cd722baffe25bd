/* JSON output (json.c): a writer that places commas and keeps numbers exact. */
#ifndef WSLA_JSON_H
#define WSLA_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
  FILE *out;
  int depth;
  bool need_comma[32];
};
void json_begin(struct json *j, FILE *out);
void json_obj(struct json *j, const char *key);   /* key NULL in arrays */
void json_arr(struct json *j, const char *key);
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_i64(struct json *j, const char *key, int64_t value);
/* Integral values as integers, others in as many digits as they need. */
void json_f64(struct json *j, const char *key, double value);
/* value / 10^decimals, exactly: json_fixed(j, "time", ns, 9) gives seconds
   to the nanosecond, with no trailing zeros and no point when whole. */
void json_fixed(struct json *j, const char *key, int64_t value, int decimals);
/* The same text into buf, for writers that print JSON by hand. */
void json_fixed_text(char *buf, size_t len, int64_t value, int decimals);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
void json_finish(struct json *j);


#endif
