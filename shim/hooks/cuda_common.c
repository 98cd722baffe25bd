/* The CUDA side's shared accounting: device, device view, and the end of each call. */
#include <cuda.h>
#include <stdio.h>

#include "budget.h"
#include "cuda_common.h"
#include "ballast.h"
#include "recover.h"
#include "stitch.h"
#include "real.h"

/* The driver's version and each GPU's name and total, for the report:
   once, after an allocation or a memory query has loaded the driver.  The
   load keeps the exchange's locked operation off every later call. */
static int driver_noted;
static void note_driver(struct wsla_proc *p) {
  if (WSLA_LIKELY(__atomic_load_n(&driver_noted, __ATOMIC_RELAXED)) ||
      __atomic_exchange_n(&driver_noted, 1, __ATOMIC_RELAXED))
    return;
  __typeof__(real_cuDriverGetVersion) version = WSLA_REAL(WSLA_LIB_CUDA, cuDriverGetVersion);
  __typeof__(real_cuDeviceGetCount) count = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceGetCount);
  __typeof__(real_cuDeviceGet) get = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceGet);
  __typeof__(real_cuDeviceGetName) name_of = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceGetName);
  __typeof__(real_cuDeviceTotalMem_v2) total_of = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceTotalMem_v2);
  char lines[384] = "";
  size_t used = 0;
  int v = 0, n = 0;
  if (version && version(&v) == CUDA_SUCCESS)
    used += (size_t)snprintf(lines, sizeof lines, "cuda_driver=%d\n", v);
  if (count && get && name_of && total_of && count(&n) == CUDA_SUCCESS) {
    for (int i = 0; i < n && i < WSLA_ENV_GPUS_MAX && used < sizeof lines; i++) {
      CUdevice d;
      char name[96];
      size_t total;
      if (get(&d, i) != CUDA_SUCCESS || name_of(name, sizeof name, d) != CUDA_SUCCESS ||
          total_of(&total, d) != CUDA_SUCCESS)
        continue;
      name[sizeof name - 1] = '\0';
      used += (size_t)snprintf(lines + used, sizeof lines - used, "gpu%d=%s|%zu\n", i, name, total);
    }
  }
  wsla_environment_add(p, lines);
}

void wsla_cuda_reset_after_fork(void) {
  /* The child's recording is new: it notes the driver and GPUs again. */
  __atomic_store_n(&driver_noted, 0, __ATOMIC_RELAXED);
  /* Nor does the child trust the devices its parent's thread cached. */
  wsla_ctx_changed();
}

/* The driver's question: the current context's device, or -1. */
static int context_device(void) {
  __typeof__(real_cuCtxGetDevice) get = WSLA_REAL(WSLA_LIB_CUDA, cuCtxGetDevice);
  CUdevice d;
  return get && get(&d) == CUDA_SUCCESS ? d : -1;
}

int16_t wsla_cuda_device_fresh(void) {
  return hook_device_fresh(WSLA_CACHE_CUDA, context_device);
}

/* A device view taken as a sample, and the driver and GPUs noted with it:
   a path that is slow anyway, so the report has them whichever of an
   allocation or a memory query took the process's first sample. */
static void sample_store(struct wsla_proc *p, int device, const struct wsla_view *v) {
  wsla_sample_store(p, device, v);
  note_driver(p);
}

bool wsla_cuda_view(struct wsla_proc *p, struct wsla_view *v) {
  __typeof__(real_cuMemGetInfo_v2) info =
      WSLA_REAL(WSLA_LIB_CUDA, cuMemGetInfo_v2);
  size_t free_b, total_b;
  if (!info || info(&free_b, &total_b) != CUDA_SUCCESS) return false;
  v->free_bytes = free_b;
  v->total_bytes = total_b;
  v->time_ns = wsla_now(p);
  v->source = WSLA_VIEW_DRIVER;
  return true;
}

