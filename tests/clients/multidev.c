/* Test client: allocations on two devices must be counted per device. */
#include <cuda_runtime_api.h>
#include <stdio.h>

int main(void) {
  void *a, *b, *c;
  int n = 0;
  cudaGetDeviceCount(&n);
  printf("devices=%d\n", n);
  cudaSetDevice(0);
  printf("dev0 %d\n", (int)cudaMalloc(&a, 100 << 20));
  cudaSetDevice(1);
  printf("dev1 %d\n", (int)cudaMalloc(&b, 200 << 20));
  printf("dev1 %d\n", (int)cudaMalloc(&c, 200 << 20));
  printf("free %d\n", (int)cudaFree(b));
  return 0;
}
