/* Simulated libcudart.so.12/.13: the runtime API over the (simulated) driver, with CUDA's last-error rules. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define EXPORT __attribute__((visibility("default")))

#ifndef SIM_CUDART_VERSION
#error "build with -DSIM_CUDART_VERSION=12080 or 13000"
#endif

cudaError_t cudaMallocAsync_ptsz(void **, size_t, cudaStream_t);
cudaError_t cudaFreeAsync_ptsz(void *, cudaStream_t);
cudaError_t cudaMallocFromPoolAsync_ptsz(void **, size_t, cudaMemPool_t,
                                         cudaStream_t);
cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t);

/*
 * Like NVIDIA's runtime, this one never links libcuda: it dlopen()s
 * libcuda.so.1 at its first call and takes every entry point by name, or,
 * with WSLSIM_CUDART_PROCADDR=1, only through cuGetProcAddress_v2.
 */
static struct {
  CUresult (*init)(unsigned);
  CUresult (*device_get_count)(int *);
  CUresult (*primary_retain)(CUcontext *, CUdevice);
  CUresult (*ctx_set)(CUcontext);
  CUresult (*ctx_sync)(void);
  CUresult (*mem_info)(size_t *, size_t *);
  CUresult (*alloc)(CUdeviceptr *, size_t);
  CUresult (*alloc_managed)(CUdeviceptr *, size_t, unsigned);
  CUresult (*free)(CUdeviceptr);
  CUresult (*alloc_async)(CUdeviceptr *, size_t, CUstream);
  CUresult (*free_async)(CUdeviceptr, CUstream);
  CUresult (*alloc_from_pool)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
  CUresult (*default_pool)(CUmemoryPool *, CUdevice);
  CUresult (*pool_trim)(CUmemoryPool, size_t);
  CUresult (*host_alloc)(void **, size_t, unsigned);
  CUresult (*host_free)(void *);
  CUresult (*host_register)(void *, size_t, unsigned);
  CUresult (*host_unregister)(void *);
  CUresult (*begin_capture)(CUstream, CUstreamCaptureMode);
  CUresult (*end_capture)(CUstream, CUgraph *);
} drv;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cudaError_t init_error; /* sticky, as NVIDIA's is without a driver */
static int device_count;

static __thread cudaError_t last_error;
static __thread int current_device;
static __thread int context_bound = -1;

static void *entry(void *h, const char *base, const char *versioned) {
  static CUresult (*gpa)(const char *, void **, int, cuuint64_t,
                         CUdriverProcAddressQueryResult *);
  const char *mode = getenv("WSLSIM_CUDART_PROCADDR");
  if (mode && *mode == '1') {
    if (!gpa) gpa = dlsym(h, "cuGetProcAddress_v2");
    void *fn = NULL;
    CUdriverProcAddressQueryResult st;
    if (gpa && gpa(base, &fn, SIM_CUDART_VERSION, 0, &st) == CUDA_SUCCESS)
      return fn;
    return NULL;
  }
  return dlsym(h, versioned);
}

static void load_driver(void) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    init_error = cudaErrorInsufficientDriver;
    return;
  }
#define E(field, base, versioned) drv.field = entry(h, base, versioned)
  E(init, "cuInit", "cuInit");
  E(device_get_count, "cuDeviceGetCount", "cuDeviceGetCount");
  E(primary_retain, "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain");
  E(ctx_set, "cuCtxSetCurrent", "cuCtxSetCurrent");
  E(ctx_sync, "cuCtxSynchronize", "cuCtxSynchronize");
  E(mem_info, "cuMemGetInfo", "cuMemGetInfo_v2");
  E(alloc, "cuMemAlloc", "cuMemAlloc_v2");
  E(alloc_managed, "cuMemAllocManaged", "cuMemAllocManaged");
  E(free, "cuMemFree", "cuMemFree_v2");
  E(alloc_async, "cuMemAllocAsync", "cuMemAllocAsync");
  E(free_async, "cuMemFreeAsync", "cuMemFreeAsync");
  E(alloc_from_pool, "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync");
  E(default_pool, "cuDeviceGetDefaultMemPool", "cuDeviceGetDefaultMemPool");
  E(pool_trim, "cuMemPoolTrimTo", "cuMemPoolTrimTo");
  E(host_alloc, "cuMemHostAlloc", "cuMemHostAlloc");
  E(host_free, "cuMemFreeHost", "cuMemFreeHost");
  E(host_register, "cuMemHostRegister", "cuMemHostRegister_v2");
  E(host_unregister, "cuMemHostUnregister", "cuMemHostUnregister");
  E(begin_capture, "cuStreamBeginCapture", "cuStreamBeginCapture_v2");
  E(end_capture, "cuStreamEndCapture", "cuStreamEndCapture");
