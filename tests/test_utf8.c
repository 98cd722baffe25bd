/* The UTF-8 validator against the Unicode standard: table 3-7's boundaries and the replacement examples of chapter 3 (U+FFFD per maximal subpart). */
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static int failures;

/* in cleaned must read as want ("\xEF\xBF\xBD" for each U+FFFD). */
static void expect(const char *what, const char *in, const char *want) {
  char out[256];
  utf8_clean(out, sizeof out, in, strlen(in), false);
  if (strcmp(out, want)) {
    printf("FAIL: %s:", what);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++) printf(" %02X", *p);
    printf("\n");
    failures++;
  }
}

#define R UTF8_REPLACEMENT

int main(void) {
  /* Each row of table 3-7 at its lowest and highest well-formed sequence. */
  static const char *const well_formed[] = {
      "\x01", "\x7F", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xE0\xBF\xBF", "\xE1\x80\x80",
      "\xEC\xBF\xBF", "\xED\x80\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
      "\xF0\x90\x80\x80", "\xF0\xBF\xBF\xBF", "\xF1\x80\x80\x80", "\xF3\xBF\xBF\xBF",
      "\xF4\x80\x80\x80", "\xF4\x8F\xBF\xBF"};
  for (size_t i = 0; i < sizeof well_formed / sizeof *well_formed; i++) {
    const unsigned char *s = (const unsigned char *)well_formed[i];
    size_t bad = 0, n = strlen(well_formed[i]);
    if (utf8_sequence(s, n, &bad) != n) {
      printf("FAIL: well-formed sequence %zu (%02X...) refused\n", i, s[0]);
      failures++;
    }
  }
  /* Just outside each row: overlong forms, surrogates, above U+10FFFF,
     bytes that never lead, continuations alone. */
  expect("overlong C0 AF", "\xC0\xAF", R R);
  expect("overlong C1 BF", "\xC1\xBF", R R);
  expect("overlong E0 9F BF", "\xE0\x9F\xBF", R R R);
  expect("overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", R R R R);
  expect("surrogate ED A0 80", "\xED\xA0\x80", R R R);
  expect("surrogate ED BF BF", "\xED\xBF\xBF", R R R);
  expect("above U+10FFFF: F4 90 80 80", "\xF4\x90\x80\x80", R R R R);
  expect("F5..FF never lead", "\xF5\x80\xFF", R R R);
  expect("a lone continuation", "a\x80z", "a" R "z");
  /* Truncated sequences: the maximal subpart is one U+FFFD. */
  expect("E1 80 cut", "\xE1\x80z", R "z");
  expect("F1 80 80 cut", "\xF1\x80\x80z", R "z");
  expect("cut at the end", "ok\xF0\x9F\x98", "ok" R);
  /* The standard's worked example (chapter 3, U+FFFD substitution of
     maximal subparts): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64. */
  expect("the standard's example", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
         "a" R R R "b" R "c" R R "d");
  /* Well-formed text is copied as it is; controls become '?'. */
  expect("well-formed", "/opt/\xC3\xA9t\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80", "/opt/\xC3\xA9t\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80");
  expect("controls", "a\tb\x1b[31m\x7f", "a?b?[31m?");
  /* A character that does not fit is left out whole. */
  char small[5];
  utf8_clean(small, sizeof small, "ab\xE2\x82\xAC", 5, false);
  if (strcmp(small, "ab")) printf("FAIL: a cut character: %s\n", small), failures++;
  utf8_clean(small, sizeof small, "\xC0\xAF", 2, false);
  if (strcmp(small, R)) printf("FAIL: a cut replacement: %s\n", small), failures++;
  if (failures) return 1;
  printf("ok: table 3-7 and the maximal-subpart examples\n");
  return 0;
}
