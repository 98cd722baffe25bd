/* Symbol resolution: finds the client's real runtime functions wherever the runtime was loaded. */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "shim.h"

struct wsla_family {
  const char *const *sonames; /* tried with RTLD_NOLOAD, newest first */
  const char *prefix;         /* basename prefix of any other copy */
};

static const char *const cudart_sonames[] = {
    "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so",
    NULL};
static const char *const hip_sonames[] = {"libamdhip64.so.7",
                                          "libamdhip64.so.6",
                                          "libamdhip64.so.5", "libamdhip64.so",
                                          NULL};
static const char *const cuda_sonames[] = {"libcuda.so.1", "libcuda.so", NULL};
static const char *const nvml_sonames[] = {"libnvidia-ml.so.1",
                                           "libnvidia-ml.so", NULL};

static const struct wsla_family families[] = {
    [WSLA_LIB_CUDART] = {cudart_sonames, "libcudart"},
    [WSLA_LIB_HIP] = {hip_sonames, "libamdhip64"},
    [WSLA_LIB_CUDA] = {cuda_sonames, "libcuda.so"},
    [WSLA_LIB_NVML] = {nvml_sonames, "libnvidia-ml"},
};

/* True if fn lies in this library: taking it would make a hook call itself. */
static bool is_own(void *fn) {
  Dl_info self, other;
  if (!dladdr((void *)&is_own, &self) || !dladdr(fn, &other)) return false;
  return self.dli_fbase == other.dli_fbase;
}

static void *(*libc_dlsym)(void *, const char *);

WSLA_NO_SANITIZE void *(*wsla_libc_dlsym(void))(void *, const char *) {
  void *(*fn)(void *, const char *) =
      __atomic_load_n(&libc_dlsym, __ATOMIC_ACQUIRE);
  if (WSLA_LIKELY(fn != NULL)) return fn;
  /* dlvsym is not interposed, so this finds glibc's own dlsym: GLIBC_2.34
     where it moved into libc, GLIBC_2.2.5 before. */
  fn = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!fn)
    fn = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym",
                                                 "GLIBC_2.2.5");
  __atomic_store_n(&libc_dlsym, fn, __ATOMIC_RELEASE); /* pairs: load above */
  return fn;
}

static void *lookup_in(void *handle, const char *name) {
  void *fn = wsla_libc_dlsym()(handle, name);
  return fn && !is_own(fn) ? fn : NULL;
}

static void *lookup_soname(const char *soname, const char *name) {
  void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return NULL;
  void *fn = lookup_in(h, name);
  dlclose(h); /* drops only the reference RTLD_NOLOAD added */
  return fn;
}

struct scan {
  const char *prefix;
  const char *name;
  void *fn;
};

static int scan_module(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct scan *s = data;
  const char *path = info->dlpi_name;
  if (!path || !*path) return 0;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (strncmp(base, s->prefix, strlen(s->prefix)) != 0) return 0;
  s->fn = lookup_soname(path, s->name);
  return s->fn != NULL;
}

void *wsla_resolve(void **slot, enum wsla_lib lib, const char *name) {
  const struct wsla_family *fam = &families[lib];
  /* The usual case: the runtime is in the global scope after the shim. */
  void *fn = wsla_libc_dlsym()(RTLD_NEXT, name);
  if (fn && is_own(fn)) fn = NULL;
  /* A runtime loaded with dlopen(RTLD_LOCAL), as GGML_BACKEND_DL and Ollama
     load theirs, is invisible to RTLD_NEXT; RTLD_NOLOAD finds the loaded
     copy by its soname without loading anything. */
  for (size_t i = 0; !fn && fam->sonames[i]; i++)
    fn = lookup_soname(fam->sonames[i], name);
  /* A copy under another name (libcudart.so.12.4.127 beside a runner). */
  if (!fn) {
    struct scan s = {fam->prefix, name, NULL};
    dl_iterate_phdr(scan_module, &s);
    fn = s.fn;
  }
  /* Our failed lookups must not leave an error for the client's dlerror(). */
  dlerror();
  if (fn) __atomic_store_n(slot, fn, __ATOMIC_RELEASE); /* pairs: wsla_real */
  return fn;
}