#undef E
  if (!drv.init || !drv.alloc || !drv.mem_info) {
    init_error = cudaErrorInsufficientDriver;
    return;
  }
  CUresult rc = drv.init(0);
  if (rc == CUDA_ERROR_NO_DEVICE) init_error = cudaErrorNoDevice;
  else if (rc != CUDA_SUCCESS) init_error = cudaErrorInitializationError;
  else drv.device_get_count(&device_count);
}

static cudaError_t fail(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

static cudaError_t from_cu(CUresult rc) {
  switch (rc) {
  case CUDA_SUCCESS: return cudaSuccess;
  case CUDA_ERROR_OUT_OF_MEMORY: return cudaErrorMemoryAllocation;
  case CUDA_ERROR_INVALID_DEVICE: return cudaErrorInvalidDevice;
  case CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED:
    return cudaErrorHostMemoryAlreadyRegistered;
  case CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED:
    return cudaErrorHostMemoryNotRegistered;
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    return cudaErrorStreamCaptureUnsupported;
  case CUDA_ERROR_ILLEGAL_STATE: return cudaErrorIllegalState;
  default: return cudaErrorInvalidValue;
  }
}

/* Every runtime call binds the current device's primary context. */
static cudaError_t ready(void) {
  pthread_once(&once, load_driver);
  if (init_error) return init_error;
  if (context_bound != current_device) {
    CUcontext ctx;
    if (drv.primary_retain(&ctx, current_device) != CUDA_SUCCESS)
      return cudaErrorInvalidDevice;
    drv.ctx_set(ctx);
    context_bound = current_device;
  }
  return cudaSuccess;
}

#define READY()                                                                \
  do {                                                                         \
    cudaError_t r_ = ready();                                                  \
    if (r_) return fail(r_);                                                   \
  } while (0)

EXPORT cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_error;
  if (!init_error) last_error = cudaSuccess;
  return e;
}

EXPORT cudaError_t cudaPeekAtLastError(void) { return last_error; }

EXPORT cudaError_t cudaRuntimeGetVersion(int *v) {
  if (!v) return fail(cudaErrorInvalidValue);
  *v = SIM_CUDART_VERSION;
  return cudaSuccess;
}

EXPORT cudaError_t cudaDriverGetVersion(int *v) {
  if (!v) return fail(cudaErrorInvalidValue);
  pthread_once(&once, load_driver);
  *v = init_error == cudaErrorInsufficientDriver ? 0 : CUDA_VERSION;
  return cudaSuccess;
}

EXPORT cudaError_t cudaGetDeviceCount(int *n) {
  if (!n) return fail(cudaErrorInvalidValue);
  pthread_once(&once, load_driver);
  if (init_error) return fail(init_error);
  *n = device_count;
  return cudaSuccess;
}

EXPORT cudaError_t cudaGetDevice(int *d) {
  if (!d) return fail(cudaErrorInvalidValue);
  pthread_once(&once, load_driver);
  if (init_error) return fail(init_error);
  *d = current_device;
  return cudaSuccess;
}

EXPORT cudaError_t cudaSetDevice(int d) {
  pthread_once(&once, load_driver);
  if (init_error) return fail(init_error);
  if (d < 0 || d >= device_count) return fail(cudaErrorInvalidDevice);
  current_device = d;
  return fail(ready());
}

/* Streams are opaque to the simulated device: a handle of its own each, so
   that clients (and replay) can keep theirs apart. */
