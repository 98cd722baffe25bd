/* Test backend: a plugin that links libcudart itself, as ggml's CUDA backend does. */
#include <cuda_runtime_api.h>

__attribute__((visibility("default"))) int backend_run(void) {
  void *a, *b;
  int rc = (int)cudaMalloc(&a, 48 << 20);
  rc |= (int)cudaFree(a);
  rc |= (int)cudaMalloc(&b, 16 << 20);
  return rc;
}
