/* HIP's real-function slots: hooks.def's HIP lines, defined once. */
#define __HIP_PLATFORM_AMD__ 1
#include <hip/hip_runtime_api.h>

#include "real.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define WSLA_HOOK(family, name, api, lookup) WSLA_REAL_SLOT_DEF(family, name)
#define WSLA_CALLS(family, name) WSLA_REAL_SLOT_DEF(family, name)
#include "hooks.def"
