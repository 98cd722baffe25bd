/* Test library: its constructor looks up the driver and allocates, so the shim starts up inside the loader. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>

static char result[256];

__attribute__((constructor)) static void start(void) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  CUresult (*gpa)(const char *, void **, int, cuuint64_t,
                  CUdriverProcAddressQueryResult *) =
      h ? dlsym(h, "cuGetProcAddress_v2") : NULL;
  void *alloc = NULL;
  CUdriverProcAddressQueryResult st;
  CUresult rc = gpa ? gpa("cuMemAlloc", &alloc, 12000, 0, &st) : CUDA_ERROR_NOT_FOUND;
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, 2 << 20); /* starts the runtime and a context */
  CUdeviceptr d = 0;
  CUresult ra = alloc ? ((CUresult(*)(CUdeviceptr *, size_t))alloc)(&d, 4 << 20)
                      : CUDA_ERROR_NOT_FOUND;
  snprintf(result, sizeof result, "lookup=%d cudaMalloc=%d cuMemAlloc=%d", rc, e, ra);
}

__attribute__((visibility("default"))) const char *ctor_result(void) {
  return result;
}
