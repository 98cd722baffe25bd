/* hooks.def against the recording format's API ids (format.h), checked when the library compiles: every line's id exists, no two lines share one, and every id has its line. */
#ifndef WSLA_MASK /* the file itself; a mask's read is below the #else */
#include "wslalloc/format.h"

/*
 * The ids are the recording's ABI and keep their values, so format.h's
 * WSLA_API_LIST stays their one registry (append-only, in id order, read by
 * the tools without the shim); hooks.def names the id each hook records
 * under.  A line naming an id format.h lacks fails here as an undeclared
 * WSLA_API_<api>.  The rest is counted in four 16-bit masks of the ids the
 * lines name: a second line for one id leaves fewer bits than lines, and an
 * id without a line leaves its bit clear.  Families do not matter here:
 * every line counts, whatever headers the build has.
 */

/* A hook that records nothing (hooks.def's none): outside every mask. */
enum { WSLA_API_none = 4 * 16 };
_Static_assert(WSLA_API_MAX <= 4 * 16, "the masks below cover every id");

#define WSLA_API_BIT(k, id) ((id) / 16 == (k) ? 1 << ((id) % 16) : 0)
#define WSLA_LINES_CAT(k) wsla_lines##k
#define WSLA_LINES(k) WSLA_LINES_CAT(k)

/* The four masks, wsla_lines0 to wsla_lines3: this file read once for each
   with WSLA_MASK set (the read is at the end), as hooks.def is read. */
#define WSLA_MASK 0
#include __FILE__
#define WSLA_MASK 1
#include __FILE__
#define WSLA_MASK 2
#include __FILE__
#define WSLA_MASK 3
#include __FILE__

#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) + ((int)WSLA_API_##api != (int)WSLA_API_none)
enum { wsla_lines_with_id = 0
#include "hooks.def"
};

#define WSLA_LINED(id) (WSLA_MASK_OF(id) >> (id) % 16 & 1)
#define WSLA_MASK_OF(id)                                                       \
  ((id) / 16 == 0   ? wsla_lines0                                              \
   : (id) / 16 == 1 ? wsla_lines1                                              \
   : (id) / 16 == 2 ? wsla_lines2                                              \
                    : wsla_lines3)

_Static_assert(__builtin_popcount(wsla_lines0) + __builtin_popcount(wsla_lines1) +
                       __builtin_popcount(wsla_lines2) +
                       __builtin_popcount(wsla_lines3) ==
                   wsla_lines_with_id,
               "two lines of hooks.def record under one API id");
_Static_assert(!WSLA_LINED(WSLA_API_unknown), "no hook records under the id 'unknown'");
#define WSLA_API_HAS_LINE(idx, name)                                           \
  _Static_assert((idx) == WSLA_API_unknown || WSLA_LINED(idx),                 \
                 "format.h's API id " #name " has no line in hooks.def");
WSLA_API_LIST(WSLA_API_HAS_LINE)

#else
/* One mask's read: the bits of the ids WSLA_MASK * 16 to WSLA_MASK * 16 + 15
   that hooks.def's lines name. */
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) | WSLA_API_BIT(WSLA_MASK, WSLA_API_##api)
enum { WSLA_LINES(WSLA_MASK) = 0
#include "hooks.def"
};
#undef WSLA_MASK
#endif
