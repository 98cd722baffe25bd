/* NVML's real-function slots: hooks.def's NVML lines, defined once. */
#include <nvml.h>

#include "real.h"

#define WSLA_HOOK(family, name, api, lookup) WSLA_REAL_SLOT_DEF(family, name)
#define WSLA_CALLS(family, name) WSLA_REAL_SLOT_DEF(family, name)
#include "hooks.def"
