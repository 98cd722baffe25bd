/* Simulated libnvidia-ml.so.1: device count, handles, memory info over the simulated device model, and running-process lists. */
#include <nvml.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simdev.h"

#define EXPORT __attribute__((visibility("default")))

struct nvmlDevice_st { unsigned index; };
static struct nvmlDevice_st handles[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
static int initialised;

EXPORT nvmlReturn_t nvmlInit_v2(void) {
  /* WSLSIM_NVML_LOG: a line per initialisation, for the tests to count. */
  const char *log = getenv("WSLSIM_NVML_LOG");
  FILE *f = log ? fopen(log, "a") : NULL;
  if (f) fputs("nvmlInit_v2\n", f), fclose(f);
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

/*
 * Running processes, from WSLSIM_NVML_PROCS: "[DEV/]PID:NAME:BYTES[:LISTS]"
 * separated by commas; PID "self" is the calling process, as a real NVML
 * lists it among the others.  NAME "-": nvmlSystemGetProcessName does not know
 * the pid (it exited).  BYTES takes K/M/G suffixes, or "-" for
 * NVML_VALUE_NOT_AVAILABLE; WSLSIM_NVML_WDDM=1 makes every figure that, as
 * NVML does under WDDM.  LISTS: "c" compute (the default), "g" graphics,
 * "cg" both.  FAKE_NVML_OLD builds the library of an older driver, which
 * has neither _v2 nor _v3 of the lists, only the plain ABI.
 */
struct sim_proc {
  unsigned dev, pid;
  unsigned long long bytes;
  char name[64];
  int lists; /* 1 compute, 2 graphics */
};
static struct sim_proc procs[64];
static int nprocs = -1;

static unsigned long long size_of(const char *s) {
  if (*s == '-') return (unsigned long long)NVML_VALUE_NOT_AVAILABLE;
  char *e;
  unsigned long long v = strtoull(s, &e, 10);
  switch (*e) {
  case 'K': return v << 10;
  case 'M': return v << 20;
  case 'G': return v << 30;
  default: return v;
  }
}

static void load_procs(void) {
  if (nprocs >= 0) return;
  nprocs = 0;
  const char *s = getenv("WSLSIM_NVML_PROCS");
  const char *wddm = getenv("WSLSIM_NVML_WDDM");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", s ? s : "");
  char *save = NULL;
  for (char *item = strtok_r(buf, ",", &save); item && nprocs < 64;
       item = strtok_r(NULL, ",", &save)) {
    struct sim_proc *p = &procs[nprocs];
    memset(p, 0, sizeof *p);
    char *slash = strchr(item, '/');
    if (slash) p->dev = (unsigned)atoi(item), item = slash + 1;
    char *f[4] = {item, NULL, NULL, NULL};
    for (int k = 1; k < 4 && f[k - 1]; k++) {
      char *c = strchr(f[k - 1], ':');
      if (c) *c = '\0', f[k] = c + 1;
    }
    if (!f[2]) continue;
    p->pid = !strcmp(f[0], "self") ? (unsigned)getpid() : (unsigned)atoi(f[0]);
    snprintf(p->name, sizeof p->name, "%s", f[1]);
    p->bytes = wddm && *wddm == '1' ? (unsigned long long)NVML_VALUE_NOT_AVAILABLE : size_of(f[2]);
    p->lists = !f[3] ? 1 : (strchr(f[3], 'c') ? 1 : 0) | (strchr(f[3], 'g') ? 2 : 0);
    nprocs++;
  }
}

/* Fills infos (of elem bytes each; pid then usedGpuMemory at the start of
   both versions) with device d's processes on list, NVML's way. */
static nvmlReturn_t list(nvmlDevice_t d, unsigned *count, void *infos, size_t elem, int which) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!d || !count) return NVML_ERROR_INVALID_ARGUMENT;
  load_procs();
  unsigned n = 0;
  for (int i = 0; i < nprocs; i++) n += procs[i].dev == d->index && (procs[i].lists & which);
  if (*count < n) {
    *count = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  if (n && !infos) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned k = 0;
  for (int i = 0; i < nprocs; i++) {
    if (procs[i].dev != d->index || !(procs[i].lists & which)) continue;
    char *e = (char *)infos + k++ * elem;
    memset(e, 0, elem);
    nvmlProcessInfo_v1_t head = {procs[i].pid, procs[i].bytes};
    memcpy(e, &head, sizeof head);
    if (elem == sizeof(nvmlProcessInfo_v2_t)) {
      ((nvmlProcessInfo_v2_t *)e)->gpuInstanceId = 0xFFFFFFFFu;
      ((nvmlProcessInfo_v2_t *)e)->computeInstanceId = 0xFFFFFFFFu;
    }
  }
  *count = n;
  return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned *c,
                                                            nvmlProcessInfo_t *i) {
  return list(d, c, i, sizeof *i, 1);
}
EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned *c,
                                                             nvmlProcessInfo_t *i) {
  return list(d, c, i, sizeof *i, 2);
}
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned *c,
                                                            nvmlProcessInfo_v2_t *i) {
  return list(d, c, i, sizeof *i, 1);
}
EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned *c,
                                                             nvmlProcessInfo_v2_t *i) {
  return list(d, c, i, sizeof *i, 2);
}
#endif
/* The unversioned names are macros for _v3 in nvml.h. */
#undef nvmlDeviceGetComputeRunningProcesses
#undef nvmlDeviceGetGraphicsRunningProcesses
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned *c,
                                                         nvmlProcessInfo_v1_t *i) {
  return list(d, c, i, sizeof *i, 1);
}
EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d, unsigned *c,
                                                          nvmlProcessInfo_v1_t *i) {
  return list(d, c, i, sizeof *i, 2);
}

EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned pid, char *name, unsigned length) {
  if (!initialised) return NVML_ERROR_UNINITIALIZED;
  if (!name || !length) return NVML_ERROR_INVALID_ARGUMENT;
  load_procs();
  for (int i = 0; i < nprocs; i++) {
    if (procs[i].pid != pid) continue;
    if (!strcmp(procs[i].name, "-")) return NVML_ERROR_NOT_FOUND;
    if (strlen(procs[i].name) >= length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(name, procs[i].name);
    return NVML_SUCCESS;
  }
  return NVML_ERROR_NOT_FOUND;
}
