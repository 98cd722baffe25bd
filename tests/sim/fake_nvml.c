/* Simulated libnvidia-ml.so.1: device count, handles and memory info over the simulated device model. */
#include <nvml.h>
#include <stdint.h>

#include "simdev.h"

#define EXPORT __attribute__((visibility("default")))

struct nvmlDevice_st { unsigned index; };
static struct nvmlDevice_st handles[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
static int initialised;

EXPORT nvmlReturn_t nvmlInit_v2(void) {
  initialised = 1;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
  initialised = 0;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!n) return NVML_ERROR_INVALID_ARGUMENT;
  *n = (unsigned)sim_device_count();
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i,
                                                  nvmlDevice_t *d) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!d || i >= (unsigned)sim_device_count()) return NVML_ERROR_INVALID_ARGUMENT;
  *d = &handles[i];
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned int *i) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!d || !i) return NVML_ERROR_INVALID_ARGUMENT;
  *i = d->index;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!d || !m) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t f, t;
  sim_meminfo((int)d->index, &f, &t);
  m->total = t;
  m->free = f;
  m->used = t - f;
  return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d,
                                               nvmlMemory_v2_t *m) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!d || !m) return NVML_ERROR_INVALID_ARGUMENT;
  if (m->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  uint64_t f, t;
  sim_meminfo((int)d->index, &f, &t);
  m->total = t;
  m->reserved = 0;
  m->free = f;
  m->used = t - f;
  return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r) {
  return r == NVML_SUCCESS ? "Success" : "Error";
}
