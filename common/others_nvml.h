/* wslalloc others: the other programs holding memory on a GPU, as NVML or Windows lists them; shared by the library and the tools. */
#ifndef WSLALLOC_OTHERS_H
#define WSLALLOC_OTHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wslalloc/format.h"

/* Lists into out the programs other than this one that NVML's running-
   process lists (compute and graphics) show on device (NVML's index, taken
   as the CUDA device), largest first, unsized ones after.  Loads
   libnvidia-ml.so.1 if no copy is loaded yet.  Sets out->source and
   out->status; never touches commit.  Not for the allocation path: it may
   take milliseconds. */
void wsla_nvml_others(int device, struct wsla_others *out);

/* Whether this process runs in the initial pid namespace, where the pids
   NVML reports are the ones /proc shows. */
bool wsla_pid_ns_initial(void);

/* Adds one program to out, keeping the largest WSLA_OTHERS_KEEP (unsized
   ones only where room is left); listed and listed_bytes count every one. */
void wsla_others_add(struct wsla_others *out, uint32_t pid, uint16_t flags, uint64_t bytes,
                     const char *name);

/* The printable name of an entry: its name, or "pid N" / "pid N (another
   pid namespace)" / "pid N (exited)"; returns buf. */
const char *wsla_other_name(const struct wsla_other *e, char *buf, size_t len);

/* "chrome 2.00 GiB, blender 1.00 GiB" for the sized entries that are not
   the WSL VM nor gone (at most max of them, 0 for all), "" if none;
   returns buf. */
const char *wsla_others_text(const struct wsla_others *o, size_t max, char *buf, size_t len);

/* What a list's status means, in a few words ("NVML could not be loaded"). */
const char *wsla_others_status_text(const struct wsla_others *o);

#endif
