/* Test client: the same load through HIP, whose last error follows every call. */
#include <hip/hip_runtime_api.h>
#include <stdio.h>

int main(void) {
  size_t f = 0, t = 0;
  hipError_t e = hipMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 6; i++) {
    void *p = NULL;
    e = hipMalloc(&p, (size_t)512 << 20);
    printf("hipMalloc 512 MiB: rc=%d p=%p peek=%d\n", e, p, hipPeekAtLastError());
  }
  printf("last=%d\n", hipGetLastError());
  e = hipMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 3; i++) {
    void *h = NULL;
    e = hipHostMalloc(&h, (size_t)32 << 20, 0);
    printf("hipHostMalloc 32 MiB: rc=%d set=%d peek=%d\n", e, h != NULL, hipPeekAtLastError());
  }
  printf("last=%d\n", hipGetLastError());
  return 0;
}
