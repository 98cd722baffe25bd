/* Test client: the budget client's load through the driver API, printing all it observes. */
#include <cuda.h>
#include <stdio.h>

int main(void) {
  CUdevice d;
  CUcontext c;
  cuInit(0);
  cuDeviceGet(&d, 0);
  cuDevicePrimaryCtxRetain(&c, d);
  cuCtxSetCurrent(c);
  size_t f = 0, t = 0;
  CUresult e = cuMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 6; i++) {
    CUdeviceptr p = 0;
    e = cuMemAlloc(&p, (size_t)512 << 20);
    printf("cuMemAlloc 512 MiB: rc=%d p=%#llx\n", e, (unsigned long long)p);
  }
  e = cuMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 3; i++) {
    void *h = NULL;
    e = cuMemAllocHost(&h, (size_t)32 << 20);
    printf("cuMemAllocHost 32 MiB: rc=%d set=%d\n", e, h != NULL);
  }
  return 0;
}
