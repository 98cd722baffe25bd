/* One GPU family's calls for the interventions (ballast, recovery, spilling, stitching), as one table per family. */
#ifndef WSLA_FAMILY_H
#define WSLA_FAMILY_H

#include "shim.h"

/*
 * What CUDA and HIP do differently for recover.c, spill.c, stitch.c and
 * ballast.c, in the shim's terms: each entry makes the family's real calls
 * through their WSLA_REAL slots and says only whether they worked (false
 * also where the client's library lacks a function), so that no caller
 * sees a family's types or status codes.  Every entry is set.  Each family
 * defines its table in its own file (family_cuda.c, family_hip.c), compiled
 * where its headers are, with WSLA_FAMILY_TABLE below.
 *
 * The CUDA table asks the driver, which keeps no last-error state, so the
 * client's cudaGetLastError is never disturbed.  HIP's calls leave their
 * status as the thread's; the callers say where that matters.
 */
struct wsla_family_ops {
  /* Device memory on the current device, outside the client's account:
     a probe's trial, the ballast.  False (nothing held) unless both the
     allocation and its free are at hand. */
  bool (*device_alloc)(uint64_t size, uint64_t *ptr);
  void (*device_free)(uint64_t ptr);
  /* After a call of the shim's own failed right behind a client's call
     that succeeded: puts back the success status the client would read
     (HIP before ROCm 7 keeps the last call's); nothing on CUDA's driver. */
  void (*status_clear)(void);

  /* Pinned host memory mapped into the device's space, portable, and its
     device pointer; given back with host_free. */
  bool (*host_alloc_mapped)(uint64_t size, void **host, uint64_t *dptr);
  void (*host_free)(void *host);

  /* The current device's free and total memory, as its library says. */
  bool (*mem_info)(uint64_t *free_b, uint64_t *total_b);
  /* Whether the legacy (null) stream is capturing a graph: true for
     anything but a clear "no", since a synchronize would ruin a capture. */
  bool (*capturing)(void);
  /* Waits for the current device. */
  void (*synchronize)(void);
  /* The device's default stream-ordered pool: give its unused memory back;
     what it holds and what of that is in use. */
  void (*pool_trim)(int device);
  bool (*pool_usage)(int device, uint64_t *reserved, uint64_t *used);

  /* VMM, for stitching: the minimum granularity of device memory; address
     space; physical device memory (handles); mapping; read-write access. */
  bool (*vmm_granularity)(int device, uint64_t *g);
  bool (*vmm_reserve)(uint64_t size, uint64_t *va);
  void (*vmm_unreserve)(uint64_t va, uint64_t size);
  bool (*vmm_create)(int device, uint64_t size, uint64_t *handle);
  void (*vmm_release)(uint64_t handle);
  bool (*vmm_map)(uint64_t va, uint64_t size, uint64_t handle);
  void (*vmm_unmap)(uint64_t va, uint64_t size);
  bool (*vmm_access)(int device, uint64_t va, uint64_t size);
};

/* A family's table, from the static functions its file names after the
   entries: one it leaves out is a compile error there. */
#define WSLA_FAMILY_TABLE                                                      \
  {                                                                            \
    .device_alloc = device_alloc, .device_free = device_free,                  \
    .status_clear = status_clear, .host_alloc_mapped = host_alloc_mapped,      \
    .host_free = host_free, .mem_info = mem_info, .capturing = capturing,      \
    .synchronize = synchronize, .pool_trim = pool_trim,                        \
    .pool_usage = pool_usage, .vmm_granularity = vmm_granularity,              \
    .vmm_reserve = vmm_reserve, .vmm_unreserve = vmm_unreserve,                \
    .vmm_create = vmm_create, .vmm_release = vmm_release, .vmm_map = vmm_map,  \
    .vmm_unmap = vmm_unmap, .vmm_access = vmm_access,                          \
  }

#if WSLA_HAVE_CUDA
extern const struct wsla_family_ops wsla_family_cuda; /* family_cuda.c */
#endif
#if WSLA_HAVE_HIP
extern const struct wsla_family_ops wsla_family_hip; /* family_hip.c */
#endif

/* The table of family lib (WSLA_LIB_CUDA for the runtime and the driver
   alike, or WSLA_LIB_HIP); NULL for one this build left out. */
static inline const struct wsla_family_ops *wsla_family(enum wsla_lib lib) {
  switch (lib) {
#if WSLA_HAVE_CUDA
  case WSLA_LIB_CUDA:
    return &wsla_family_cuda;
#endif
#if WSLA_HAVE_HIP
  case WSLA_LIB_HIP:
    return &wsla_family_hip;
#endif
  default:
    return NULL;
  }
}

#endif
