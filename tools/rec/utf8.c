/* UTF-8 validation to the Unicode standard (table 3-7), ill-formed sequences replaced by U+FFFD one maximal subpart at a time. */
#include "utf8.h"

#include <string.h>

/*
 * Table 3-7, well-formed byte sequences: the lead byte fixes the length and
 * the range its second byte may take (which rules out overlong forms, the
 * surrogates D800..DFFF and code points above 10FFFF); every later byte is
 * 80..BF.
 *
 *   00..7F
 *   C2..DF  80..BF
 *   E0      A0..BF  80..BF
 *   E1..EC  80..BF  80..BF
 *   ED      80..9F  80..BF
 *   EE..EF  80..BF  80..BF
 *   F0      90..BF  80..BF  80..BF
 *   F1..F3  80..BF  80..BF  80..BF
 *   F4      80..8F  80..BF  80..BF
 */
size_t utf8_sequence(const unsigned char *s, size_t n, size_t *subpart) {
  unsigned char b = s[0], lo = 0x80, hi = 0xBF;
  size_t len;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) len = 2;
  else if (b >= 0xE0 && b <= 0xEF) len = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
  else if (b >= 0xF0 && b <= 0xF4) len = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
  else { /* 80..C1, F5..FF: never a lead byte */
    *subpart = 1;
    return 0;
  }
  /* The maximal subpart: the lead and every following byte that could
     still continue a well-formed sequence. */
  size_t i = 1;
  for (; i < len && i < n; i++) {
    unsigned char want_lo = i == 1 ? lo : 0x80, want_hi = i == 1 ? hi : 0xBF;
    if (s[i] < want_lo || s[i] > want_hi) break;
  }
  if (i == len) return len;
  *subpart = i;
  return 0;
}

size_t utf8_clean(char *dst, size_t room, const char *src, size_t srclen, bool keep_newlines) {
  const unsigned char *s = (const unsigned char *)src;
  size_t n = strnlen(src, srclen), out = 0;
  for (size_t i = 0; i < n;) {
    size_t bad = 0, len = utf8_sequence(s + i, n - i, &bad);
    const char *put = (const char *)s + i;
    size_t put_len = len;
    if (!len) {
      put = UTF8_REPLACEMENT, put_len = 3;
      i += bad;
    } else {
      if (len == 1 && (s[i] < 0x20 || s[i] == 0x7f) && !(keep_newlines && s[i] == '\n'))
        put = "?";
      i += len;
    }
    if (out + put_len >= room) break; /* a whole character or none */
    memcpy(dst + out, put, put_len);
    out += put_len;
  }
  dst[out] = '\0';
  return out;
}

void utf8_write_xml(FILE *out, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t bad = 0, len = utf8_sequence(p + i, n - i, &bad);
    if (!len) {
      fputs(UTF8_REPLACEMENT, out);
      i += bad;
      continue;
    }
    unsigned char c = p[i];
    /* U+FFFE and U+FFFF are well-formed but not XML characters. */
    if (len == 3 && c == 0xEF && p[i + 1] == 0xBF && p[i + 2] >= 0xBE) fputs(UTF8_REPLACEMENT, out);
    else if (len > 1) fwrite(p + i, 1, len, out);
    else if (c == '<') fputs("&lt;", out);
    else if (c == '>') fputs("&gt;", out);
    else if (c == '&') fputs("&amp;", out);
    else if (c == '"') fputs("&quot;", out);
    else if (c == '\'') fputs("&#39;", out);
    else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) fputc('?', out);
    else fputc(c, out);
    i += len;
  }
}
