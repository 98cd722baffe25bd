/* The real functions behind the hooks: one slot per name of hooks.def, defined once (real_<family>.c), read through WSLA_REAL (shim.h); include it after the GPU libraries' headers. */
#ifndef WSLA_REAL_H
#define WSLA_REAL_H

#include "shim.h"

/*
 * A slot's type is its function's, so a slot is declared only where its
 * library's header was included before this file (the CUDA and HIP runtime
 * headers cannot be included together): each family's lines of hooks.def
 * expand to nothing elsewhere, and in a build without that family's
 * headers (-Dhip=disabled, no CUDA toolkit).
 */
#ifdef CUDA_VERSION /* cuda.h */
/* The list names exports, never the header's per-thread macros. */
#if defined(CUDA_API_PER_THREAD_DEFAULT_STREAM)
#error "the hooks are the driver's and runtime's exported names: build without per-thread-stream macros"
#endif
/* The legacy entry point keeps the name the header now maps to _v2. */
#undef cuGetProcAddress
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                          cuuint64_t flags);
/* Context creation's older ABIs, still exported and still handed out by
   cuGetProcAddress for older versions; the header declares only the
   newest. */
CUresult cuCtxCreate_v2(CUcontext *, unsigned int, CUdevice);
CUresult cuCtxCreate_v3(CUcontext *, CUexecAffinityParam *, int, unsigned int,
                        CUdevice);
#define WSLA_IN_CUDA(...) __VA_ARGS__
#else
#define WSLA_IN_CUDA(...)
#endif

#ifdef CUDART_VERSION /* cuda_runtime_api.h */
#define WSLA_IN_CUDART(...) __VA_ARGS__
#else
#define WSLA_IN_CUDART(...)
#endif

#ifdef HIP_VERSION_MAJOR /* hip/hip_runtime_api.h */
#define WSLA_IN_HIP(...) __VA_ARGS__
#else
#define WSLA_IN_HIP(...)
#endif

#ifdef NVML_API_VERSION /* nvml.h */
#define WSLA_IN_NVML(...) __VA_ARGS__
#else
#define WSLA_IN_NVML(...)
#endif

/* Deprecated names (hipMallocHost, cudaGetDriverEntryPoint) are still
   exported, still called, and so still hooked. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* The per-thread-default-stream exports, which the headers declare only
   under the per-thread macros: the same ABI as their base names. */
#define WSLA_HOOK_PTSZ(family, name, api, lookup)                              \
  WSLA_IN_##family(__typeof__(name) name##_ptsz;)
#include "hooks.def"

/*
 * real_<name>: the real function, found on first use, in the section that
 * wsla_resolve_forget clears (shim.h, WSLA_SLOT); hidden, so that reading
 * it costs what a static's read does.  wsla_lib_of_<name>: the library the
 * list finds it in, which WSLA_REAL checks its caller's against.
 */
#define WSLA_REAL_SLOT_DECL(family, name)                                      \
  WSLA_IN_##family(extern __typeof__(&name) real_##name                        \
                   __attribute__((visibility("hidden")));                      \
                   enum { wsla_lib_of_##name = WSLA_LIB_##family };)
#define WSLA_HOOK(family, name, api, lookup) WSLA_REAL_SLOT_DECL(family, name)
#define WSLA_CALLS(family, name) WSLA_REAL_SLOT_DECL(family, name)
#include "hooks.def"

#pragma GCC diagnostic pop

/* The slots' one definition, in real_<family>.c (hooks.def's lines). */
#define WSLA_REAL_SLOT_DEF(family, name)                                       \
  WSLA_IN_##family(__typeof__(&name) real_##name WSLA_SLOT;)

#endif
