/* Entry-point lookups: cuGetProcAddress, cudaGetDriverEntryPoint and dlsym hand out the shim's wrappers. */
#include <dlfcn.h>
#include <string.h>

#include <cuda.h>
#include <cuda_runtime_api.h>

#include "hooks.h"
#include "real.h"

/* cudaGetDriverEntryPoint is deprecated, and still called. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* The driver's entry points the shim hands out in place of the driver's
   own (the LOOKUP lines of hooks.def), each with the slot of its real
   function, which a library's unloading clears (shim.h, WSLA_SLOT). */
struct wrapped {
  const char *name; /* as the driver exports it */
  void *wrapper;
  void **real;
};

#define WSLA_LOOKUP_LOOKUP(name) {#name, (void *)name, (void **)&real_##name},
#define WSLA_LOOKUP_NOLOOKUP(name)
#define WSLA_HOOK(family, name, api, lookup)                                   \
  WSLA_IN_##family(WSLA_LOOKUP_##lookup(name))
static const struct wrapped wrapped[] = {
#include "hooks.def"
};
#define WRAPPED_COUNT (sizeof wrapped / sizeof wrapped[0])

/* Only names of the form cu[A-Z]... belong to the driver. */
WSLA_NO_SANITIZE static inline bool driver_name(const char *name) {
  return name && name[0] == 'c' && name[1] == 'u' && name[2] >= 'A' &&
         name[2] <= 'Z';
}

/* True if some wrapped entry point has this base name (cuMemAlloc for
   cuMemAlloc_v2): only those lookups are worth comparing pointers for. */
static bool tracked_base(const char *base) {
  size_t n = strlen(base);
  for (size_t i = 0; i < WRAPPED_COUNT; i++)
    if (strncmp(wrapped[i].name, base, n) == 0 &&
        (wrapped[i].name[n] == '\0' || wrapped[i].name[n] == '_'))
      return true;
  return false;
}

/*
 * The wrapper for a driver function pointer, or fn itself.  The variant a
 * lookup returned (_v2, _ptsz, the legacy ABI) is told by comparing the
 * pointer with each variant's real address, never by the name: several
 * entry points changed ABI under one base name.  A pointer that matches no
 * wrapped variant (an older ABI, a driver copy other than the one the shim
 * resolved) passes through untouched.
 */
static void *wrap(void *fn) {
  for (size_t i = 0; i < WRAPPED_COUNT; i++) {
    void *real = wsla_real(wrapped[i].real, WSLA_LIB_CUDA, wrapped[i].name);
    if (real == fn) return wrapped[i].wrapper;
  }
  return fn;
}

/* The driver's load base, found once; cleared with the resolved slots when
   a library is unloaded, since the driver may come back elsewhere. */
static void *driver_base WSLA_SLOT;

/* True if the caller is the driver itself, whose own lookups must pass. */
static bool from_driver(void *caller) {
  void *base = __atomic_load_n(&driver_base, __ATOMIC_RELAXED);
  if (!base) {
    void *any = NULL;
    Dl_info info;
    wsla_resolve(&any, WSLA_LIB_CUDA, "cuInit");
    if (!any || !dladdr(any, &info)) return false;
    base = info.dli_fbase;
    __atomic_store_n(&driver_base, base, __ATOMIC_RELAXED);
  }
  Dl_info info;
  return dladdr(caller, &info) && info.dli_fbase == base;
}

/* Answers one lookup of a driver symbol: the wrapper where the shim has
   one, and a count of both in the recording. */
static void *answer(const char *base, void *fn, void *caller) {
  if (!fn || !driver_name(base) || from_driver(caller)) return fn;
  struct wsla_proc *p = wsla_proc_get();
  void *out = tracked_base(base) ? wrap(fn) : fn;
  if (p) {
    __atomic_fetch_add(&p->ctr->lookups, 1, __ATOMIC_RELAXED);
    if (out != fn)
      __atomic_fetch_add(&p->ctr->lookups_wrapped, 1, __ATOMIC_RELAXED);
  }
  return out;
}