void wsla_cuda_alloc(struct wsla_proc *p, uint16_t api, uint16_t flags,
                     bool ok, bool oom, int32_t rc, uint64_t addr,
                     uint64_t size, uint64_t site, uint16_t cause,
                     const struct wsla_ladder *ladder) {
  struct wsla_call c = {api,  -1,   flags, rc,          ok,    oom,
                        addr, size, site,  wsla_now(p), cause, ladder, 0, 0};
  struct wsla_view v;
  bool device_memory = !(flags & WSLA_F_HOST);
  /* A success takes the thread's cached device; a failure, which is slow
     anyway, asks the driver (see wsla_cuda_device). */
  if (device_memory && c.ok) c.device = wsla_cuda_device();
  else if (device_memory && c.oom) c.device = wsla_cuda_device_fresh();
  /* A sample is due (claimed now, taken after the event): the device is
     asked anew first, so that a context the runtime switched behind the
     hooks' backs is caught at the latest one sampling period later, and
     this event and the sample name the right device. */
  bool due = c.ok && device_memory && wsla_sample_claim(p, c.device, c.time_ns);
  if (due) c.device = wsla_cuda_device_fresh();
  bool have_view = c.oom && device_memory && wsla_cuda_view(p, &v);
  if (have_view) c.pool_cached = wsla_pool_cached(WSLA_LIB_CUDA, c.device);
  if (c.oom && device_memory && cause == WSLA_CAUSE_DEVICE && c.device >= 0)
    c.largest_block = wsla_probe_largest(WSLA_LIB_CUDA, c.device,
                                         have_view ? v.free_bytes : c.size);
  wsla_track_alloc(p, &c, have_view ? &v : NULL);
  bool sampled = due && wsla_cuda_view(p, &v);
  if (sampled) sample_store(p, c.device, &v);
  /* With sampling off, an out-of-memory failure (slow anyway) notes them. */
  if (c.oom && device_memory) note_driver(p);
  if (WSLA_UNLIKELY(wsla_opts.reserve.num) && c.ok && device_memory)
    wsla_ballast_tend(p, WSLA_LIB_CUDA, c.device, sampled ? v.free_bytes : 0);
}

void wsla_cuda_free(struct wsla_proc *p, uint16_t api, bool ok, int32_t rc,
                    uint64_t addr, const struct wsla_taken *taken, uint64_t site) {
  wsla_track_free(p, api, rc, ok, addr, taken, site, wsla_now(p));
}

void wsla_cuda_meminfo(struct wsla_proc *p, size_t *free_b, size_t *total_b) {
  int16_t dev = wsla_cuda_device_fresh(); /* the client's query: not hot */
  if (dev >= 0 && wsla_sample_claim(p, dev, wsla_now(p))) {
    struct wsla_view v = {*free_b, *total_b, wsla_now(p), WSLA_VIEW_DRIVER};
    /* A program that asks before it allocates (llama.cpp sizes itself so)
       may then allocate within one sampling period on the fast path. */
    sample_store(p, dev, &v);
  }
  uint64_t f = *free_b, t = *total_b;
  wsla_budget_shape(p, dev, &f, &t);
  *free_b = (size_t)f;
  *total_b = (size_t)t;
}

bool wsla_cuda_forced_stitch(struct wsla_proc *p, uint64_t size, uint64_t *va) {
  unsigned chunks;
  struct wsla_view v;
  /* Only where the device has the memory free: a request that cannot fit
     goes to the runtime, which refuses it without taking anything, rather
     than filling the device chunk by chunk first, under the feet of the
     other threads. */
  return WSLA_UNLIKELY(wsla_opts.stitch.num == WSLA_STITCH_FORCE) && p &&
         size >= wsla_opts.stitch_min.num && wsla_cuda_view(p, &v) &&
         v.free_bytes >= size &&
         wsla_stitch_alloc(WSLA_LIB_CUDA, wsla_cuda_device_fresh(), size, va,
                           &chunks);
}