EXPORT cudaError_t cudaStreamCreate(cudaStream_t *s) {
  READY();
  if (!s) return fail(cudaErrorInvalidValue);
  *s = (cudaStream_t)calloc(1, 64);
  return fail(*s ? cudaSuccess : cudaErrorMemoryAllocation);
}

EXPORT cudaError_t cudaStreamDestroy(cudaStream_t s) {
  READY();
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  free(s);
  return cudaSuccess;
}

EXPORT cudaError_t cudaStreamBeginCapture(cudaStream_t s,
                                          enum cudaStreamCaptureMode mode) {
  READY();
  return fail(from_cu(drv.begin_capture((CUstream)s, (CUstreamCaptureMode)mode)));
}

EXPORT cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
  READY();
  return fail(from_cu(drv.end_capture((CUstream)s, (CUgraph *)g)));
}

EXPORT cudaError_t cudaDeviceSynchronize(void) {
  READY();
  return fail(from_cu(drv.ctx_sync()));
}

EXPORT cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  (void)s;
  return cudaDeviceSynchronize();
}
EXPORT cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t s) {
  return cudaStreamSynchronize(s);
}

EXPORT cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
  READY();
  if (!free_b || !total_b) return fail(cudaErrorInvalidValue);
  return fail(from_cu(drv.mem_info(free_b, total_b)));
}

EXPORT cudaError_t cudaMalloc(void **p, size_t size) {
  READY();
  if (!p) return fail(cudaErrorInvalidValue);
  if (size == 0) {
    *p = NULL;
    return cudaSuccess;
  }
  CUdeviceptr d;
  cudaError_t e = from_cu(drv.alloc(&d, size));
  if (e == cudaSuccess) *p = (void *)(uintptr_t)d;
  return fail(e);
}

EXPORT cudaError_t cudaMallocManaged(void **p, size_t size, unsigned flags) {
  READY();
  if (!p || !size) return fail(cudaErrorInvalidValue);
  CUdeviceptr d;
  cudaError_t e = from_cu(drv.alloc_managed(&d, size, flags));
  if (e == cudaSuccess) *p = (void *)(uintptr_t)d;
  return fail(e);
}

EXPORT cudaError_t cudaMallocPitch(void **p, size_t *pitch, size_t width,
                                   size_t height) {
  READY();
  if (!p || !pitch) return fail(cudaErrorInvalidValue);
  size_t row = (width + 511) & ~(size_t)511;
  cudaError_t e = cudaMalloc(p, row * height);
  if (e == cudaSuccess) *pitch = row;
  return e;
}

EXPORT cudaError_t cudaMalloc3D(struct cudaPitchedPtr *pp,
                                struct cudaExtent ext) {
  READY();
  if (!pp) return fail(cudaErrorInvalidValue);
  size_t row = (ext.width + 511) & ~(size_t)511;
  void *p;
  cudaError_t e = cudaMalloc(&p, row * ext.height * ext.depth);
  if (e == cudaSuccess) {
    pp->ptr = p;
    pp->pitch = row;
    pp->xsize = ext.width;
    pp->ysize = ext.height;
  }
  return e;
}

EXPORT cudaError_t cudaFree(void *p) {
  READY();
  return fail(from_cu(drv.free((CUdeviceptr)(uintptr_t)p)));
}

EXPORT cudaError_t cudaMallocAsync(void **p, size_t size, cudaStream_t s) {
  READY();
  if (!p) return fail(cudaErrorInvalidValue);
  CUdeviceptr d;
  cudaError_t e = from_cu(drv.alloc_async(&d, size, (CUstream)s));
  if (e == cudaSuccess) *p = (void *)(uintptr_t)d;
  return fail(e);
}
EXPORT cudaError_t cudaMallocAsync_ptsz(void **p, size_t size, cudaStream_t s) {
  return cudaMallocAsync(p, size, s);
}

EXPORT cudaError_t cudaFreeAsync(void *p, cudaStream_t s) {
  READY();
  return fail(from_cu(drv.free_async((CUdeviceptr)(uintptr_t)p, (CUstream)s)));
}
EXPORT cudaError_t cudaFreeAsync_ptsz(void *p, cudaStream_t s) {
  return cudaFreeAsync(p, s);
}

