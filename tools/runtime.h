/* The GPU runtime the tools call themselves (runtime.c): replay and bench. */
#ifndef WSLA_RUNTIME_H
#define WSLA_RUNTIME_H

#include <stddef.h>

/* The GPU runtime this machine loads (libcudart.so.13, else .12, else HIP's
   libamdhip64), reached by dlopen so that the tools build and run without
   either. */
typedef int (*alloc_fn)(void **, size_t);
typedef int (*free_fn)(void *);
typedef int (*set_device_fn)(int);
typedef int (*mem_info_fn)(size_t *, size_t *);
typedef int (*last_error_fn)(void);
typedef int (*alloc_async_fn)(void **, size_t, void *);
typedef int (*free_async_fn)(void *, void *);
typedef int (*stream_create_fn)(void **);
typedef int (*stream_destroy_fn)(void *);
struct runtime {
  void *lib;
  alloc_fn malloc_device, malloc_host;
  free_fn free_device, free_host;
  set_device_fn set_device;
  mem_info_fn mem_info;
  last_error_fn last_error;
  alloc_async_fn malloc_async; /* NULL where the runtime lacks them */
  free_async_fn free_async;
  stream_create_fn stream_create;
  stream_destroy_fn stream_destroy;
  const char *name; /* "CUDA" or "HIP" */
};
/* want: "cuda", "hip" or NULL for either.  0, or -1 with one line in err. */
int tool_load_runtime(struct runtime *rt, const char *want, char *err, size_t len);

#endif
