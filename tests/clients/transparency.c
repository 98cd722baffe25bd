/* Test client: calls every intercepted CUDA runtime API, good and bad, and prints all it observes. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

/* Device pointers are deterministic on the simulated GPU; host pointers are
   not (ASLR), so only their being set is printed. */
#define SHOW(expr)                                                             \
  do {                                                                         \
    cudaError_t e_ = (expr);                                                   \
    printf("%-58s rc=%d peek=%d\n", #expr, (int)e_, (int)cudaPeekAtLastError()); \
  } while (0)

int main(void) {
  void *p = NULL, *q = (void *)1, *big = NULL, *r = NULL, *pitched = NULL;
  void *managed = NULL, *async = NULL, *pooled = NULL, *pinned = NULL;
  void *hostalloc = NULL;
  size_t pitch = 0, free_b = 0, total_b = 0;
  int dev = -1;

  SHOW(cudaGetDevice(&dev));
  printf("device=%d\n", dev);
  SHOW(cudaMalloc(&p, 1 << 20));
  printf("p=%p\n", p);
  SHOW(cudaMalloc(NULL, 16));
  SHOW(cudaMalloc(&q, 0));
  printf("q=%p\n", q);
  SHOW(cudaMalloc(&big, (size_t)1 << 40));
  printf("big=%p\n", big);
  SHOW(cudaMalloc(&r, 4096));
  printf("r=%p\n", r);
  /* CUDA keeps the last error until it is read, across successes. */
  printf("last=%d\n", (int)cudaGetLastError());
  printf("last=%d\n", (int)cudaGetLastError());
  SHOW(cudaMallocPitch(&pitched, &pitch, 1000, 10));
  printf("pitched=%p pitch=%zu\n", pitched, pitch);
  struct cudaPitchedPtr pp = {0};
  SHOW(cudaMalloc3D(&pp, (struct cudaExtent){300, 4, 2}));
  printf("3d=%p pitch=%zu\n", pp.ptr, pp.pitch);
  SHOW(cudaMallocManaged(&managed, 3 << 20, cudaMemAttachGlobal));
  printf("managed=%p\n", managed);
  SHOW(cudaMallocAsync(&async, 2 << 20, 0));
  printf("async=%p\n", async);
  SHOW(cudaFreeAsync(async, 0));
  cudaMemPool_t pool;
  SHOW(cudaDeviceGetDefaultMemPool(&pool, 0));
  SHOW(cudaMallocFromPoolAsync(&pooled, 5 << 20, pool, 0));
  printf("pooled=%p\n", pooled);
  SHOW(cudaFreeAsync(pooled, 0));
  SHOW(cudaDeviceSynchronize());
  SHOW(cudaMallocHost(&pinned, 1 << 20));
  printf("pinned=%s\n", pinned ? "set" : "null");
  SHOW(cudaHostAlloc(&hostalloc, 2 << 20, cudaHostAllocPortable));
  printf("hostalloc=%s\n", hostalloc ? "set" : "null");
  char *buf = malloc(1 << 16);
  SHOW(cudaHostRegister(buf, 1 << 16, cudaHostRegisterDefault));
  SHOW(cudaHostRegister(buf, 1 << 16, cudaHostRegisterDefault));
  SHOW(cudaHostUnregister(buf));
  SHOW(cudaHostUnregister(buf));
  printf("last=%d\n", (int)cudaGetLastError());
  SHOW(cudaFree((void *)0xdead0000));
  SHOW(cudaFree(NULL));
  SHOW(cudaFreeHost(pinned));
  SHOW(cudaFreeHost(hostalloc));
  SHOW(cudaMemGetInfo(&free_b, &total_b));
  printf("free=%zu total=%zu\n", free_b, total_b);
  SHOW(cudaMemGetInfo(NULL, &total_b));
  SHOW(cudaFree(p));
  SHOW(cudaFree(p));
  SHOW(cudaFree(r));
  SHOW(cudaFree(pitched));
  SHOW(cudaFree(pp.ptr));
  SHOW(cudaFree(managed));
  printf("last=%d\n", (int)cudaGetLastError());
  free(buf);
  return 0;
}
