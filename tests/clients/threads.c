/* Test client: many threads allocate and free at once; prints the totals it knows it made. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int pairs;
static unsigned long long failures;

static size_t size_of(int thread, int i) { return 256u * (1 + i % 7) + (size_t)thread * 512; }

static void *work(void *arg) {
  int t = (int)(long)arg;
  for (int i = 0; i < pairs; i++) {
    void *p;
    if (cudaMalloc(&p, size_of(t, i)) != cudaSuccess) {
      __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
      continue;
    }
    if (cudaFree(p) != cudaSuccess) __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
  }
  /* t + 1 allocations of (t + 1) MiB stay live to the end. */
  for (int k = 0; k <= t; k++) {
    void *p;
    if (cudaMalloc(&p, (size_t)(t + 1) << 20) != cudaSuccess)
      __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int nthreads = argc > 1 ? atoi(argv[1]) : 8;
  pairs = argc > 2 ? atoi(argv[2]) : 20000;
  pthread_t th[64];
  if (nthreads > 64) nthreads = 64;
  for (int t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, work, (void *)(long)t);
  for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  unsigned long long bytes = 0, live_bytes = 0, live_allocs = 0;
  for (int t = 0; t < nthreads; t++) {
    for (int i = 0; i < pairs; i++) bytes += size_of(t, i);
    live_allocs += (unsigned long long)t + 1;
    live_bytes += ((unsigned long long)t + 1) * ((unsigned long long)(t + 1) << 20);
  }
  bytes += live_bytes;
  printf("{\"malloc_calls\": %llu, \"free_calls\": %llu, \"bytes\": %llu, "
         "\"live_bytes\": %llu, \"live_allocs\": %llu, \"failures\": %llu}\n",
         (unsigned long long)nthreads * pairs + live_allocs,
         (unsigned long long)nthreads * pairs, bytes, live_bytes, live_allocs,
         failures);
  return failures ? 1 : 0;
}
