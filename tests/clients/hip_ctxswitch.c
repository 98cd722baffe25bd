/* Test client: HIP allocations follow each thread's device through hipSetDevice and HIP's context calls. */
#include <hip/hip_runtime_api.h>
#include <pthread.h>
#include <stdio.h>

/* HIP's context calls are deprecated, and still called. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define MiB ((size_t)1 << 20)

/* The two threads take turns, so that the output is always in one order. */
static pthread_barrier_t ready, switched, stayed;

/* The second thread stays on device 0 while the first moves to 1. */
static void *stay_on_0(void *arg) {
  (void)arg;
  void *p;
  printf("B dev0 %d\n", (int)hipMalloc(&p, 1 * MiB));
  pthread_barrier_wait(&ready);
  pthread_barrier_wait(&switched);
  printf("B dev0 %d\n", (int)hipMalloc(&p, 2 * MiB));
  pthread_barrier_wait(&stayed);
  return NULL;
}

int main(void) {
  void *p;
  pthread_t b;
  hipCtx_t c0, c1, popped = NULL;
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_barrier_init(&ready, NULL, 2);
  pthread_barrier_init(&switched, NULL, 2);
  pthread_barrier_init(&stayed, NULL, 2);
  printf("A set0 %d\n", (int)hipSetDevice(0));
  printf("A dev0 %d\n", (int)hipMalloc(&p, 100 * MiB));
  pthread_create(&b, NULL, stay_on_0, NULL);
  pthread_barrier_wait(&ready);
  printf("A set1 %d\n", (int)hipSetDevice(1));
  printf("A dev1 %d\n", (int)hipMalloc(&p, 200 * MiB));
  pthread_barrier_wait(&switched);
  pthread_barrier_wait(&stayed);
  pthread_join(b, NULL);
  printf("A retain %d %d\n", (int)hipDevicePrimaryCtxRetain(&c0, 0),
         (int)hipDevicePrimaryCtxRetain(&c1, 1));
  printf("A push0 %d\n", (int)hipCtxPushCurrent(c0));
  printf("A dev0 %d\n", (int)hipMalloc(&p, 4 * MiB));
  printf("A pop %d popped0 %d\n", (int)hipCtxPopCurrent(&popped), popped == c0);
  printf("A dev1 %d\n", (int)hipMalloc(&p, 8 * MiB));
  printf("A ctx0 %d\n", (int)hipCtxSetCurrent(c0));
  printf("A dev0 %d\n", (int)hipMalloc(&p, 16 * MiB));
  printf("A set9 %d\n", (int)hipSetDevice(9));
  printf("A dev0 %d\n", (int)hipMalloc(&p, 32 * MiB));
  return 0;
}
