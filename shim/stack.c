/* OOM stacks: the calling thread's stack at an out-of-memory failure, from the client's call outward. */
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>

#include "shim.h"
#include "wslalloc/explain.h"

/* True if code address a lies in libwslalloc itself. */
static bool in_shim(void *a) {
  /* The shim's load base, found by whichever thread needs it first; all
     find the same value, so relaxed stores suffice. */
  static void *base;
  Dl_info self, info;
  void *b = __atomic_load_n(&base, __ATOMIC_RELAXED);
  if (!b && dladdr((void *)in_shim, &self)) __atomic_store_n(&base, b = self.dli_fbase, __ATOMIC_RELAXED);
  return b && dladdr(a, &info) && info.dli_fbase == b;
}

/*
 * Fills the stack slot of OOM record idx, then commits it; the OOM record's
 * own commit comes after.  Only on the failure path, never per allocation:
 * the unwind (glibc's backtrace, through the unwind tables every C and C++
 * object has) costs thousands of instructions, and its first use loads
 * libgcc_s.  The client's frames start at site, the return address of its
 * call; where unwinding does not meet it (a client built without unwind
 * tables), the shim's own frames are dropped instead.
 */
void wsla_oom_stack_note(struct wsla_proc *p, uint64_t idx, uint64_t site) {
  if (idx >= p->oom_cap) return;
  void *frames[WSLA_STACK_MAX + 16];
  int n = backtrace(frames, (int)(sizeof frames / sizeof frames[0]));
  int from = -1;
  for (int i = 0; i < n && from < 0; i++)
    if ((uint64_t)(uintptr_t)frames[i] == site) from = i;
  if (from < 0)
    for (from = 0; from < n && in_shim(frames[from]);) from++;
  struct wsla_oom_stack *s = &p->oom_stacks[idx];
  uint32_t depth = 0;
  for (int i = from; i < n && depth < WSLA_STACK_MAX; i++)
    WSLA_RELAXED_STORE(s->frames[depth++], (uint64_t)(uintptr_t)frames[i]);
  WSLA_RELAXED_STORE(s->depth, depth);
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&s->commit, idx + 1, __ATOMIC_RELEASE);
}

/* The exported function that holds code address a, or NULL: only where a
   lies inside the symbol's own extent, so a static function is never
   taken for the exported one before it. */
static const char *exported_function_at(uint64_t a) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (!dladdr1((void *)(uintptr_t)a, &info, (void **)&sym, RTLD_DL_SYMENT) || !info.dli_sname ||
      !info.dli_saddr || !sym)
    return NULL;
  uint64_t start = (uint64_t)(uintptr_t)info.dli_saddr;
  return a >= start && a - start < sym->st_size ? info.dli_sname : NULL;
}

const struct wsla_phase *wsla_oom_stack_phase(struct wsla_proc *p, uint64_t idx) {
  if (idx >= p->oom_cap) return NULL;
  const struct wsla_oom_stack *s = &p->oom_stacks[idx];
  if (__atomic_load_n(&s->commit, __ATOMIC_ACQUIRE) != idx + 1) return NULL;
  const char *names[WSLA_STACK_MAX];
  size_t n = s->depth < WSLA_STACK_MAX ? s->depth : WSLA_STACK_MAX;
  /* A return address: the call is the byte before it. */
  for (size_t i = 0; i < n; i++) names[i] = exported_function_at(s->frames[i] - 1);
  return wsla_phase_of(names, n, NULL);
}
