/* Test client: out-of-memory moments that pass (a holder lets go, a pool keeps freed memory), and one that does not. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

cudaError_t cudaFreeAsync_ptsz(void *, cudaStream_t);

#define GiB ((size_t)1 << 30)

/* How many physical allocations back [p, p + size), asked of the driver a
   granule at a time; -1 where some part is not VMM memory. */
static int physical_chunks(void *p, size_t size) {
  int n = 0;
  CUmemGenericAllocationHandle last = 0;
  for (size_t off = 0; off < size; off += (size_t)2 << 20) {
    CUmemGenericAllocationHandle h;
    if (cuMemRetainAllocationHandle(&h, (char *)p + off) != CUDA_SUCCESS) return -1;
    if (n == 0 || h != last) n++;
    last = h;
    cuMemRelease(h);
  }
  return n;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "wait";
  void *p = NULL, *q = NULL;
  cudaError_t e;
  if (!strcmp(mode, "wait") || !strcmp(mode, "fail")) {
    e = cudaMalloc(&p, 2 * GiB);
    printf("cudaMalloc 2 GiB: rc=%d set=%d\n", e, p != NULL);
  } else if (!strcmp(mode, "pool") || !strcmp(mode, "capture")) {
    cudaStream_t s = (cudaStream_t)0x10;
    if (!strcmp(mode, "capture"))
      printf("begin capture: %d\n", cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    printf("cudaMallocAsync 3 GiB: %d\n", cudaMallocAsync(&q, 3 * GiB, s));
    printf("cudaFreeAsync: %d\n", cudaFreeAsync(q, s));
    e = cudaMalloc(&p, 3 * GiB);
    printf("cudaMalloc 3 GiB: rc=%d set=%d\n", e, p != NULL);
    if (!strcmp(mode, "capture"))
      printf("end capture: %d\n", cudaStreamEndCapture(s, NULL));
  } else if (!strcmp(mode, "fragment") || !strcmp(mode, "force") ||
             !strcmp(mode, "drv-fragment")) {
    /* 2 GiB free in four 512 MiB holes, then a 1 GiB request; freed, every
       byte must come back. */
    void *b[8];
    size_t f, t;
    for (int i = 0; i < 8; i++) cudaMalloc(&b[i], (size_t)512 << 20);
    for (int i = 0; i < 8; i += 2) cudaFree(b[i]);
    cudaMemGetInfo(&f, &t);
    printf("free before: %zu MiB\n", f >> 20);
    size_t want = !strcmp(mode, "force") ? (size_t)256 << 20 : GiB;
    if (!strcmp(mode, "drv-fragment")) {
      CUdeviceptr dp = 0;
      CUresult r = cuMemAlloc(&dp, want);
      printf("cuMemAlloc %zu MiB: rc=%d set=%d\n", want >> 20, r, dp != 0);
      cudaMemGetInfo(&f, &t);
      printf("free with it: %zu MiB\n", f >> 20);
      printf("cuMemFree: %d\n", dp ? (int)cuMemFree(dp) : -1);
    } else {
      e = cudaMalloc(&p, want);
      printf("cudaMalloc %zu MiB: rc=%d set=%d\n", want >> 20, e, p != NULL);
      if (!strcmp(mode, "force") && p)
        printf("physical chunks: %d\n", physical_chunks(p, want));
      cudaMemGetInfo(&f, &t);
      printf("free with it: %zu MiB\n", f >> 20);
      printf("cudaFree: %d\n", p ? (int)cudaFree(p) : -1);
    }
    cudaMemGetInfo(&f, &t);
    printf("free after: %zu MiB\n", f >> 20);
  } else if (!strcmp(mode, "freeasync")) {
    /* Blocks freed stream-ordered (stitched ones under
       WSLALLOC_STITCH=force), then one of them freed again. */
    void *b = NULL;
    size_t f, t;
    cudaFree(NULL); /* the context first: stitching needs its device */
    e = cudaMalloc(&p, (size_t)256 << 20);
    printf("cudaMalloc: rc=%d set=%d\n", e, p != NULL);
    e = cudaMalloc(&b, (size_t)256 << 20);
    printf("cudaMalloc: rc=%d set=%d\n", e, b != NULL);
    e = cudaFreeAsync(p, 0);
    printf("cudaFreeAsync: %d last=%d\n", e, cudaGetLastError());
    e = cudaFreeAsync_ptsz(b, 0);
    printf("cudaFreeAsync_ptsz: %d last=%d\n", e, cudaGetLastError());
    cudaMemGetInfo(&f, &t);
    printf("free after: %zu MiB\n", f >> 20);
    e = cudaFree(p);
    printf("cudaFree again: %d last=%d\n", e, cudaGetLastError());
    e = cudaFree(b);
    printf("cudaFree again: %d last=%d\n", e, cudaGetLastError());
  } else if (!strcmp(mode, "reserve")) {
    size_t f, t;
    void *small = NULL, *more = NULL;
    cudaMalloc(&small, (size_t)512 << 20);
    cudaMemGetInfo(&f, &t);
    printf("free after the first use: %zu MiB\n", f >> 20);
    e = cudaMalloc(&p, 3 * GiB);
    printf("cudaMalloc 3 GiB: rc=%d set=%d\n", e, p != NULL);
    cudaFree(p);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    cudaMalloc(&more, (size_t)64 << 20);
    cudaMemGetInfo(&f, &t);
    printf("free with the ballast back: %zu MiB\n", f >> 20);
  } else if (!strcmp(mode, "spill")) {
    e = cudaMalloc(&p, 2 * GiB);
    printf("cudaMalloc 2 GiB: rc=%d set=%d\n", e, p != NULL);
    printf("cudaFree: %d\n", p ? (int)cudaFree(p) : -1);
  } else if (!strcmp(mode, "drv-reserve") || !strcmp(mode, "drv-spill")) {
    CUdevice d;
    CUcontext c;
    CUdeviceptr small = 0, big = 0, more = 0;
    size_t f, t;
    cuInit(0);
    cuDeviceGet(&d, 0);
    cuDevicePrimaryCtxRetain(&c, d);
    cuCtxSetCurrent(c);
    bool spill = !strcmp(mode, "drv-spill");
    if (!spill) {
      cuMemAlloc(&small, (size_t)512 << 20);
      cuMemGetInfo(&f, &t);
      printf("free after the first use: %zu MiB\n", f >> 20);
    }
    CUresult r = cuMemAlloc(&big, spill ? 2 * GiB : 3 * GiB);
    printf("cuMemAlloc: rc=%d set=%d\n", r, big != 0);
    printf("cuMemFree: %d\n", big ? (int)cuMemFree(big) : -1);
    if (!spill) {
      struct timespec ts = {0, 150 * 1000000L};
      nanosleep(&ts, NULL);
      cuMemAlloc(&more, (size_t)64 << 20);
      cuMemGetInfo(&f, &t);
      printf("free with the ballast back: %zu MiB\n", f >> 20);
    }
  } else if (!strcmp(mode, "drv-wait")) {
    CUdevice d;
    CUcontext c;
    CUdeviceptr dp = 0;
    cuInit(0);
    cuDeviceGet(&d, 0);
    cuDevicePrimaryCtxRetain(&c, d);
    cuCtxSetCurrent(c);
    CUresult r = cuMemAlloc(&dp, 2 * GiB);
    printf("cuMemAlloc 2 GiB: rc=%d set=%d\n", r, dp != 0);
  }
  printf("last=%d\n", cudaGetLastError());
  printf("last=%d\n", cudaGetLastError());
  return 0;
}
