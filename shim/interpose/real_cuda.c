/* The CUDA runtime's and driver's real-function slots: hooks.def's CUDART and CUDA lines, defined once. */
#include <cuda.h>
#include <cuda_runtime_api.h>

#include "real.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define WSLA_HOOK(family, name, api, lookup) WSLA_REAL_SLOT_DEF(family, name)
#define WSLA_CALLS(family, name) WSLA_REAL_SLOT_DEF(family, name)
#include "hooks.def"
