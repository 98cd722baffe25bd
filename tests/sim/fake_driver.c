/* Simulated libcuda.so.1: the driver API over the simulated device model, with the real names. */
#include <cuda.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "simdev.h"

#define EXPORT __attribute__((visibility("default")))

/* Exports the header declares only under per-thread-stream builds. */
CUresult cuMemAllocAsync_ptsz(CUdeviceptr *, size_t, CUstream);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr, CUstream);
CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *, size_t, CUmemoryPool,
                                      CUstream);
CUresult cuStreamSynchronize_ptsz(CUstream);

struct CUctx_st { int dev; };


struct CUmemPoolHandle_st { int dev; };

static struct CUctx_st contexts[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
static struct CUmemPoolHandle_st pools[8] = {{0}, {1}, {2}, {3},
                                             {4}, {5}, {6}, {7}};
static int initialised;
static __thread CUcontext current;

static CUresult from_sim(int rc) {
  switch (rc) {
  case SIM_OK: return CUDA_SUCCESS;
  case SIM_OOM: return CUDA_ERROR_OUT_OF_MEMORY;
  case SIM_NODEV: return CUDA_ERROR_INVALID_DEVICE;
  default: return CUDA_ERROR_INVALID_VALUE;
  }
}

#define NEED_INIT()                                                            \
  do {                                                                         \
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;                       \
  } while (0)
#define NEED_CTX()                                                             \
  do {                                                                         \
    NEED_INIT();                                                               \
    if (!current) return CUDA_ERROR_INVALID_CONTEXT;                           \
  } while (0)

EXPORT CUresult cuInit(unsigned int flags) {
  if (flags) return CUDA_ERROR_INVALID_VALUE;
  if (sim_device_count() == 0) return CUDA_ERROR_NO_DEVICE;
  initialised = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *v) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  *v = CUDA_VERSION;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *n) {
  NEED_INIT();
  if (!n) return CUDA_ERROR_INVALID_VALUE;
  *n = sim_device_count();
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
  NEED_INIT();
  if (!d) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal < 0 || ordinal >= sim_device_count())
    return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal;
  return CUDA_SUCCESS;
}

/* WSLSIM_LUID: each device's adapter LUID as Windows' counters print it,
   "0xHIGH_0xLOW", comma-separated; unset, the call is not supported, as
   on native Linux. */
EXPORT CUresult cuDeviceGetLuid(char *luid, unsigned *mask, CUdevice d) {
  NEED_INIT();
  if (!luid || !mask) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= sim_device_count()) return CUDA_ERROR_INVALID_DEVICE;
  const char *s = getenv("WSLSIM_LUID");
  for (int i = 0; s && i < d; i++) s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL;
  unsigned high, low;
  if (!s || sscanf(s, "0x%x_0x%x", &high, &low) != 2) return CUDA_ERROR_NOT_SUPPORTED;
  memcpy(luid, &low, 4); /* LUID: LowPart, then HighPart */
  memcpy(luid + 4, &high, 4);
  *mask = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
  NEED_INIT();
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= sim_device_count()) return CUDA_ERROR_INVALID_DEVICE;
  snprintf(name, (size_t)len, "wslsim GPU %d", d);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
  NEED_INIT();
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  uint64_t f, t;
  CUresult rc = from_sim(sim_meminfo(d, &f, &t));
  if (rc == CUDA_SUCCESS) *bytes = t;
  return rc;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice d) {
  NEED_INIT();
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= sim_device_count()) return CUDA_ERROR_INVALID_DEVICE;
  *ctx = &contexts[d];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  NEED_INIT();
  current = ctx;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
  NEED_INIT();
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  *ctx = current;
  return CUDA_SUCCESS;
}

/* The thread's context stack: push and pop, as the driver's, with the
   current context on top (the stack's depth is the simulation's only
   limit). */
static __thread CUcontext pushed[16];
static __thread int pushed_n;

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  NEED_INIT();
  if (!ctx) return CUDA_ERROR_INVALID_VALUE;
  if (pushed_n == (int)(sizeof pushed / sizeof pushed[0]))
    return CUDA_ERROR_OUT_OF_MEMORY;
  pushed[pushed_n++] = current;
  current = ctx;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx) {
  NEED_CTX();
  if (pctx) *pctx = current;
  current = pushed_n ? pushed[--pushed_n] : NULL;
  return CUDA_SUCCESS;
}

/* NVIDIA's runtime reaches the driver's private functions through export
   tables, where no interposer sees the calls.  The simulated one has a
   single entry whatever the id: cuCtxSetCurrent, so that tests can switch
   contexts behind the hooks' backs as that runtime does. */
