/* hooks.def against the recording format's API ids (format.h), checked when the library compiles: every line's id exists, no two lines share one, and every id has its line. */
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
/* A _ptsz export records under its base name's id: one line, one id. */
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)

#define WSLA_HOOK(family, name, api, lookup) | WSLA_API_BIT(0, WSLA_API_##api)
enum { wsla_lines0 = 0
#include "hooks.def"
};
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) | WSLA_API_BIT(1, WSLA_API_##api)
enum { wsla_lines1 = 0
#include "hooks.def"
};
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) | WSLA_API_BIT(2, WSLA_API_##api)
enum { wsla_lines2 = 0
#include "hooks.def"
};
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) | WSLA_API_BIT(3, WSLA_API_##api)
enum { wsla_lines3 = 0
#include "hooks.def"
};
#define WSLA_HOOK_PTSZ(family, name, api, lookup) WSLA_HOOK(family, name, api, lookup)
#define WSLA_HOOK(family, name, api, lookup) + ((int)WSLA_API_##api != (int)WSLA_API_none)
enum { wsla_lines_with_id = 0
#include "hooks.def"
};

#define WSLA_LINED(id)                                                         \
  ((id) / 16 == 0   ? wsla_lines0 >> (id) % 16 & 1                             \
   : (id) / 16 == 1 ? wsla_lines1 >> (id) % 16 & 1                             \
   : (id) / 16 == 2 ? wsla_lines2 >> (id) % 16 & 1                             \
                    : wsla_lines3 >> (id) % 16 & 1)

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
