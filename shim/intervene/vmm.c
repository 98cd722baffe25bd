/* VMM bookkeeping: physical memory counts from cuMemCreate until released and unmapped. */
#include <pthread.h>
#include <stdlib.h>

#include <uthash.h>

#include "vmm.h"

/*
 * VMM calls are few (llama.cpp grows its pool 2 MiB at a time; PyTorch's
 * expandable segments by 20 MiB), so one lock serves.  The physical memory
 * itself is in the live table under its handle, flagged WSLA_F_VMM, so the
 * counters, leaks and post-mortem slots cover it like any allocation.
 */
struct handle_rec {
  uint64_t handle;
  int maps;
  bool released;
  int16_t device; /* where its memory is; -1 for host memory */
  UT_hash_handle hh;
};

struct map_rec {
  uint64_t va, size, handle;
  int16_t device; /* the handle's, so a mapping is drawn on its device */
  UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle_rec *handles;
static struct map_rec *mappings;

/* The handle is gone: its memory leaves the live counters. Lock held. */
static void retire(struct wsla_proc *p, struct handle_rec *h, uint16_t api,
                   uint64_t site) {
  struct wsla_entry e;
  if (wsla_table_take(p, h->handle, &e))
    wsla_track_retire(p, api, h->handle, &e, wsla_claim(p), site, wsla_now(p));
  HASH_DEL(handles, h);
  free(h);
}

void wsla_vmm_created(struct wsla_proc *p, uint64_t handle, int16_t device) {
  struct handle_rec *h = calloc(1, sizeof *h);
  if (!h) {
    __atomic_fetch_add(&p->ctr->table_oom, 1, __ATOMIC_RELAXED);
    return;
  }
  h->handle = handle;
  h->device = device;
  pthread_mutex_lock(&lock);
  struct handle_rec *old;
  HASH_REPLACE(hh, handles, handle, sizeof(uint64_t), h, old);
  free(old); /* a handle reused after a release the shim did not see */
  pthread_mutex_unlock(&lock);
}

void wsla_vmm_released(struct wsla_proc *p, uint16_t api, uint64_t handle, uint64_t site) {
  pthread_mutex_lock(&lock);
  struct handle_rec *h;
  HASH_FIND(hh, handles, &handle, sizeof handle, h);
  if (h) {
    h->released = true;
    if (h->maps == 0) retire(p, h, api, site);
  }
  pthread_mutex_unlock(&lock);
}

void wsla_vmm_mapped(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                     uint64_t handle, uint64_t site) {
  struct map_rec *m = calloc(1, sizeof *m);
  if (!m) {
    __atomic_fetch_add(&p->ctr->table_oom, 1, __ATOMIC_RELAXED);
    return;
  }
  *m = (struct map_rec){.va = va, .size = size, .handle = handle, .device = -1};
  pthread_mutex_lock(&lock);
  struct map_rec *old;
  HASH_REPLACE(hh, mappings, va, sizeof(uint64_t), m, old);
  free(old);
  struct handle_rec *h;
  HASH_FIND(hh, handles, &handle, sizeof handle, h);
  if (h) {
    h->maps++;
    m->device = h->device;
  }
  int16_t device = m->device;
  pthread_mutex_unlock(&lock);
  __atomic_fetch_add(&p->ctr->vmm_mapped_bytes, size, __ATOMIC_RELAXED);
  wsla_emit(p, WSLA_EV_MAP, api, device, WSLA_F_VMM, 0, va, size,
            site, handle, wsla_now(p));
}

/* Ends one mapping: its bytes, its event, and the handle's memory if it
   was released and this was its last mapping.  Lock held. */
static void unmap_one(struct wsla_proc *p, uint16_t api, struct map_rec *m, uint64_t site) {
  HASH_DEL(mappings, m);
  __atomic_fetch_sub(&p->ctr->vmm_mapped_bytes, m->size, __ATOMIC_RELAXED);
  wsla_emit(p, WSLA_EV_UNMAP, api, m->device, WSLA_F_VMM, 0, m->va,
            m->size, site, m->handle, wsla_now(p));
  struct handle_rec *h;
  HASH_FIND(hh, handles, &m->handle, sizeof m->handle, h);
  if (h && --h->maps == 0 && h->released)
    retire(p, h, api, site);
  free(m);
}

void wsla_vmm_unmapped(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                       uint64_t site) {
  pthread_mutex_lock(&lock);
  struct map_rec *m, *tmp;
  /* The usual case is exactly one mapping, found by its address without a
     walk over all of them (PyTorch's expandable segments hold thousands);
     a range that covers several is walked. */
  HASH_FIND(hh, mappings, &va, sizeof va, m);
  if (m && m->size == size) {
    unmap_one(p, api, m, site);
  } else {
    HASH_ITER(hh, mappings, m, tmp) {
      if (m->va >= va && m->va + m->size <= va + size) unmap_one(p, api, m, site);
    }
  }
  pthread_mutex_unlock(&lock);
}

void wsla_vmm_reserved(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                       uint64_t site, bool reserve) {
  if (reserve)
    __atomic_fetch_add(&p->ctr->vmm_reserved_bytes, size, __ATOMIC_RELAXED);
  else
    __atomic_fetch_sub(&p->ctr->vmm_reserved_bytes, size, __ATOMIC_RELAXED);
  wsla_emit(p, reserve ? WSLA_EV_RESERVE : WSLA_EV_UNRESERVE, api, -1, WSLA_F_VMM, 0, va,
            size, site, 0, wsla_now(p));
}

void wsla_vmm_reset_after_fork(void) {
  /* The records stay reachable through these lists' old heads; unused. */
  static struct handle_rec *old_handles;
  static struct map_rec *old_mappings;
  old_handles = handles;
  old_mappings = mappings;
  (void)old_handles, (void)old_mappings;
  handles = NULL;
  mappings = NULL;
  pthread_mutex_init(&lock, NULL);
}
