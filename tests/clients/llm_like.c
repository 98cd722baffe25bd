/* Demo client: loads "weights", a KV cache and a growing compute buffer the way llama.cpp does, until the GPU runs out. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static void *must(size_t size, const char *what) {
  void *p;
  cudaError_t e = cudaMalloc(&p, size);
  if (e != cudaSuccess) {
    /* ggml's behaviour: print, then abort. */
    fprintf(stderr, "%s: allocating %zu MiB failed\nCUDA error: %s\n", what,
            size / MiB, cudaGetErrorString(e));
    abort();
  }
  return p;
}

int main(void) {
  size_t free_b, total_b;
  cudaMemGetInfo(&free_b, &total_b);
  printf("llm_like: GPU has %zu MiB free of %zu MiB\n", free_b / MiB, total_b / MiB);
  for (int layer = 0; layer < 32; layer++) must(144 * MiB, "load_tensors");
  printf("llm_like: model weights loaded (32 layers, %llu MiB)\n", (unsigned long long)32 * 144);
  void *pinned;
  if (cudaMallocHost(&pinned, 512 * MiB) != cudaSuccess) pinned = NULL;
  must(1024 * MiB, "kv_cache");
  printf("llm_like: KV cache 1024 MiB\n");
  void *compute = must(256 * MiB, "compute_buffer");
  for (size_t ctx = 2; ctx <= 64; ctx *= 2) {
    sleep_ms(200);
    printf("llm_like: context grows, compute buffer %zu MiB\n", ctx * 128);
    fflush(stdout);
    cudaFree(compute);
    compute = must(ctx * 128 * MiB, "compute_buffer");
  }
  printf("llm_like: done\n");
  return 0;
}
