/* Options: parses the WSLALLOC_* table once; shared by the library and the tools. */
#include "wslalloc/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const struct wsla_option_desc wsla_option_table[] = {
#define WSLA_OPT_DESC(field, name, type, def, min, max, unit, doc)             \
  {name, type, def, min, max, unit, doc,                         \
   offsetof(struct wsla_options, field)},
    WSLA_OPTION_LIST(WSLA_OPT_DESC)
#undef WSLA_OPT_DESC
};
const size_t wsla_option_count =
    sizeof wsla_option_table / sizeof wsla_option_table[0];
/* struct wsla_options.set has a bit per option. */
_Static_assert(sizeof wsla_option_table / sizeof wsla_option_table[0] <= 64,
               "options outgrow the set bits");

static int parse_bool(const char *s, uint64_t *v) {
  static const char *const yes[] = {"1", "on", "yes", "true"};
  static const char *const no[] = {"0", "off", "no", "false"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(s, yes[i]) == 0) return *v = 1, 0;
    if (strcasecmp(s, no[i]) == 0) return *v = 0, 0;
  }
  return -1;
}

/* Digits, then at most one K/M/G/T (with an optional B or iB) when allowed. */
static int parse_scaled(const char *s, uint64_t *v, const char *suffixes) {
  if (!isdigit((unsigned char)*s)) return -1;
  errno = 0;
  char *end;
  unsigned long long n = strtoull(s, &end, 10);
  if (errno) return -1;
  unsigned shift = 0;
  if (*end) {
    const char *at = strchr(suffixes, toupper((unsigned char)*end));
    if (!at || !*at) return -1;
    shift = 10u * (unsigned)(at - suffixes + 1);
    end++;
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (*end) return -1;
  }
  if (shift && n > (UINT64_MAX >> shift)) return -1;
  *v = (uint64_t)n << shift;
  return 0;
}

int wsla_option_parse(const struct wsla_option_desc *opt, const char *text,
                      struct wsla_options *out) {
  char *field = (char *)out + opt->offset;
  uint64_t v = 0;
  int rc;
  switch (opt->type) {
  case WSLA_OPT_PATH:
    if (strlen(text) >= WSLA_OPT_PATH_MAX) return -1;
    strcpy(field, text);
    return 0;
  case WSLA_OPT_BOOL: rc = parse_bool(text, &v); break;
  case WSLA_OPT_COUNT: rc = parse_scaled(text, &v, "KM"); break;
  case WSLA_OPT_MS: rc = parse_scaled(text, &v, ""); break;
  case WSLA_OPT_SIZE: rc = parse_scaled(text, &v, "KMGT"); break;
  case WSLA_OPT_CHOICE: {
    rc = -1;
    size_t n = strlen(text);
    uint64_t index = 0;
    for (const char *w = opt->unit; *w; index++) {
      const char *end = strchr(w, '|');
      size_t len = end ? (size_t)(end - w) : strlen(w);
      if (n && n == len && strncasecmp(w, text, n) == 0) {
        v = index;
        rc = 0;
        break;
      }
      w += len + (end ? 1 : 0);
    }
    if (rc == 0) {
      memcpy(field, &v, sizeof v);
      return 0;
    }
    return -1;
  }
  default: return -1;
  }
  if (rc || v < opt->min || v > opt->max) return -1;
  memcpy(field, &v, sizeof v);
  return 0;
}

void wsla_option_expects(const struct wsla_option_desc *opt, char *buf,
                         size_t len) {
  switch (opt->type) {
  case WSLA_OPT_BOOL: snprintf(buf, len, "0 or 1 (off or on)"); break;
  case WSLA_OPT_COUNT:
    snprintf(buf, len, "a count from %llu to %llu (K and M allowed)",
             (unsigned long long)opt->min, (unsigned long long)opt->max);
    break;
  case WSLA_OPT_MS:
    snprintf(buf, len, "a number of milliseconds up to %llu",
             (unsigned long long)opt->max);
    break;
  case WSLA_OPT_SIZE:
    snprintf(buf, len, "a size (bytes, or with K/M/G/T, powers of 1024)");
    break;
  case WSLA_OPT_PATH:
    snprintf(buf, len, "a path shorter than %d bytes", WSLA_OPT_PATH_MAX);
    break;
  case WSLA_OPT_CHOICE: snprintf(buf, len, "one of %s", opt->unit); break;
  }
}

