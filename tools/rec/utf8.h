/* UTF-8 as the Unicode standard defines it (chapter 3, table 3-7): what the tools write is always well-formed. */
#ifndef WSLA_UTF8_H
#define WSLA_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* U+FFFD REPLACEMENT CHARACTER, encoded. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The length (1 to 4) of the well-formed sequence that starts s (n > 0
   bytes readable), or 0 when it is ill-formed; then *subpart is the length
   of its maximal subpart (1 to 3): the bytes one U+FFFD replaces, as the
   standard's "U+FFFD substitution of maximal subparts" practice does. */
size_t utf8_sequence(const unsigned char *s, size_t n, size_t *subpart);

/* Copies src (at most srclen bytes, up to its first NUL) into dst (room
   bytes, room > 0, always terminated): each maximal subpart of an
   ill-formed sequence becomes U+FFFD, and control characters (C0 and DEL)
   become '?', '\n' kept when keep_newlines.  Stops before a character that
   would not fit.  Returns the bytes written, the terminator not counted. */
size_t utf8_clean(char *dst, size_t room, const char *src, size_t srclen, bool keep_newlines);

/* Writes s as XML character data or an attribute's value (SVG, HTML):
   markup characters escaped, ill-formed UTF-8 as U+FFFD, and the control
   characters that XML 1.0 forbids even as references written as '?'. */
void utf8_write_xml(FILE *out, const char *s);

#endif
