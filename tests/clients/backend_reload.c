/* Test client: loads a CUDA backend with dlopen(RTLD_LOCAL), runs it, closes it, and loads it again with its runtime at another address. */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

struct span {
  uintptr_t lo, hi;
};

/* The loaded runtime's extent, or {0, 0} while none is loaded. */
static int find_runtime(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct span *s = data;
  if (!info->dlpi_name || !strstr(info->dlpi_name, "libcudart")) return 0;
  s->lo = UINTPTR_MAX;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < s->lo) s->lo = a;
    if (a + ph->p_memsz > s->hi) s->hi = a + ph->p_memsz;
  }
  return 1;
}

static struct span runtime(void) {
  struct span s = {0, 0};
  dl_iterate_phdr(find_runtime, &s);
  return s;
}

/* Loads the backend, notes where its runtime is, runs it and closes it. */
static int round_trip(int round, struct span *where) {
  void *h = dlopen(BACKEND_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  *where = runtime();
  int (*run)(void) = (int (*)(void))dlsym(h, "backend_run");
  if (!run) return 2;
  int rc = run();
  printf("round %d: backend_run=%d\n", round, rc);
  if (dlclose(h) != 0) return 2;
  return rc;
}

int main(void) {
  struct span first, second;
  int rc = round_trip(1, &first);
  printf("runtime unloaded: %s\n", runtime().hi ? "no" : "yes");
  /* Where the runtime was, nothing can be mapped now: a call to its old
     address faults, and the runtime must load elsewhere. */
  void *hole = mmap((void *)first.lo, first.hi - first.lo, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (!first.hi || hole != (void *)first.lo) {
    fprintf(stderr, "cannot reserve the runtime's old place\n");
    return 2;
  }
  rc |= round_trip(2, &second);
  printf("runtime moved: %s\n", second.lo && second.lo != first.lo ? "yes" : "no");
  return rc;
}
