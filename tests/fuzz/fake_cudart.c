/* A CUDA runtime of no device, for fuzzing replay: allocations are numbers handed out, never memory; sizes past 1 TiB run out. */
#include <stddef.h>
#include <stdint.h>

#define OUT_OF_MEMORY 2
#define TOTAL (1ull << 40)

static uintptr_t next = 0x10000;
static unsigned long long used;

static int take(void **p, size_t size) {
  if (!p) return 1;
  if (size > TOTAL - used) return *p = NULL, OUT_OF_MEMORY;
  used += size;
  *p = (void *)next;
  next += 0x1000;
  return 0;
}

/* Frees do not know sizes: the total is only a bound, as in a pool. */
int cudaMalloc(void **p, size_t size) { return take(p, size); }
int cudaMallocHost(void **p, size_t size) { return take(p, size); }
int cudaMallocAsync(void **p, size_t size, void *stream) { return (void)stream, take(p, size); }
int cudaFree(void *p) { return (void)p, 0; }
int cudaFreeHost(void *p) { return (void)p, 0; }
int cudaFreeAsync(void *p, void *stream) { return (void)p, (void)stream, 0; }
int cudaSetDevice(int d) { return d < 0 || d > 15; }
int cudaMemGetInfo(size_t *free_b, size_t *total) {
  *free_b = used < TOTAL ? TOTAL - used : 0;
  *total = TOTAL;
  return 0;
}
int cudaGetLastError(void) { return 0; }
int cudaStreamCreate(void **s) { return *s = (void *)next++, 0; }
int cudaStreamDestroy(void *s) { return (void)s, 0; }
