/* Others at an OOM: which other programs NVML says hold memory on the device, kept beside the OOM record. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "explain.h"
#include "others_nvml.h"

/*
 * WSLALLOC_OTHERS: "off" asks nobody, "windows" leaves it to the `wslalloc
 * run` supervisor (spawning Windows programs from a dying client is not
 * acceptable), "nvml" and "auto" let the library ask NVML here (where NVML
 * has nothing to say, as under WSL2's WDDM, it says so).
 */
static bool wanted(void) {
  return wsla_opts.others.num != WSLA_OTHERS_MODE_OFF &&
         wsla_opts.others.num != WSLA_OTHERS_MODE_WINDOWS;
}

/* OOMs in a burst (a program that catches them and retries smaller, as
   PyTorch does) share one look: NVML's start-up costs milliseconds, and the
   others do not change within a second.  Guarded by the lock below. */
#define REUSE_NS 1000000000ull
static pthread_mutex_t noting = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_time_ns, last_idx;
static int last_device = -1;

void wsla_others_reset_after_fork(void) {
  pthread_mutex_init(&noting, NULL);
  last_device = -1; /* the slots are the parent's recording's */
}

#if WSLA_HAVE_CUDA
#include <cuda.h>
#include "real.h"

/* The device's adapter LUID, from the driver the process has loaded
   already (none is loaded here): what names it among Windows' counters. */
static void note_luid(struct wsla_oom *o, int device) {
  __typeof__(real_cuDeviceGet) get = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceGet);
  __typeof__(real_cuDeviceGetLuid) luid = WSLA_REAL(WSLA_LIB_CUDA, cuDeviceGetLuid);
  CUdevice dev;
  char bytes[8];
  unsigned mask = 0;
  if (!get || !luid || get(&dev, device) != CUDA_SUCCESS || luid(bytes, &mask, dev) != CUDA_SUCCESS)
    return;
  memcpy(o->luid, bytes, sizeof o->luid);
  o->luid_node_mask = mask;
  o->luid_valid = 1;
}
#else
static void note_luid(struct wsla_oom *o, int device) { (void)o, (void)device; }
#endif

void wsla_others_note(struct wsla_proc *p, uint64_t idx, int device, uint16_t api) {
  if (!p->others || idx >= p->oom_cap || device < 0) return;
  /* NVML and the LUID are NVIDIA's: a HIP device index names neither. */
  const char *name = wsla_api_name(api);
  if (!name || !strncmp(name, "hip", 3)) return;
  note_luid(&p->ooms[idx], device); /* before the record's commit */
  if (!wanted() || idx >= p->others_cap) return;
  struct wsla_others *slot = &p->others[idx];
  struct wsla_others fresh;
  memset(&fresh, 0, sizeof fresh);
  uint64_t now = wsla_now(p);
  pthread_mutex_lock(&noting);
  if (last_device == device && now - last_time_ns < REUSE_NS && last_idx < p->others_cap &&
      __atomic_load_n(&p->others[last_idx].commit, __ATOMIC_ACQUIRE) == last_idx + 1) {
    fresh = p->others[last_idx]; /* acquire above pairs with its release below */
  } else {
    wsla_nvml_others(device, &fresh);
    last_device = device;
    last_time_ns = now;
    last_idx = idx;
  }
  pthread_mutex_unlock(&noting);
  /* The slot was never written before (one per OOM record); a reader keeps
     it only once its commit names this index. */
  memcpy((char *)slot + sizeof slot->commit, (char *)&fresh + sizeof fresh.commit,
         sizeof fresh - sizeof fresh.commit);
  /* Release: pairs with the reader's acquire load of the slot's commit. */
  __atomic_store_n(&slot->commit, idx + 1, __ATOMIC_RELEASE);
}

void wsla_others_first_aid(struct wsla_proc *p, const struct wsla_oom *o, char *line, size_t llen,
                           char *named, size_t nlen) {
  line[0] = named[0] = '\0';
  if (!p->others || o < p->ooms || o >= p->ooms + p->oom_cap) return;
  uint64_t idx = (uint64_t)(o - p->ooms);
  if (idx >= p->others_cap) return;
  const struct wsla_others *s = &p->others[idx];
  /* Acquire: pairs with the release store in wsla_others_note. */
  if (__atomic_load_n(&s->commit, __ATOMIC_ACQUIRE) != idx + 1 || !s->listed) return;
  wsla_others_text(s, 3, named, nlen);
  char total[32];
  if (named[0]) {
    snprintf(line, llen, "others hold %s: %s", wsla_fmt_size(s->listed_bytes, total, sizeof total),
             named);
    return;
  }
  /* Listed, but without a figure (NVML under WDDM): names only, never a
     size made up from "not available". */
  size_t used = (size_t)snprintf(line, llen, "others on the device, sizes not available:");
  for (size_t i = 0; i < s->kept && i < WSLA_OTHERS_KEEP && used < llen; i++) {
    char name[80];
    int n = snprintf(line + used, llen - used, "%s %s", i ? "," : "",
                     wsla_other_name(&s->entries[i], name, sizeof name));
    if (n > 0) used += (size_t)n;
  }
}
