/* Test client: many threads ask for device memory at the same instant, and it says how many got it. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_barrier_t start;
static size_t request;
static int pinned; /* cudaMallocHost instead of cudaMalloc */

static void *ask(void *ok) {
  void *p = NULL;
  pthread_barrier_wait(&start);
  *(int *)ok = (pinned ? cudaMallocHost(&p, request) : cudaMalloc(&p, request)) == cudaSuccess;
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 8;
  request = (size_t)(argc > 2 ? atoi(argv[2]) : 600) << 20;
  pinned = argc > 3 && argv[3][0] == 'h';
  if (n < 1 || n > 64) return 2;
  pthread_t t[64];
  int ok[64] = {0}, got = 0;
  cudaFree(NULL); /* the context, before the race */
  pthread_barrier_init(&start, NULL, (unsigned)n);
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, ask, &ok[i]);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL), got += ok[i];
  printf("granted=%d refused=%d\n", got, n - got);
  return 0;
}
