/* NVML hooks: the memory queries that older Ollama sizes itself from, counted and passed through. */
#include <nvml.h>

#include "budget.h"
#include "hooks.h"
#include "real.h"

/*
 * Counted, and shaped by the budgets (WSLALLOC_LIMIT, WSLALLOC_HEADROOM), so
 * that a program that sizes itself from NVML leaves the same room as one
 * that asks the CUDA runtime.  NVML keeps no last-error state to disturb.
 */

/* NVML's index of the device, taken as the CUDA device: the two agree
   under CUDA_DEVICE_ORDER=PCI_BUS_ID (Ollama sets it), and on one GPU. */
static int device_index(nvmlDevice_t device) {
  __typeof__(real_nvmlDeviceGetIndex) get =
      WSLA_REAL(WSLA_LIB_NVML, nvmlDeviceGetIndex);
  unsigned int i;
  return get && get(device, &i) == NVML_SUCCESS && i < 0x7fff ? (int)i : -1;
}

/* The answer as the budgets shape it; used is what the total leaves. */
static void shape(struct wsla_proc *p, nvmlDevice_t device,
                  unsigned long long *free_b, unsigned long long *total_b,
                  unsigned long long *used) {
  if (!wsla_opts.limit.num && !wsla_opts.headroom.num) return;
  uint64_t f = *free_b, t = *total_b;
  wsla_budget_shape(p, device_index(device), &f, &t);
  *free_b = f;
  *total_b = t;
  *used = t > f ? t - f : 0;
}

/* Both versions of the memory query: their answers differ in fields the
   budgets leave alone (v2's reserved), and share free, total and used. */
#define MEMORY_INFO(name, memory_t)                                            \
  WSLA_EXPORT nvmlReturn_t name(nvmlDevice_t device, memory_t *memory) {       \
    __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_NVML, name);             \
    if (!real) return NVML_ERROR_FUNCTION_NOT_FOUND;                           \
    struct wsla_proc *p = hook_enter();                                        \
    nvmlReturn_t rc = real(device, memory);                                    \
    if (p) {                                                                   \
      wsla_track_call(p, WSLA_API_##name, rc == NVML_SUCCESS);                 \
      if (rc == NVML_SUCCESS && memory)                                        \
        shape(p, device, &memory->free, &memory->total, &memory->used);        \
    }                                                                          \
    hook_leave();                                                              \
    return rc;                                                                 \
  }

MEMORY_INFO(nvmlDeviceGetMemoryInfo, nvmlMemory_t)
MEMORY_INFO(nvmlDeviceGetMemoryInfo_v2, nvmlMemory_v2_t)
