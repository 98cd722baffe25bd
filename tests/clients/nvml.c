/* Test client: sizes itself from NVML, as older Ollama does. */
#include <nvml.h>
#include <stdio.h>

int main(void) {
  nvmlDevice_t d;
  nvmlMemory_t m1;
  nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
  nvmlMemory_v2_t bad = {.version = 1};
  printf("init=%d\n", nvmlInit());
  printf("handle=%d\n", nvmlDeviceGetHandleByIndex(0, &d));
  nvmlReturn_t r1 = nvmlDeviceGetMemoryInfo(d, &m1);
  printf("v1=%d total=%llu free=%llu\n", r1, m1.total, m1.free);
  nvmlReturn_t r2 = nvmlDeviceGetMemoryInfo_v2(d, &m2);
  printf("v2=%d total=%llu free=%llu\n", r2, m2.total, m2.free);
  printf("bad=%d\n", nvmlDeviceGetMemoryInfo_v2(d, &bad));
  return 0;
}
