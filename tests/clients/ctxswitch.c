/* Test client: allocations follow each thread's device through context switches, each on a known device. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

/* The two threads take turns, so that the output is always in one order. */
static pthread_barrier_t ready, switched, stayed;

/* The second thread stays on device 0 while the first moves to 1. */
static void *stay_on_0(void *arg) {
  (void)arg;
  void *p;
  printf("B dev0 %d\n", (int)cudaMalloc(&p, 1 * MiB));
  pthread_barrier_wait(&ready);
  pthread_barrier_wait(&switched); /* the first thread is on device 1 now */
  printf("B dev0 %d\n", (int)cudaMalloc(&p, 2 * MiB));
  pthread_barrier_wait(&stayed);
  return NULL;
}

/* cudaSetDevice: device 0, 1, then 0 again, beside a thread on 0. */
static int runtime(void) {
  void *p;
  pthread_t b;
  pthread_barrier_init(&ready, NULL, 2);
  pthread_barrier_init(&switched, NULL, 2);
  pthread_barrier_init(&stayed, NULL, 2);
  printf("A set0 %d\n", (int)cudaSetDevice(0));
  printf("A dev0 %d\n", (int)cudaMalloc(&p, 100 * MiB));
  pthread_create(&b, NULL, stay_on_0, NULL);
  pthread_barrier_wait(&ready);
  printf("A set1 %d\n", (int)cudaSetDevice(1));
  printf("A dev1 %d\n", (int)cudaMalloc(&p, 200 * MiB));
  pthread_barrier_wait(&switched);
  pthread_barrier_wait(&stayed);
  pthread_join(b, NULL);
  printf("A dev1 %d\n", (int)cudaMalloc(&p, 8 * MiB));
  printf("A set0 %d\n", (int)cudaSetDevice(0));
  printf("A dev0 %d\n", (int)cudaMalloc(&p, 4 * MiB));
  /* A failed switch changes nothing: still device 0. */
  printf("A set9 %d\n", (int)cudaSetDevice(9));
  cudaGetLastError();
  printf("A dev0 %d\n", (int)cudaMalloc(&p, 16 * MiB));
  return 0;
}

/* The driver API: set, push and pop, directly and through the pointers
   cuGetProcAddress hands out. */
static int driver(void) {
  CUcontext c0, c1, popped = NULL;
  CUdeviceptr d;
  printf("init %d\n", (int)cuInit(0));
  printf("retain %d %d\n", (int)cuDevicePrimaryCtxRetain(&c0, 0),
         (int)cuDevicePrimaryCtxRetain(&c1, 1));
  printf("set0 %d\n", (int)cuCtxSetCurrent(c0));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 8 * MiB));
  printf("set1 %d\n", (int)cuCtxSetCurrent(c1));
  printf("dev1 %d\n", (int)cuMemAlloc(&d, 16 * MiB));
  printf("push0 %d\n", (int)cuCtxPushCurrent(c0));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 32 * MiB));
  printf("pop %d popped0 %d\n", (int)cuCtxPopCurrent(&popped), popped == c0);
  printf("dev1 %d\n", (int)cuMemAlloc(&d, 64 * MiB));
  CUresult (*set)(CUcontext) = NULL, (*push)(CUcontext) = NULL;
  CUresult (*pop)(CUcontext *) = NULL;
  CUdriverProcAddressQueryResult st;
  printf("lookup %d %d %d\n",
         (int)cuGetProcAddress("cuCtxSetCurrent", (void **)&set, 12000, 0, &st),
         (int)cuGetProcAddress("cuCtxPushCurrent", (void **)&push, 12000, 0, &st),
         (int)cuGetProcAddress("cuCtxPopCurrent", (void **)&pop, 12000, 0, &st));
  if (!set || !push || !pop) return 1;
  printf("set0 %d\n", (int)set(c0));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 128 * MiB));
  printf("push1 %d\n", (int)push(c1));
  printf("dev1 %d\n", (int)cuMemAlloc(&d, 256 * MiB));
  printf("pop %d\n", (int)pop(NULL));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 2 * MiB));
  /* A pop with nothing current fails and changes nothing. */
  printf("pop %d\n", (int)cuCtxPopCurrent(NULL));
  printf("pop-empty %d\n", (int)cuCtxPopCurrent(NULL));
  printf("set0 %d\n", (int)cuCtxSetCurrent(c0));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 1 * MiB));
  return 0;
}

/* A switch no hook sees, as NVIDIA's runtime makes through the driver's
   private export table (the simulated driver's holds cuCtxSetCurrent).
   The sample that falls due after it corrects the device. */
static int hidden(void) {
  CUcontext c0, c1;
  CUdeviceptr d;
  const void *table = NULL;
  CUuuid id;
  memset(&id, 0, sizeof id);
  if (cuGetExportTable(&table, &id) != CUDA_SUCCESS || !table) return 1;
  CUresult (*set)(CUcontext) = ((CUresult(*const *)(CUcontext))table)[0];
  cuInit(0);
  cuDevicePrimaryCtxRetain(&c0, 0);
  cuDevicePrimaryCtxRetain(&c1, 1);
  printf("set0 %d\n", (int)cuCtxSetCurrent(c0));
  printf("dev0 %d\n", (int)cuMemAlloc(&d, 8 * MiB));
  printf("hidden-set1 %d\n", (int)set(c1));
  /* Past the sampling period (WSLALLOC_SAMPLE_MS=20): a sample is due. */
  struct timespec ts = {0, 60 * 1000 * 1000};
  nanosleep(&ts, NULL);
  printf("dev1 %d\n", (int)cuMemAlloc(&d, 16 * MiB));
  printf("dev1 %d\n", (int)cuMemAlloc(&d, 32 * MiB));
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(mode, "runtime")) return runtime();
  if (!strcmp(mode, "driver")) return driver();
  if (!strcmp(mode, "hidden")) return hidden();
  fprintf(stderr, "usage: ctxswitch runtime|driver|hidden\n");
  return 2;
}
