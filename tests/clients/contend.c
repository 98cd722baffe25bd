/* Test client: one thread keeps failing huge requests while another allocates 1 MiB blocks; says how many of those failed. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int big_tries;
static size_t big_size;
static volatile int big_done;
static int big_failed, small_ok, small_failed;

static void *big(void *arg) {
  (void)arg;
  for (int i = 0; i < big_tries; i++) {
    void *p = NULL;
    if (cudaMalloc(&p, big_size) == cudaSuccess) cudaFree(p);
    else big_failed++;
  }
  __atomic_store_n(&big_done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void *small(void *arg) {
  (void)arg;
  /* At least as many as the big ones, and on until they are done. */
  for (int i = 0; i < 100 || !__atomic_load_n(&big_done, __ATOMIC_ACQUIRE); i++) {
    void *p = NULL;
    if (cudaMalloc(&p, (size_t)1 << 20) == cudaSuccess) {
      small_ok++;
      cudaFree(p);
      /* A pause, as a server's requests come: the device is sometimes
         without any of these blocks, when a probe can take all of it. */
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    } else {
      small_failed++;
      cudaGetLastError();
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  big_tries = argc > 1 ? atoi(argv[1]) : 20;
  big_size = (size_t)(argc > 2 ? atoi(argv[2]) : 12288) << 20;
  cudaFree(NULL); /* the context, before the threads */
  if (argc > 3) {
    /* A device already nearly full (a model's weights): only so much is
       left for the small requests, and for the probe's trials. */
    size_t f, t;
    void *weights = NULL;
    cudaMemGetInfo(&f, &t);
    size_t leave = (size_t)atoi(argv[3]) << 20;
    if (f > leave && cudaMalloc(&weights, f - leave) != cudaSuccess) return 2;
  }
  pthread_t a, b;
  if (argc > 4) { /* "alone": the huge requests only */
    big(NULL);
  } else {
    pthread_create(&b, NULL, small, NULL);
    pthread_create(&a, NULL, big, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
  }
  printf("big_failed=%d small_failed=%d\n", big_failed, small_failed);
  fprintf(stderr, "small_ok=%d\n", small_ok);
  return 0;
}
