/* Test client: calls every intercepted HIP API and prints what it observes, last error included. */
#include <hip/hip_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define SHOW(expr)                                                             \
  do {                                                                         \
    hipError_t e_ = (expr);                                                    \
    printf("%-58s rc=%d\n", #expr, (int)e_);                                   \
  } while (0)

int main(void) {
  void *p = NULL, *big = NULL, *ext = NULL, *man = NULL, *pitched = NULL;
  void *async = NULL, *pooled = NULL, *host = NULL, *host2 = NULL;
  size_t pitch = 0, f = 0, t = 0;
  SHOW(hipMalloc(&p, 1 << 20));
  printf("p=%p\n", p);
  /* The trap: HIP 5 stores every call's status, so the shim must make no
     HIP call after this failure, or the client would read success. */
  SHOW(hipMalloc(&big, (size_t)1 << 40));
  printf("last=%d\n", (int)hipGetLastError());
  printf("last=%d\n", (int)hipGetLastError());
  SHOW(hipMalloc(&big, (size_t)1 << 40));
  printf("peek=%d\n", (int)hipPeekAtLastError());
  SHOW(hipMalloc(NULL, 16));
  printf("last=%d\n", (int)hipGetLastError());
  SHOW(hipExtMallocWithFlags(&ext, 2 << 20, 0));
  printf("ext=%p\n", ext);
  SHOW(hipMallocManaged(&man, 3 << 20, hipMemAttachGlobal));
  printf("managed=%p\n", man);
  SHOW(hipMallocPitch(&pitched, &pitch, 1000, 10));
  printf("pitched=%p pitch=%zu\n", pitched, pitch);
  SHOW(hipMallocAsync(&async, 1 << 20, 0));
  printf("async=%p\n", async);
  SHOW(hipFreeAsync(async, 0));
  hipMemPool_t pool;
  SHOW(hipDeviceGetDefaultMemPool(&pool, 0));
  SHOW(hipMallocFromPoolAsync(&pooled, 4 << 20, pool, 0));
  printf("pooled=%p\n", pooled);
  SHOW(hipFreeAsync(pooled, 0));
  SHOW(hipHostMalloc(&host, 1 << 20, 0));
  printf("host=%s\n", host ? "set" : "null");
  SHOW(hipMallocHost(&host2, 1 << 20));
  printf("host2=%s\n", host2 ? "set" : "null");
  char *buf = malloc(1 << 16);
  SHOW(hipHostRegister(buf, 1 << 16, 0));
  SHOW(hipHostRegister(buf, 1 << 16, 0));
  printf("last=%d\n", (int)hipGetLastError());
  SHOW(hipHostUnregister(buf));
  SHOW(hipHostFree(host));
  SHOW(hipFreeHost(host2));
  SHOW(hipMemGetInfo(&f, &t));
  printf("free=%zu total=%zu\n", f, t);
  SHOW(hipFree((void *)0xdead0000));
  printf("last=%d\n", (int)hipGetLastError());
  SHOW(hipFree(p));
  SHOW(hipFree(ext));
  SHOW(hipFree(man));
  SHOW(hipFree(pitched));
  printf("last=%d\n", (int)hipGetLastError());
  free(buf);
  return 0;
}