static const void *export_table[] = {(const void *)cuCtxSetCurrent};

EXPORT CUresult cuGetExportTable(const void **table, const CUuuid *id) {
  if (!table || !id) return CUDA_ERROR_INVALID_VALUE;
  *table = export_table;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *d) {
  NEED_CTX();
  if (!d) return CUDA_ERROR_INVALID_VALUE;
  *d = current->dev;
  return CUDA_SUCCESS;
}

/* One capture at a time, process-wide, in global mode: while it runs, a
   synchronize is illegal (and would ruin the capture), as in CUDA. */
static int capturing;

EXPORT CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
  (void)mode;
  NEED_CTX();
  if (s == NULL || s == CU_STREAM_LEGACY) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  capturing = 1;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamEndCapture(CUstream s, CUgraph *graph) {
  (void)s;
  NEED_CTX();
  if (!capturing) return CUDA_ERROR_ILLEGAL_STATE;
  capturing = 0;
  if (graph) *graph = NULL;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *st) {
  NEED_CTX();
  if (!st) return CUDA_ERROR_INVALID_VALUE;
  if (capturing && (s == NULL || s == CU_STREAM_LEGACY))
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  *st = capturing ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) {
  NEED_CTX();
  if (capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  sim_pool_trim(current->dev, 0); /* release threshold 0, as by default */
  return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream s) {
  (void)s;
  return cuCtxSynchronize();
}
EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) {
  return cuStreamSynchronize(s);
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total_b) {
  NEED_CTX();
  if (!free_b || !total_b) return CUDA_ERROR_INVALID_VALUE;
  uint64_t f, t;
  CUresult rc = from_sim(sim_meminfo(current->dev, &f, &t));
  if (rc == CUDA_SUCCESS) *free_b = f, *total_b = t;
  return rc;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t size) {
  NEED_CTX();
  if (!p || !size) return CUDA_ERROR_INVALID_VALUE;
  uint64_t a;
  CUresult rc = from_sim(sim_alloc(current->dev, size, &a));
  if (rc == CUDA_SUCCESS) *p = a;
  return rc;
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t size,
                                  unsigned int flags) {
  (void)flags;
  return cuMemAlloc_v2(p, size);
}

EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *p, size_t *pitch,
                                   size_t width, size_t height,
                                   unsigned int element) {
  NEED_CTX();
  if (!p || !pitch || !width || !height || (element != 4 && element != 8 &&
                                             element != 16))
    return CUDA_ERROR_INVALID_VALUE;
  size_t row = (width + 511) & ~(size_t)511;
  CUresult rc = cuMemAlloc_v2(p, row * height);
  if (rc == CUDA_SUCCESS) *pitch = row;
  return rc;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  NEED_CTX();
  if (!p) return CUDA_SUCCESS;
  return from_sim(sim_free(p));
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *p, size_t size, CUstream s) {
  (void)s;
  NEED_CTX();
  if (!p || !size) return CUDA_ERROR_INVALID_VALUE;
  uint64_t a;
  CUresult rc = from_sim(sim_pool_alloc(current->dev, size, &a));
  if (rc == CUDA_SUCCESS) *p = a;
  return rc;
}
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *p, size_t size, CUstream s) {
  return cuMemAllocAsync(p, size, s);
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  (void)s;
  NEED_CTX();
  return from_sim(sim_pool_free(p));
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) {
  return cuMemFreeAsync(p, s);
}

EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice d) {
  NEED_INIT();
  if (!pool) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= sim_device_count()) return CUDA_ERROR_INVALID_DEVICE;
  *pool = &pools[d];
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *p, size_t size,
                                        CUmemoryPool pool, CUstream s) {
  (void)s;
  NEED_INIT();
  if (!p || !size || !pool) return CUDA_ERROR_INVALID_VALUE;
  uint64_t a;
  CUresult rc = from_sim(sim_pool_alloc(pool->dev, size, &a));
  if (rc == CUDA_SUCCESS) *p = a;
  return rc;
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *p, size_t size,
                                             CUmemoryPool pool, CUstream s) {
  return cuMemAllocFromPoolAsync(p, size, pool, s);
}

/* What a pool holds: its live allocations (used) and those plus the freed
   memory it keeps (reserved), as NVIDIA's driver reports them. */
EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) {
  NEED_INIT();
  if (!pool || !value) return CUDA_ERROR_INVALID_VALUE;
  uint64_t used = sim_pool_used(pool->dev);
  if (attr == CU_MEMPOOL_ATTR_USED_MEM_CURRENT) *(cuuint64_t *)value = used;
  else if (attr == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)
    *(cuuint64_t *)value = used + sim_pool_held(pool->dev);
  else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
  NEED_INIT();
  if (!pool) return CUDA_ERROR_INVALID_VALUE;
  sim_pool_trim(pool->dev, keep);
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostAlloc(void **p, size_t size, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  return from_sim(sim_host_alloc(size, p));
}

EXPORT CUresult cuMemAllocHost_v2(void **p, size_t size) {
  return cuMemHostAlloc(p, size, 0);
}

/* Unified addressing: a mapped host block's device pointer is its address. */
EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *d, void *p,
                                             unsigned int flags) {
  NEED_CTX();
  if (!d || !p || flags) return CUDA_ERROR_INVALID_VALUE;
  *d = (CUdeviceptr)(uintptr_t)p;
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFreeHost(void *p) {
  NEED_CTX();
  return from_sim(sim_host_free(p));
}

EXPORT CUresult cuMemHostRegister_v2(void *p, size_t size, unsigned int flags) {
  (void)flags;
  NEED_CTX();
  int rc = sim_host_register(p, size);
  return rc == SIM_INVALID && p ? CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED
                                : from_sim(rc);
}

EXPORT CUresult cuMemHostUnregister(void *p) {
  NEED_CTX();
  return sim_host_unregister(p) == SIM_OK
             ? CUDA_SUCCESS
             : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
  NEED_INIT();
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  if (d < 0 || d >= sim_device_count()) return CUDA_ERROR_INVALID_DEVICE;
  switch (a) {
  case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: *v = 1; break;
  case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: *v = 1; break;
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
  default: *v = 0; break;
  }
  return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetAllocationGranularity(size_t *g,
                                              const CUmemAllocationProp *prop,
                                              CUmemAllocationGranularity_flags f) {
  (void)f;
  NEED_INIT();
  if (!g || !prop) return CUDA_ERROR_INVALID_VALUE;
  *g = SIM_VMM_GRANULARITY;
  return CUDA_SUCCESS;
}

static CUresult from_vmm(int rc) {
  return rc == SIM_OK ? CUDA_SUCCESS : rc == SIM_OOM ? CUDA_ERROR_OUT_OF_MEMORY
                                                     : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size,
                                    size_t align, CUdeviceptr addr,
                                    unsigned long long flags) {
  (void)align, (void)addr, (void)flags;
  NEED_INIT();
  if (!ptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t va;
  CUresult rc = from_vmm(sim_vmm_reserve(size, &va));
  if (rc == CUDA_SUCCESS) *ptr = va;
  return rc;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  NEED_INIT();
  return from_vmm(sim_vmm_unreserve(ptr, size));
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size,
                            const CUmemAllocationProp *prop,
                            unsigned long long flags) {
  NEED_INIT();
  if (!h || !prop || flags || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
      prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return CUDA_ERROR_INVALID_VALUE;
  uint64_t handle;
  CUresult rc = from_vmm(sim_vmm_create(prop->location.id, size, &handle));
  if (rc == CUDA_SUCCESS) *h = handle;
  return rc;
}

EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
  NEED_INIT();
  return from_vmm(sim_vmm_release(h));
}

EXPORT CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *h,
                                            void *addr) {
  NEED_INIT();
  if (!h) return CUDA_ERROR_INVALID_VALUE;
  uint64_t handle;
  CUresult rc = from_vmm(sim_vmm_retain((uint64_t)(uintptr_t)addr, &handle));
  if (rc == CUDA_SUCCESS) *h = handle;
  return rc;
}

EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                         CUmemGenericAllocationHandle h,
                         unsigned long long flags) {
  NEED_INIT();
  if (flags || offset) return CUDA_ERROR_INVALID_VALUE;
  return from_vmm(sim_vmm_map(ptr, size, h));
}

EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  NEED_INIT();
  return from_vmm(sim_vmm_unmap(ptr, size));
}

EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
                               const CUmemAccessDesc *desc, size_t count) {
  (void)ptr, (void)size;
  NEED_INIT();
  return desc && count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorName(CUresult e, const char **s) {
  if (!s) return CUDA_ERROR_INVALID_VALUE;
  switch (e) {
  case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
  case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
  case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
  default: *s = "CUDA_ERROR_UNKNOWN"; break;
  }
  return CUDA_SUCCESS;
}

/* Base name -> the entry point the real driver hands out for it. */
struct proc {
  const char *name;
  void *fn;
  void *fn_ptsz; /* the per-thread-default-stream variant, if any */
};

#define P(name, fn) {name, (void *)fn, NULL}
#define PS(name, fn) {name, (void *)fn, (void *)fn##_ptsz}
static const struct proc procs[] = {
    P("cuInit", cuInit),
    P("cuDriverGetVersion", cuDriverGetVersion),
    P("cuDeviceGetCount", cuDeviceGetCount),
    P("cuDeviceGet", cuDeviceGet),
    P("cuDeviceGetName", cuDeviceGetName),
    P("cuDeviceTotalMem", cuDeviceTotalMem_v2),
    P("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain),
    P("cuCtxSetCurrent", cuCtxSetCurrent),
    P("cuCtxGetCurrent", cuCtxGetCurrent),
    P("cuCtxGetDevice", cuCtxGetDevice),
    P("cuCtxPushCurrent", cuCtxPushCurrent_v2),
    P("cuCtxPopCurrent", cuCtxPopCurrent_v2),
    P("cuCtxSynchronize", cuCtxSynchronize),
    P("cuStreamBeginCapture", cuStreamBeginCapture_v2),
    P("cuStreamEndCapture", cuStreamEndCapture),
    P("cuStreamIsCapturing", cuStreamIsCapturing),
    PS("cuStreamSynchronize", cuStreamSynchronize),
    P("cuMemGetInfo", cuMemGetInfo_v2),
    P("cuMemAlloc", cuMemAlloc_v2),
    P("cuMemAllocManaged", cuMemAllocManaged),
    P("cuMemAllocPitch", cuMemAllocPitch_v2),
    P("cuMemFree", cuMemFree_v2),
    PS("cuMemAllocAsync", cuMemAllocAsync),
    PS("cuMemFreeAsync", cuMemFreeAsync),
    PS("cuMemAllocFromPoolAsync", cuMemAllocFromPoolAsync),
    P("cuDeviceGetDefaultMemPool", cuDeviceGetDefaultMemPool),
    P("cuMemPoolTrimTo", cuMemPoolTrimTo),
    P("cuMemPoolGetAttribute", cuMemPoolGetAttribute),
    P("cuMemHostAlloc", cuMemHostAlloc),
    P("cuMemAllocHost", cuMemAllocHost_v2),
    P("cuMemFreeHost", cuMemFreeHost),
    P("cuMemHostGetDevicePointer", cuMemHostGetDevicePointer_v2),
    P("cuMemHostRegister", cuMemHostRegister_v2),
    P("cuMemHostUnregister", cuMemHostUnregister),
    P("cuGetErrorName", cuGetErrorName),
    P("cuGetProcAddress", cuGetProcAddress_v2),
    P("cuDeviceGetAttribute", cuDeviceGetAttribute),
    P("cuMemGetAllocationGranularity", cuMemGetAllocationGranularity),
    P("cuMemAddressReserve", cuMemAddressReserve),
    P("cuMemAddressFree", cuMemAddressFree),
    P("cuMemCreate", cuMemCreate),
    P("cuMemRelease", cuMemRelease),
    P("cuMemMap", cuMemMap),
    P("cuMemRetainAllocationHandle", cuMemRetainAllocationHandle),
    P("cuMemUnmap", cuMemUnmap),
    P("cuMemSetAccess", cuMemSetAccess),
};

#undef cuGetProcAddress
CUresult cuGetProcAddress(const char *, void **, int, cuuint64_t);

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn,
                                    int cudaVersion, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult *status) {
  if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
  /* Asked for itself below 12.0, the driver hands out the old four-argument
     ABI, as NVIDIA's does. */
  if (!strcmp(symbol, "cuGetProcAddress") && cudaVersion < 12000) {
    *pfn = (void *)cuGetProcAddress;
    if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
  }
  for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
    if (strcmp(procs[i].name, symbol) != 0) continue;
    bool ptsz = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) &&
                procs[i].fn_ptsz;
    *pfn = ptsz ? procs[i].fn_ptsz : procs[i].fn;
    if (status) *status = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
  }
  *pfn = NULL;
  if (status) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  /* WSLSIM_TRACE=1 names every entry point this driver lacks. */
  const char *trace = getenv("WSLSIM_TRACE");
  if (trace && *trace == '1')
    fprintf(stderr, "wslsim: no entry point %s (version %d, flags %llu)\n",
            symbol, cudaVersion, (unsigned long long)flags);
  return CUDA_ERROR_NOT_FOUND;
}

/* The pre-12.0 ABI: no status. */
EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn,
                                 int cudaVersion, cuuint64_t flags) {
  CUdriverProcAddressQueryResult st;
  return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, &st);
}
