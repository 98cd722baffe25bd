/* Modules: the map of loaded objects with their build-ids, so that a reader can name call sites. */
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "shim.h"

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long module_adds_seen;

static int read_adds(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long long *)data = info->dlpi_adds;
  return 1; /* one callback is enough to read the counter */
}

/* True if [a, a + n) lies inside one of the module's loaded segments. */
static bool loaded(const struct dl_phdr_info *info, uint64_t a, uint64_t n) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uint64_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && a >= lo && n <= ph->p_memsz && a - lo <= ph->p_memsz - n)
      return true;
  }
  return false;
}

/* Copies the module's GNU build-id, read from its notes as loaded (no file
   is opened), into out; its length, or 0 where it has none.  Only notes
   inside a loaded segment are read, so a malformed object cannot fault. */
static uint8_t module_build_id(const struct dl_phdr_info *info, uint8_t *out, size_t cap) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uint64_t at = info->dlpi_addr + ph->p_vaddr, end = at + ph->p_memsz;
    if (ph->p_type != PT_NOTE || !loaded(info, at, ph->p_memsz)) continue;
    uint64_t align = ph->p_align == 8 ? 8 : 4; /* notes pad to their segment's alignment */
    while (at < end && end - at >= sizeof(ElfW(Nhdr))) {
      const ElfW(Nhdr) *n = (const void *)(uintptr_t)at;
      uint64_t name = at + sizeof *n;
      uint64_t desc = name + ((n->n_namesz + align - 1) & ~(align - 1));
      if (desc > end || n->n_descsz > end - desc) break;
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
          !memcmp((const void *)(uintptr_t)name, "GNU", 4) && n->n_descsz > 0) {
        size_t len = n->n_descsz < cap ? n->n_descsz : cap;
        memcpy(out, (const void *)(uintptr_t)desc, len);
        return (uint8_t)len;
      }
      at = desc + ((n->n_descsz + align - 1) & ~(align - 1));
    }
  }
  return 0;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct wsla_proc *p = data;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uint64_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < lo) lo = a;
    if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
  }
  if (lo >= hi) return 0;
  uint64_t count = p->ctr->modules_count;
  for (uint64_t i = 0; i < count && i < p->module_cap; i++)
    if (p->modules[i].lo == lo && p->modules[i].hi == hi) return 0;
  if (count >= p->module_cap) {
    __atomic_fetch_add(&p->ctr->modules_lost, 1, __ATOMIC_RELAXED);
    return 0;
  }
  struct wsla_module *m = &p->modules[count];
  m->bias = info->dlpi_addr;
  m->lo = lo;
  m->hi = hi;
  m->build_id_len = module_build_id(info, m->build_id, sizeof m->build_id);
  const char *name = info->dlpi_name;
  if (!name || !*name) name = p->hdr->exe; /* the main program */
  /* A long path keeps its tail: the file name is what a reader needs. */
  size_t len = strlen(name), room = sizeof m->path - 1;
  const char *tail = len > room ? name + (len - room) : name;
  memcpy(m->path, tail, len > room ? room : len);
  m->path[len > room ? room : len] = '\0';
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&m->commit, count + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&p->ctr->modules_count, count + 1, __ATOMIC_RELEASE);
  return 0;
}

void wsla_modules_refresh(struct wsla_proc *p) {
  unsigned long long counted = 0;
  dl_iterate_phdr(read_adds, &counted);
  /* A copy whose address was never given out: GCC 12 at -O3 takes the
     store of an address-taken local for a dangling pointer. */
  const unsigned long long adds = counted;
  if (adds == __atomic_load_n(&module_adds_seen, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&module_lock);
  if (adds != __atomic_load_n(&module_adds_seen, __ATOMIC_RELAXED)) {
    dl_iterate_phdr(add_module, p);
    __atomic_store_n(&module_adds_seen, adds, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&module_lock);
}

void wsla_modules_reset_after_fork(void) {
  module_adds_seen = 0;
  pthread_mutex_init(&module_lock, NULL);
}
