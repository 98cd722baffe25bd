/* GPU validation client: allocations whose sizes it knows, written by kernels and read back, for comparing with the shim's account. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Built twice by nvcc (-x cu, shared and static runtime) for a real GPU,
 * and by the C compiler for the simulated one, which has no kernels and
 * no device memory to copy: there the allocations are made and counted
 * but their contents are not checked, and the output says so.
 *
 * Every mode prints one JSON object on stdout with what the client knows
 * it did, which tests/gpu/checks.py holds against the recording.
 */

#define MiB ((size_t)1 << 20)

static int failures;

static void must(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    fprintf(stderr, "client: %s: %s\n", what, cudaGetErrorString(e));
    failures++;
  }
}

/* The word a buffer holds at index i: depends on both, so a chunk mapped
   in the wrong place, or twice, reads back wrong. */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline uint32_t pattern(uint64_t i, uint32_t seed) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32 | seed);
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return (uint32_t)(x >> 32);
}

#ifdef __CUDACC__
/* The kernels' sum lands here: one allocation of SCRATCH_BYTES, made by
   each mode among those it counts. */
static unsigned long long *sum_dev;
#define SCRATCH_BYTES sizeof(unsigned long long)

__global__ void fill(uint32_t *p, size_t words, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < words;
       i += (size_t)gridDim.x * blockDim.x)
    p[i] = pattern(i, seed);
}

/* Reads every word on the device: a kernel that reads across chunk
   boundaries, not only the copy engine. */
__global__ void total(const uint32_t *p, size_t words, unsigned long long *sum) {
  unsigned long long mine = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < words;
       i += (size_t)gridDim.x * blockDim.x)
    mine += p[i];
  atomicAdd(sum, mine);
}

/* Writes the pattern with a kernel, sums it with another, copies it back
   and compares every word.  Returns the number of wrong words, or -1 where
   a call failed; *device_sum is the kernel's sum. */
static long long write_and_check(void *dev, size_t bytes, uint32_t seed,
                                 unsigned long long *device_sum) {
  size_t words = bytes / 4;
  if (!words) return 0;
  if (!sum_dev || cudaMemset(sum_dev, 0, sizeof *sum_dev) != cudaSuccess) return -1;
  fill<<<1024, 256>>>((uint32_t *)dev, words, seed);
  total<<<1024, 256>>>((const uint32_t *)dev, words, sum_dev);
  uint32_t *host = (uint32_t *)malloc(words * 4);
  long long wrong = -1;
  if (host && cudaMemcpy(host, dev, words * 4, cudaMemcpyDeviceToHost) == cudaSuccess &&
      cudaMemcpy(device_sum, sum_dev, sizeof *device_sum, cudaMemcpyDeviceToHost) == cudaSuccess) {
    unsigned long long host_sum = 0;
    wrong = 0;
    for (size_t i = 0; i < words; i++) {
      wrong += host[i] != pattern(i, seed);
      host_sum += pattern(i, seed);
    }
    if (host_sum != *device_sum) wrong++;
  }
  free(host);
  return cudaGetLastError() == cudaSuccess ? wrong : -1;
}
#define DATA_CHECKED 1
#else
static long long write_and_check(void *dev, size_t bytes, uint32_t seed,
                                 unsigned long long *device_sum) {
  (void)dev, (void)bytes, (void)seed;
  *device_sum = 0;
  return 0;
}
#define DATA_CHECKED 0
#define SCRATCH_BYTES 0
static void *sum_dev;
#endif

/* Makes the scratch sum buffer, where kernels run; counted as the caller's. */
static void scratch_make(size_t *bytes, int *calls) {
  if (!SCRATCH_BYTES) return;
  must(cudaMalloc((void **)&sum_dev, SCRATCH_BYTES), "cudaMalloc (scratch)");
  *bytes += SCRATCH_BYTES;
  (*calls)++;
}

static void scratch_free(void) {
  if (sum_dev) must(cudaFree(sum_dev), "cudaFree (scratch)");
  sum_dev = NULL;
}

/* How many physical allocations back [p, p + size), asked of the driver a
   granule at a time: 0 where the memory is not VMM memory at all. */
static int physical_chunks(void *p, size_t size, size_t granule) {
  int n = 0;
  CUmemGenericAllocationHandle last = 0;
  for (size_t off = 0; off < size; off += granule) {
    CUmemGenericAllocationHandle h;
    if (cuMemRetainAllocationHandle(&h, (char *)p + off) != CUDA_SUCCESS) return 0;
    if (n == 0 || h != last) n++;
    last = h;
    cuMemRelease(h);
  }
  return n;
}

/*
 * account: one of each runtime allocation call, all live at once, then all
 * freed but one block left on purpose.  The recording must show exactly
 * these: the peak, the leak, the pinned peak and the number of calls.
 */
