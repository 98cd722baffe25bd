/* The GPU runtime the tools call themselves (replay, bench): libcudart or
   HIP's library, loaded by dlopen so that the tool builds and runs without either. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"

/* HIP's pinned allocation takes flags; the table's shape takes none. */
static int (*real_hipHostMalloc)(void **, size_t, unsigned);
static int hip_malloc_host(void **p, size_t size) { return real_hipHostMalloc(p, size, 0); }

/* Fills rt with the names of one API family (cuda or hip), looked up as a
   linked client's calls bind: in the global scope, where a preloaded
   libwslalloc.so comes first (a lookup on the library's own handle would
   pass it by). */
static bool bind_runtime(struct runtime *rt, const char *prefix) {
  char name[64];
#define BIND(field, suffix)                                                    \
  (snprintf(name, sizeof name, "%s%s", prefix, suffix),                       \
   *(void **)&rt->field = dlsym(RTLD_DEFAULT, name))
  bool hip = !strcmp(prefix, "hip");
  BIND(malloc_device, "Malloc");
  BIND(free_device, "Free");
  BIND(free_host, hip ? "HostFree" : "FreeHost");
  BIND(set_device, "SetDevice");
  BIND(mem_info, "MemGetInfo");
  BIND(last_error, "GetLastError");
  /* Stream-ordered calls and streams: used where the runtime has them. */
  BIND(malloc_async, "MallocAsync");
  BIND(free_async, "FreeAsync");
  BIND(stream_create, "StreamCreate");
  BIND(stream_destroy, "StreamDestroy");
#undef BIND
  if (hip) {
    *(void **)&real_hipHostMalloc = dlsym(RTLD_DEFAULT, "hipHostMalloc");
    rt->malloc_host = real_hipHostMalloc ? hip_malloc_host : NULL;
  } else {
    *(void **)&rt->malloc_host = dlsym(RTLD_DEFAULT, "cudaMallocHost");
  }
  if (!rt->malloc_async || !rt->free_async) rt->malloc_async = NULL, rt->free_async = NULL;
  rt->name = hip ? "HIP" : "CUDA";
  return rt->malloc_device && rt->malloc_host && rt->free_device && rt->free_host &&
         rt->set_device && rt->mem_info && rt->last_error;
}

int tool_load_runtime(struct runtime *rt, const char *want, char *err, size_t len) {
  /* CUDA first; HIP where no CUDA runtime is to be had (an AMD machine). */
  static const char *const cuda[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so"};
  static const char *const hip[] = {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
  bool use_hip = want && !strcmp(want, "hip");
  for (int family = use_hip ? 1 : 0; family < 2 && !rt->lib; family++) {
    const char *const *names = family ? hip : cuda;
    for (size_t i = 0; i < 3 && !rt->lib; i++) rt->lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (rt->lib && !bind_runtime(rt, family ? "hip" : "cuda")) {
      snprintf(err, len, "the %s runtime lacks its malloc, free or their kin", family ? "HIP" : "CUDA");
      return -1;
    }
    if (want && !strcmp(want, "cuda")) break;
  }
  if (!rt->lib) {
    snprintf(err, len, "no GPU runtime (libcudart.so.13 or .12, or libamdhip64) could be loaded: "
             "%s; for the simulated GPU, put build/tests/sim/cuda13 and build/tests/sim/driver "
             "on LD_LIBRARY_PATH", dlerror());
    return -1;
  }
  return 0;
}