void wsla_options_load(struct wsla_options *out,
                       void (*warn)(const char *msg)) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < wsla_option_count; i++) {
    const struct wsla_option_desc *opt = &wsla_option_table[i];
    const char *name = opt->name;
    if (wsla_option_parse(opt, opt->def, out) != 0) abort(); /* table bug */
    const char *text = getenv(name);
    if (!text) continue;
    out->set |= (uint64_t)1 << i;
    if (wsla_option_parse(opt, text, out) != 0) {
      wsla_option_parse(opt, opt->def, out);
      if (opt->offset == offsetof(struct wsla_options, dir)) out->dir_refused_len = strlen(text);
      if (warn && opt->offset == offsetof(struct wsla_options, dir)) {
        /* Not the default folder: it is shared by all of the user's
           processes, and the tools would list it without a word. */
        char msg[320];
        snprintf(msg, sizeof msg,
                 "WSLALLOC_DIR is longer than %d bytes (%zu bytes); recording in "
                 "memory only; set it to a shorter path",
                 WSLA_OPT_PATH_MAX - 1, strlen(text));
        warn(msg);
      } else if (warn) {
        char msg[320 + 3 * 64], expects[96], shown[4 * 64 + 1];
        wsla_option_expects(opt, expects, sizeof expects);
        wsla_escape_controls(text, 64, shown, sizeof shown);
        snprintf(msg, sizeof msg,
                 "%s=\"%s\" is not %s; keeping the default, %s",
                 name, shown, expects, *opt->def ? opt->def : "(empty)");
        warn(msg);
      }
    }
  }
}

size_t wsla_options_format(const struct wsla_options *o, char *buf,
                           size_t len) {
  size_t used = 0;
  if (len) buf[0] = '\0';
  for (size_t i = 0; i < wsla_option_count && used + 1 < len; i++) {
    const struct wsla_option_desc *opt = &wsla_option_table[i];
    const char *field = (const char *)o + opt->offset;
    const char *name = opt->name;
    int n;
    if (opt->type == WSLA_OPT_PATH) {
      n = snprintf(buf + used, len - used, "%s=%s\n", name, field);
    } else if (opt->type == WSLA_OPT_CHOICE) {
      uint64_t v;
      memcpy(&v, field, sizeof v);
      const char *w = opt->unit;
      for (uint64_t i = 0; i < v && strchr(w, '|'); i++) w = strchr(w, '|') + 1;
      const char *end = strchr(w, '|');
      n = snprintf(buf + used, len - used, "%s=%.*s\n", name,
                   (int)(end ? (size_t)(end - w) : strlen(w)), w);
    } else {
      uint64_t v;
      memcpy(&v, field, sizeof v);
      n = snprintf(buf + used, len - used, "%s=%llu\n", name,
                   (unsigned long long)v);
    }
    if (n < 0 || (size_t)n >= len - used) {
      buf[used] = '\0';
      break;
    }
    used += (size_t)n;
  }
  return used;
}

void wsla_escape_controls(const char *in, size_t max_in, char *out, size_t len) {
  size_t o = 0;
  if (!len) return;
  for (size_t i = 0; i < max_in && in[i]; i++) {
    unsigned char c = (unsigned char)in[i];
    char esc[5] = {(char)c, 0};
    if (c == '\n') memcpy(esc, "\\n", 3);
    else if (c == '\t') memcpy(esc, "\\t", 3);
    else if (c == '\r') memcpy(esc, "\\r", 3);
    else if (c < 0x20 || c == 0x7f) snprintf(esc, sizeof esc, "\\x%02x", c);
    size_t n = strlen(esc);
    if (o + n >= len) break; /* an escape is never cut in half */
    memcpy(out + o, esc, n);
    o += n;
  }
  out[o] = '\0';
}

bool wsla_dir_refused(const struct wsla_options *o, size_t *len) {
  if (len) *len = o->dir_refused_len;
  return o->dir_refused_len != 0;
}

void wsla_recording_dir(const struct wsla_options *o, char *buf, size_t len) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (o->dir.str[0])
    snprintf(buf, len, "%s", o->dir.str);
  else if (xdg && xdg[0] == '/')
    snprintf(buf, len, "%s/wslalloc", xdg);
  else
    snprintf(buf, len, "/tmp/wslalloc-%u", (unsigned)getuid());
}

void wsla_options_apply_profile(struct wsla_options *o, char *buf, size_t len) {
  static const struct {
    const char *name, *value;
  } wsl[] = {{"WSLALLOC_RECOVER", "1"},
             {"WSLALLOC_RETRY_MS", "10000"},
             {"WSLALLOC_HEADROOM", "1G"},
             {"WSLALLOC_VMM", "auto"}};
  size_t used = 0;
  if (len) buf[0] = '\0';
  if (o->profile.num != WSLA_PROFILE_WSL) return;
  for (size_t i = 0; i < sizeof wsl / sizeof wsl[0]; i++) {
    for (size_t k = 0; k < wsla_option_count; k++) {
      if (strcmp(wsla_option_table[k].name, wsl[i].name) != 0) continue;
      if (o->set & ((uint64_t)1 << k)) continue; /* its own variable wins */
      if (wsla_option_parse(&wsla_option_table[k], wsl[i].value, o) != 0)
        abort(); /* the profile table is wrong */
      int n = snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
                       wsl[i].name, wsl[i].value);
      if (n > 0 && (size_t)n < len - used) used += (size_t)n;
    }
  }
}