static int account(void) {
  static const size_t sizes[] = {1, 255, 4096, 1 * MiB, 3 * MiB + 17, 64 * MiB, 256 * MiB};
  enum { N = sizeof sizes / sizeof sizes[0] };
  void *blocks[N] = {0}, *pitched = NULL, *async = NULL, *leak = NULL;
  void *pinned = NULL, *host_alloc = NULL;
  size_t pitch = 0, device_bytes = 0, pinned_bytes = 0;
  long long wrong = 0;
  unsigned long long sum;
  cudaStream_t stream = NULL;
  int device_calls = 0, pinned_calls = 0;

  must(cudaStreamCreate(&stream), "cudaStreamCreate");
  scratch_make(&device_bytes, &device_calls);
  for (int i = 0; i < N; i++) {
    must(cudaMalloc(&blocks[i], sizes[i]), "cudaMalloc");
    device_bytes += sizes[i];
    device_calls++;
  }
  must(cudaMallocPitch(&pitched, &pitch, 1000, 100), "cudaMallocPitch");
  device_bytes += pitch * 100;
  device_calls++;
  must(cudaMallocAsync(&async, 32 * MiB, stream), "cudaMallocAsync");
  device_bytes += 32 * MiB;
  device_calls++;
  must(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  must(cudaMalloc(&leak, 7 * MiB), "cudaMalloc (kept)");
  device_bytes += 7 * MiB;
  device_calls++;
  must(cudaMallocHost(&pinned, 8 * MiB), "cudaMallocHost");
  must(cudaHostAlloc(&host_alloc, 4 * MiB, cudaHostAllocDefault), "cudaHostAlloc");
  pinned_bytes = 12 * MiB;
  pinned_calls = 2;

  for (int i = 0; i < N; i++) {
    long long w = blocks[i] ? write_and_check(blocks[i], sizes[i], (uint32_t)i, &sum) : -1;
    wrong = w < 0 || wrong < 0 ? -1 : wrong + w;
  }
  long long w = write_and_check(async, 32 * MiB, 99, &sum);
  wrong = w < 0 || wrong < 0 ? -1 : wrong + w;

  for (int i = 0; i < N; i++) must(cudaFree(blocks[i]), "cudaFree");
  must(cudaFree(pitched), "cudaFree (pitched)");
  must(cudaFreeAsync(async, stream), "cudaFreeAsync");
  must(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  scratch_free();
  must(cudaFreeHost(pinned), "cudaFreeHost");
  must(cudaFreeHost(host_alloc), "cudaFreeHost (cudaHostAlloc)");
  must(cudaStreamDestroy(stream), "cudaStreamDestroy");

  printf("{\"mode\": \"account\", \"device_calls\": %d, \"device_peak\": %zu, "
         "\"device_live_at_exit\": %zu, \"pinned_calls\": %d, \"pinned_peak\": %zu, "
         "\"pitch\": %zu, \"data_checked\": %s, \"wrong_words\": %lld, \"errors\": %d}\n",
         device_calls, device_bytes, (size_t)7 * MiB, pinned_calls, pinned_bytes, pitch,
         DATA_CHECKED ? "true" : "false", wrong, failures);
  return failures || wrong != 0;
}

/*
 * stitch: count blocks of size bytes each, written, summed and read back,
 * with the physical chunks behind each; then all freed, and the free
 * memory before and after.  Run bare and under WSLALLOC_STITCH=force, the
 * sums must agree, and under the shim each block must span its chunks.
 */
static int stitch(size_t size, int count) {
  size_t free_before = 0, free_after = 0, total_b = 0, granule = 2 * MiB;
  size_t peak = 0;
  int calls = 0;
  void **blocks = (void **)calloc((size_t)count, sizeof *blocks);
  unsigned long long sums[64] = {0};
  long long wrong = 0;
  int chunks[64] = {0};
  if (!blocks || count > 64) return 1;

  CUmemAllocationProp prop;
  memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  must(cudaFree(NULL), "cudaFree(NULL), to make the context");
  if (cuMemGetAllocationGranularity(&granule, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) !=
      CUDA_SUCCESS)
    granule = 2 * MiB;
  scratch_make(&peak, &calls);
  must(cudaMemGetInfo(&free_before, &total_b), "cudaMemGetInfo");
  for (int i = 0; i < count; i++) {
    must(cudaMalloc(&blocks[i], size), "cudaMalloc");
    peak += size;
    calls++;
    if (!blocks[i]) continue;
    chunks[i] = physical_chunks(blocks[i], size, granule);
    long long w = write_and_check(blocks[i], size, (uint32_t)(i + 1), &sums[i]);
    wrong = w < 0 || wrong < 0 ? -1 : wrong + w;
  }
  for (int i = 0; i < count; i++) must(cudaFree(blocks[i]), "cudaFree");
  must(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  must(cudaMemGetInfo(&free_after, &total_b), "cudaMemGetInfo");
  scratch_free();

  printf("{\"mode\": \"stitch\", \"size\": %zu, \"count\": %d, \"chunks\": [", size, count);
  for (int i = 0; i < count; i++) printf("%s%d", i ? ", " : "", chunks[i]);
  printf("], \"sums\": [");
  for (int i = 0; i < count; i++) printf("%s\"%llu\"", i ? ", " : "", sums[i]);
  printf("], \"device_calls\": %d, \"device_peak\": %zu, \"free_before\": %zu, "
         "\"free_after\": %zu, \"granule\": %zu, \"data_checked\": %s, "
         "\"wrong_words\": %lld, \"errors\": %d}\n",
         calls, peak, free_before, free_after, granule, DATA_CHECKED ? "true" : "false", wrong,
         failures);
  free(blocks);
  return failures || wrong != 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "account";
  if (!strcmp(mode, "account")) return account();
  if (!strcmp(mode, "stitch") && argc == 4)
    return stitch((size_t)strtoull(argv[2], NULL, 0) * MiB, atoi(argv[3]));
  fprintf(stderr, "usage: client account | client stitch SIZE_MIB COUNT\n");
  return 2;
}
