/* Test client: llama.cpp's VMM pool on HIP: physical chunks mapped into reserved address space, one given back. */
#include <hip/hip_runtime_api.h>
#include <stdio.h>

#define MiB ((size_t)1 << 20)

int main(void) {
  void *weights = NULL, *va = NULL;
  hipMemGenericAllocationHandle_t chunk[3];
  hipMemAllocationProp prop = {0};
  prop.type = hipMemAllocationTypePinned;
  prop.location.type = hipMemLocationTypeDevice;
  prop.location.id = 0;
  hipMemAccessDesc access = {{hipMemLocationTypeDevice, 0}, hipMemAccessFlagsProtReadWrite};
  printf("hipMalloc: %d\n", hipMalloc(&weights, 512 * MiB));
  printf("reserve: %d\n", hipMemAddressReserve(&va, 1024 * MiB, 0, NULL, 0));
  for (int i = 0; i < 3; i++) {
    char *at = (char *)va + i * 64 * MiB;
    printf("create: %d\n", hipMemCreate(&chunk[i], 64 * MiB, &prop, 0));
    printf("map: %d\n", hipMemMap(at, 64 * MiB, 0, chunk[i], 0));
    printf("access: %d\n", hipMemSetAccess(at, 64 * MiB, &access, 1));
    printf("release: %d\n", hipMemRelease(chunk[i])); /* held by its mapping */
  }
  printf("unmap: %d\n", hipMemUnmap((char *)va + 128 * MiB, 64 * MiB));
  printf("bad map: %d last=%d\n", hipMemMap(NULL, 64 * MiB, 0, chunk[0], 0), hipGetLastError());
  printf("last=%d\n", hipGetLastError());
  return 0;
}
