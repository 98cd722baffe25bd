/* Test client: out-of-memory moments through HIP, whose last error follows every call. */
#include <hip/hip_runtime_api.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GiB ((size_t)1 << 30)

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "wait";
  void *p = NULL;
  size_t f, t;
  if (!strcmp(mode, "reserve")) {
    void *small = NULL, *more = NULL;
    hipMalloc(&small, (size_t)512 << 20);
    hipMemGetInfo(&f, &t);
    printf("free after the first use: %zu MiB\n", f >> 20);
    hipError_t e = hipMalloc(&p, 3 * GiB);
    printf("hipMalloc 3 GiB: rc=%d set=%d\n", e, p != NULL);
    printf("last=%d\n", hipGetLastError());
    hipFree(p);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    hipMalloc(&more, (size_t)64 << 20);
    hipMemGetInfo(&f, &t);
    printf("free with the ballast back: %zu MiB\n", f >> 20);
    return 0;
  }
  if (!strncmp(mode, "fragment", 8)) { /* "fragment-async": freed stream-ordered */
    void *b[8];
    for (int i = 0; i < 8; i++) hipMalloc(&b[i], (size_t)512 << 20);
    for (int i = 0; i < 8; i += 2) hipFree(b[i]);
    hipMemGetInfo(&f, &t);
    printf("free before: %zu MiB\n", f >> 20);
    hipError_t e = hipMalloc(&p, GiB);
    printf("hipMalloc 1 GiB: rc=%d set=%d\n", e, p != NULL);
    printf("last=%d\n", hipGetLastError());
    hipMemGetInfo(&f, &t);
    printf("free with it: %zu MiB\n", f >> 20);
    e = strcmp(mode, "fragment-async") ? hipFree(p) : hipFreeAsync(p, NULL);
    hipMemGetInfo(&f, &t);
    printf("hipFree: %d; free after: %zu MiB\n", e, f >> 20);
    return 0;
  }
  hipError_t e = hipMalloc(&p, 2 * GiB);
  printf("hipMalloc 2 GiB: rc=%d set=%d\n", e, p != NULL);
  printf("last=%d\n", hipGetLastError());
  if (!strcmp(mode, "spill")) {
    e = hipFree(p);
    printf("hipFree: %d last=%d\n", e, hipGetLastError());
  }
  return 0;
}