EXPORT cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t *pool, int dev) {
  READY();
  return fail(from_cu(drv.default_pool((CUmemoryPool *)pool, dev)));
}

EXPORT cudaError_t cudaMallocFromPoolAsync(void **p, size_t size,
                                           cudaMemPool_t pool,
                                           cudaStream_t s) {
  READY();
  if (!p) return fail(cudaErrorInvalidValue);
  CUdeviceptr d;
  cudaError_t e = from_cu(
      drv.alloc_from_pool(&d, size, (CUmemoryPool)pool, (CUstream)s));
  if (e == cudaSuccess) *p = (void *)(uintptr_t)d;
  return fail(e);
}
EXPORT cudaError_t cudaMallocFromPoolAsync_ptsz(void **p, size_t size,
                                                cudaMemPool_t pool,
                                                cudaStream_t s) {
  return cudaMallocFromPoolAsync(p, size, pool, s);
}

EXPORT cudaError_t cudaMemPoolTrimTo(cudaMemPool_t pool, size_t keep) {
  READY();
  return fail(from_cu(drv.pool_trim((CUmemoryPool)pool, keep)));
}

EXPORT cudaError_t cudaHostAlloc(void **p, size_t size, unsigned flags) {
  READY();
  if (!p) return fail(cudaErrorInvalidValue);
  return fail(from_cu(drv.host_alloc(p, size, flags)));
}

EXPORT cudaError_t cudaMallocHost(void **p, size_t size) {
  return cudaHostAlloc(p, size, 0);
}

EXPORT cudaError_t cudaFreeHost(void *p) {
  READY();
  return fail(from_cu(drv.host_free(p)));
}

EXPORT cudaError_t cudaHostRegister(void *p, size_t size, unsigned flags) {
  READY();
  if (!p || !size) return fail(cudaErrorInvalidValue);
  return fail(from_cu(drv.host_register(p, size, flags)));
}

EXPORT cudaError_t cudaHostUnregister(void *p) {
  READY();
  return fail(from_cu(drv.host_unregister(p)));
}

/* The runtime asks the driver's cuGetProcAddress_v2, as NVIDIA's does. */
EXPORT cudaError_t cudaGetDriverEntryPointByVersion(
    const char *symbol, void **fn, unsigned int version,
    unsigned long long flags, enum cudaDriverEntryPointQueryResult *st) {
  READY();
  if (!symbol || !fn) return fail(cudaErrorInvalidValue);
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  CUresult (*gpa)(const char *, void **, int, cuuint64_t,
                  CUdriverProcAddressQueryResult *) =
      h ? dlsym(h, "cuGetProcAddress_v2") : NULL;
  if (h) dlclose(h);
  if (!gpa) return fail(cudaErrorInsufficientDriver);
  CUdriverProcAddressQueryResult ds;
  CUresult rc = gpa(symbol, fn, (int)version,
                    flags & cudaEnablePerThreadDefaultStream
                        ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                        : 0,
                    &ds);
  if (st)
    *st = ds == CU_GET_PROC_ADDRESS_SUCCESS ? cudaDriverEntryPointSuccess
                                            : cudaDriverEntryPointSymbolNotFound;
  return rc == CUDA_SUCCESS || rc == CUDA_ERROR_NOT_FOUND ? cudaSuccess
                                                          : fail(from_cu(rc));
}

EXPORT cudaError_t cudaGetDriverEntryPoint(
    const char *symbol, void **fn, unsigned long long flags,
    enum cudaDriverEntryPointQueryResult *st) {
  return cudaGetDriverEntryPointByVersion(symbol, fn, SIM_CUDART_VERSION,
                                          flags, st);
}

EXPORT const char *cudaGetErrorName(cudaError_t e) {
  switch (e) {
  case cudaSuccess: return "cudaSuccess";
  case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
  case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
  case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
  case cudaErrorNoDevice: return "cudaErrorNoDevice";
  case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
  default: return "cudaErrorUnknown";
  }
}

EXPORT const char *cudaGetErrorString(cudaError_t e) {
  return e == cudaErrorMemoryAllocation ? "out of memory" : cudaGetErrorName(e);
}
