/* NVML hooks: the memory queries that older Ollama sizes itself from, counted and passed through. */
#include <nvml.h>

#include "hooks.h"

/*
 * These are counted now; the budgets (WSLALLOC_LIMIT, WSLALLOC_HEADROOM)
 * will shape their answers, so that a program that sizes itself from NVML
 * leaves the same room as one that asks the CUDA runtime.  NVML keeps no
 * last-error state to disturb.
 */

WSLA_REAL_DECL(nvmlDeviceGetMemoryInfo);
WSLA_REAL_DECL(nvmlDeviceGetMemoryInfo_v2);

WSLA_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device,
                                                 nvmlMemory_t *memory) {
  __typeof__(real_nvmlDeviceGetMemoryInfo) real =
      WSLA_REAL(WSLA_LIB_NVML, nvmlDeviceGetMemoryInfo);
  if (!real) return NVML_ERROR_FUNCTION_NOT_FOUND;
  struct wsla_proc *p = hook_enter();
  nvmlReturn_t rc = real(device, memory);
  if (p) wsla_track_call(p, WSLA_API_nvmlDeviceGetMemoryInfo, rc == NVML_SUCCESS);
  hook_leave();
  return rc;
}

WSLA_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
                                                    nvmlMemory_v2_t *memory) {
  __typeof__(real_nvmlDeviceGetMemoryInfo_v2) real =
      WSLA_REAL(WSLA_LIB_NVML, nvmlDeviceGetMemoryInfo_v2);
  if (!real) return NVML_ERROR_FUNCTION_NOT_FOUND;
  struct wsla_proc *p = hook_enter();
  nvmlReturn_t rc = real(device, memory);
  if (p)
    wsla_track_call(p, WSLA_API_nvmlDeviceGetMemoryInfo_v2, rc == NVML_SUCCESS);
  hook_leave();
  return rc;
}
