/* Benchmark client: N cudaMalloc+cudaFree pairs per thread over a live set of L allocations. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long pairs;

static void *work(void *arg) {
  (void)arg;
  for (long i = 0; i < pairs; i++) {
    void *p;
    if (cudaMalloc(&p, 4096) != cudaSuccess || cudaFree(p) != cudaSuccess) {
      fprintf(stderr, "pair_bench: allocation failed\n");
      exit(1);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: pair_bench PAIRS_PER_THREAD THREADS LIVE\n");
    return 2;
  }
  pairs = atol(argv[1]);
  int threads = atoi(argv[2]);
  long live = atol(argv[3]);
  for (long i = 0; i < live; i++) {
    void *p;
    if (cudaMalloc(&p, 512) != cudaSuccess) return 1;
  }
  pthread_t th[64];
  if (threads < 1 || threads > 64) return 2;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, work, NULL);
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%.1f\n", ns / ((double)pairs * threads));
  return 0;
}
