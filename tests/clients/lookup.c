/* Test client: reaches the driver only through lookups (cuGetProcAddress, dlsym, cudaGetDriverEntryPoint), as runtimes and PyTorch do. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

typedef CUresult (*gpa_v2_t)(const char *, void **, int, cuuint64_t,
                             CUdriverProcAddressQueryResult *);
typedef CUresult (*gpa_v1_t)(const char *, void **, int, cuuint64_t);

static void *h;
static const char *mode;

/* One driver entry point, fetched the way the mode says. */
static void *get(const char *base, const char *versioned) {
  void *fn = NULL;
  if (!strcmp(mode, "dlsym")) return dlsym(h, versioned);
  if (!strcmp(mode, "procaddr")) {
    gpa_v2_t gpa = (gpa_v2_t)dlsym(h, "cuGetProcAddress_v2");
    CUdriverProcAddressQueryResult st = 99;
    CUresult rc = gpa(base, &fn, 12000, 0, &st);
    printf("cuGetProcAddress_v2(%s) rc=%d status=%d\n", base, rc, st);
    return fn;
  }
  if (!strcmp(mode, "legacy")) {
    /* CUDA 11's way: ask for cuGetProcAddress itself at 11030, get the
       four-argument ABI, and use it. */
    gpa_v2_t gpa2 = (gpa_v2_t)dlsym(h, "cuGetProcAddress_v2");
    gpa_v1_t gpa1 = NULL;
    CUdriverProcAddressQueryResult st;
    gpa2("cuGetProcAddress", (void **)&gpa1, 11030, 0, &st);
    CUresult rc = gpa1(base, &fn, 11030, 0);
    printf("cuGetProcAddress(%s) rc=%d\n", base, rc);
    return fn;
  }
  enum cudaDriverEntryPointQueryResult st = 99;
  cudaError_t rc = cudaGetDriverEntryPointByVersion(base, &fn, 12000,
                                                    cudaEnableDefault, &st);
  printf("cudaGetDriverEntryPointByVersion(%s) rc=%d status=%d\n", base, rc, st);
  if (!strcmp(base, "cuMemFree")) {
    void *old = NULL;
    cudaGetDriverEntryPoint(base, &old, cudaEnableDefault, &st);
    printf("same through cudaGetDriverEntryPoint: %d\n", old == fn);
  }
  return fn;
}

int main(int argc, char **argv) {
  mode = argc > 1 ? argv[1] : "procaddr";
  h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return 2;
  if (!strcmp(mode, "entrypoint")) cudaFree(NULL); /* runtime start-up */
  CUresult (*init)(unsigned) = get("cuInit", "cuInit");
  CUresult (*dev_get)(CUdevice *, int) = get("cuDeviceGet", "cuDeviceGet");
  CUresult (*retain)(CUcontext *, CUdevice) =
      get("cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain");
  CUresult (*set)(CUcontext) = get("cuCtxSetCurrent", "cuCtxSetCurrent");
  CUresult (*alloc)(CUdeviceptr *, size_t) = get("cuMemAlloc", "cuMemAlloc_v2");
  CUresult (*release_)(CUdeviceptr) = get("cuMemFree", "cuMemFree_v2");
  CUresult (*info)(size_t *, size_t *) = get("cuMemGetInfo", "cuMemGetInfo_v2");
  void *missing = get("cuNoSuchThing", "cuNoSuchThing");
  printf("missing=%p\n", missing);
  if (!init || !alloc || !release_ || !info) return 3;
  CUdevice d;
  CUcontext c;
  printf("init=%d\n", init(0));
  CUresult r1 = dev_get(&d, 0);
  CUresult r2 = retain(&c, d);
  CUresult r3 = set(c);
  printf("dev=%d ctx=%d set=%d\n", r1, r2, r3);
  CUdeviceptr a, b;
  printf("alloc=%d\n", alloc(&a, 32 << 20));
  printf("alloc=%d\n", alloc(&b, 16 << 20));
  printf("free=%d\n", release_(b));
  size_t f, t;
  CUresult ri = info(&f, &t);
  printf("info=%d used=%zu\n", ri, (t - f) >> 20);
  return 0;
}