WSLA_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn,
                                         int cudaVersion, cuuint64_t flags,
                                         CUdriverProcAddressQueryResult *st) {
  __typeof__(real_cuGetProcAddress_v2) real =
      WSLA_REAL(WSLA_LIB_CUDA, cuGetProcAddress_v2);
  if (!real) {
    if (st) *st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  CUresult rc = real(symbol, pfn, cudaVersion, flags, st);
  if (rc == CUDA_SUCCESS && pfn)
    *pfn = answer(symbol, *pfn, __builtin_return_address(0));
  return rc;
}

/* Before CUDA 12.0 the entry point took four arguments and had no status. */
WSLA_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn,
                                      int cudaVersion, cuuint64_t flags) {
  __typeof__(real_cuGetProcAddress) real =
      WSLA_REAL(WSLA_LIB_CUDA, cuGetProcAddress);
  if (!real) return CUDA_ERROR_NOT_FOUND;
  CUresult rc = real(symbol, pfn, cudaVersion, flags);
  if (rc == CUDA_SUCCESS && pfn)
    *pfn = answer(symbol, *pfn, __builtin_return_address(0));
  return rc;
}

/* PyTorch reaches cuMemCreate and cuMemMap (expandable segments) this way.
   A caller built for CUDA 11 passes three arguments; the fourth register
   is forwarded as it came, and the runtime it was built for ignores it. */
#define ENTRY_POINT(name)                                                      \
  WSLA_EXPORT cudaError_t name(const char *symbol, void **fn,                  \
                               unsigned long long flags,                       \
                               enum cudaDriverEntryPointQueryResult *st) {     \
    __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_CUDART, name);          \
    if (!real) return cudaErrorSharedObjectSymbolNotFound;                     \
    cudaError_t rc = real(symbol, fn, flags, st);                              \
    if (rc == cudaSuccess && fn)                                               \
      *fn = answer(symbol, *fn, __builtin_return_address(0));                  \
    return rc;                                                                 \
  }
ENTRY_POINT(cudaGetDriverEntryPoint)
ENTRY_POINT(cudaGetDriverEntryPoint_ptsz)

#define ENTRY_POINT_BY_VERSION(name)                                           \
  WSLA_EXPORT cudaError_t name(const char *symbol, void **fn,                  \
                               unsigned int version, unsigned long long flags, \
                               enum cudaDriverEntryPointQueryResult *st) {     \
    __typeof__(real_##name) real = WSLA_REAL(WSLA_LIB_CUDART, name);          \
    if (!real) return cudaErrorSharedObjectSymbolNotFound;                     \
    cudaError_t rc = real(symbol, fn, version, flags, st);                     \
    if (rc == cudaSuccess && fn)                                               \
      *fn = answer(symbol, *fn, __builtin_return_address(0));                  \
    return rc;                                                                 \
  }
ENTRY_POINT_BY_VERSION(cudaGetDriverEntryPointByVersion)
ENTRY_POINT_BY_VERSION(cudaGetDriverEntryPointByVersion_ptsz)

/* --- dlsym --- */

/* A driver name asked of a real handle (NVIDIA's runtime asks its
   dlopen'ed libcuda.so.1 for cuGetProcAddress_v2 this way).  Reached by a
   jump from the trampoline, so the return address is the client's. */
static void *dlsym_driver(void *handle, const char *name) {
  void *fn = wsla_libc_dlsym()(handle, name);
  /* The base of a versioned name: cuMemAlloc_v2 -> cuMemAlloc. */
  char base[128];
  size_t n = strcspn(name, "_");
  if (n >= sizeof base) return fn;
  memcpy(base, name, n);
  base[n] = '\0';
  return answer(base, fn, __builtin_return_address(0));
}

/* No glibc dlsym could be found: lookups find nothing rather than crash. */
WSLA_NO_SANITIZE static void *dlsym_unavailable(void *handle,
                                                const char *name) {
  (void)handle, (void)name;
  return NULL;
}

/* Called by the dlsym trampoline (dlsym_trampoline.S) with the client's
   arguments: the function that answers the lookup.  Only driver names asked
   of a real handle come to the shim; RTLD_NEXT always goes to glibc, which
   judges "next" by the caller.  Lookups are answered the same inside a hook
   as outside one (a runtime often starts up inside the client's first
   cudaMalloc): the depth guard keeps calls from being counted twice, and
   the wrappers it leads to pass through while it is up. */
WSLA_NO_SANITIZE void *(*wsla_dlsym_target(void *handle,
                                           const char *name))(void *,
                                                              const char *) {
  if (driver_name(name) && handle != RTLD_NEXT)
    return dlsym_driver;
  void *(*libc)(void *, const char *) = wsla_libc_dlsym();
  return libc ? libc : dlsym_unavailable;
}
