/* Test client: fills the device and pinned memory the way a model load does, printing all it observes. */
#include <cuda_runtime_api.h>
#include <stdio.h>

int main(void) {
  size_t f = 0, t = 0;
  cudaError_t e = cudaMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 6; i++) {
    void *p = NULL;
    e = cudaMalloc(&p, (size_t)512 << 20);
    printf("cudaMalloc 512 MiB: rc=%d p=%p peek=%d\n", e, p, cudaPeekAtLastError());
  }
  printf("last=%d\n", cudaGetLastError());
  printf("last=%d\n", cudaGetLastError());
  e = cudaMemGetInfo(&f, &t);
  printf("meminfo=%d free=%zu total=%zu\n", e, f, t);
  for (int i = 0; i < 3; i++) {
    void *h = NULL;
    e = cudaMallocHost(&h, (size_t)32 << 20);
    printf("cudaMallocHost 32 MiB: rc=%d set=%d\n", e, h != NULL);
  }
  printf("last=%d\n", cudaGetLastError());
  return 0;
}
