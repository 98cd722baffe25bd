/* Test client: churns pairs on several threads, then holds many allocations at once and exits or waits to be killed. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
static long held, pairs;
static size_t size = 4096;
static unsigned long long failures;

static void *work(void *arg) {
  long t = (long)arg;
  /* Pairs first, so that the table is full of freed slots when the held
     allocations arrive. */
  for (long i = 0; i < pairs; i++) {
    void *p;
    if (cudaMalloc(&p, size) != cudaSuccess || cudaFree(p) != cudaSuccess)
      __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
  }
  for (long i = t; i < held; i += THREADS) {
    void *p;
    if (cudaMalloc(&p, size) != cudaSuccess) __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

int main(int argc, char **argv) {
  held = argc > 1 ? atol(argv[1]) : 100000;
  pairs = argc > 2 ? atol(argv[2]) : 10000;
  const char *mode = argc > 3 ? argv[3] : "exit";
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, work, (void *)t);
  for (long t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  printf("ready\n{\"live_allocs\": %ld, \"live_bytes\": %llu, \"failures\": %llu}\n", held,
         (unsigned long long)held * size, failures);
  fflush(stdout);
  if (!strcmp(mode, "kill")) for (;;) pause();
  return failures ? 1 : 0;
}
