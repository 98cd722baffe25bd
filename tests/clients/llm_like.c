/* Demo client: loads "weights", a KV cache and a growing compute buffer the way llama.cpp does, until the GPU runs out. */
/* Its phases carry the names of llama.cpp's own functions and are exported
   (linked with -rdynamic), as llama.cpp's are from its library, so that the
   shim and the report tell what was being allocated as they do there. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void *must(size_t size, const char *what) {
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

__attribute__((noinline)) void load_tensors(void) {
  for (int layer = 0; layer < 32; layer++) must(144 * MiB, "load_tensors");
  printf("llm_like: model weights loaded (32 layers, %llu MiB)\n", (unsigned long long)32 * 144);
}

__attribute__((noinline)) void llama_kv_cache_init(void) {
  must(1024 * MiB, "kv_cache");
  printf("llm_like: KV cache 1024 MiB\n");
}

__attribute__((noinline)) void *ggml_gallocr_reserve_n(size_t size) {
  void *p = must(size, "compute_buffer");
  __asm__ volatile("" ::: "memory"); /* a frame of its own, not a tail call */
  return p;
}

int main(void) {
  size_t free_b, total_b;
  cudaMemGetInfo(&free_b, &total_b);
  printf("llm_like: GPU has %zu MiB free of %zu MiB\n", free_b / MiB, total_b / MiB);
  load_tensors();
  void *pinned;
  if (cudaMallocHost(&pinned, 512 * MiB) != cudaSuccess) pinned = NULL;
  llama_kv_cache_init();
  void *compute = ggml_gallocr_reserve_n(256 * MiB);
  for (size_t ctx = 2; ctx <= 64; ctx *= 2) {
    sleep_ms(200);
    printf("llm_like: context grows, compute buffer %zu MiB\n", ctx * 128);
    fflush(stdout);
    cudaFree(compute);
    compute = ggml_gallocr_reserve_n(ctx * 128 * MiB);
  }
  printf("llm_like: done\n");
  return 0;
}
