/* Test client: an out-of-memory moment through HIP, whose last error follows every call. */
#include <hip/hip_runtime_api.h>
#include <stdio.h>

int main(void) {
  void *p = NULL;
  hipError_t e = hipMalloc(&p, (size_t)2 << 30);
  printf("hipMalloc 2 GiB: rc=%d set=%d\n", e, p != NULL);
  printf("last=%d\n", hipGetLastError());
  return 0;
}
