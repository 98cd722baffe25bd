/* Symbol resolution: finds the client's real runtime functions wherever the runtime was loaded. */
#include <dlfcn.h>
#include <errno.h>
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

/* glibc's dlclose (or the next interposer's), never the shim's hook. */
static int (*libc_dlclose(void))(void *) {
  static int (*fn)(void *);
  int (*f)(void *) = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
  if (WSLA_LIKELY(f != NULL)) return f;
  void *(*lookup)(void *, const char *) = wsla_libc_dlsym();
  f = lookup ? (int (*)(void *))lookup(RTLD_NEXT, "dlclose") : NULL;
  __atomic_store_n(&fn, f, __ATOMIC_RELEASE); /* pairs: the load above */
  return f;
}

static void *lookup_soname(const char *soname, const char *name) {
  void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return NULL;
  void *fn = lookup_in(h, name);
  int (*close_fn)(void *) = libc_dlclose();
  if (close_fn) close_fn(h); /* drops only the reference RTLD_NOLOAD added */
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

/* Unloads seen (wsla_resolve_forget); a lookup that overlapped one
   publishes nothing, since what it found may be what went. */
static unsigned long unloads;

/* The resolved slots, bounds given by the linker (shim.h, WSLA_SLOT). */
extern void *__start_wsla_real_slots[] __attribute__((visibility("hidden")));
extern void *__stop_wsla_real_slots[] __attribute__((visibility("hidden")));

void wsla_resolve_forget(void) {
  /* Sequentially consistent, as are the publishing store and the re-check
     in wsla_resolve: either that lookup sees this count move and takes
     its slot back, or this clearing comes after its store. */
  __atomic_add_fetch(&unloads, 1, __ATOMIC_SEQ_CST);
  for (void **s = __start_wsla_real_slots; s < __stop_wsla_real_slots; s++)
    __atomic_store_n(s, NULL, __ATOMIC_SEQ_CST);
}

/* dlpi_subs: how many objects have been unloaded in this process. */
static int read_subs(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long long *)data = info->dlpi_subs;
  return 1; /* one callback is enough to read the counter */
}

/*
 * A plugin backend loaded with dlopen(RTLD_LOCAL), run, closed and loaded
 * again (Ollama's runners, llama.cpp's GGML_BACKEND_DL) brings its runtime
 * back at another address; the slots resolved the first time point into
 * memory that is no longer mapped.  After any dlclose that unloaded
 * something, every slot is found again on its next use.  dlclose is rare;
 * the calls the slots serve pay nothing for this.
 */
WSLA_EXPORT int dlclose(void *handle) {
  int (*real)(void *) = libc_dlclose();
  if (!real) return -1;
  int rc = real(handle);
  int saved = errno;
  static unsigned long long subs_seen;
  unsigned long long counted = 0;
  dl_iterate_phdr(read_subs, &counted);
  const unsigned long long subs = counted;
  if (__atomic_exchange_n(&subs_seen, subs, __ATOMIC_RELAXED) != subs)
    wsla_resolve_forget();
  errno = saved;
  return rc;
}

void *wsla_resolve(void **slot, enum wsla_lib lib, const char *name) {
  const struct wsla_family *fam = &families[lib];
  unsigned long seen = __atomic_load_n(&unloads, __ATOMIC_SEQ_CST); /* pairs: forget */
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
  if (fn) {
    /* Pairs with the acquire load in wsla_real (and with forget: see there). */
    __atomic_store_n(slot, fn, __ATOMIC_SEQ_CST);
    void *expected = fn;
    if (__atomic_load_n(&unloads, __ATOMIC_SEQ_CST) != seen)
      __atomic_compare_exchange_n(slot, &expected, NULL, false, __ATOMIC_SEQ_CST,
                                  __ATOMIC_RELAXED);
  }
  return fn;
}
