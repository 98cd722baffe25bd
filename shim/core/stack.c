/* Call stacks: the thread's stack at an out-of-memory failure, and the distinct stacks of large allocations. */
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "shim.h"
#include "explain.h"

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

/* The client's frames of the calling thread's stack, from site outward,
   into frames; their number.  See wsla_oom_stack_note for the unwind. */
static uint32_t unwind_from(uint64_t site, uint64_t *frames) {
  void *raw[WSLA_STACK_MAX + 16];
  int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0]));
  int from = -1;
  for (int i = 0; i < n && from < 0; i++)
    if ((uint64_t)(uintptr_t)raw[i] == site) from = i;
  if (from < 0)
    for (from = 0; from < n && in_shim(raw[from]);) from++;
  uint32_t depth = 0;
  for (int i = from; i < n && depth < WSLA_STACK_MAX; i++) frames[depth++] = (uint64_t)(uintptr_t)raw[i];
  return depth;
}

/*
 * Fills the stack slot of OOM record idx, then commits it; the OOM record's
 * own commit comes after.  Only on the failure path (and, for
 * wsla_stack_intern, for allocations of WSLALLOC_STACKS bytes or more): the
 * unwind (glibc's backtrace, through the unwind tables every C and C++
 * object has) costs thousands of instructions, and its first use loads
 * libgcc_s.  The client's frames start at site, the return address of its
 * call; where unwinding does not meet it (a client built without unwind
 * tables), the shim's own frames are dropped instead.
 */
void wsla_oom_stack_note(struct wsla_proc *p, uint64_t idx, uint64_t site) {
  if (idx >= p->oom_cap) return;
  uint64_t frames[WSLA_STACK_MAX];
  uint32_t depth = unwind_from(site, frames);
  struct wsla_stack *s = &p->oom_stacks[idx];
  for (uint32_t i = 0; i < depth; i++) WSLA_RELAXED_STORE(s->frames[i], frames[i]);
  WSLA_RELAXED_STORE(s->depth, depth);
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&s->commit, idx + 1, __ATOMIC_RELEASE);
}

/*
 * The allocation stacks: each distinct stack stored once, in order, and
 * found again through an index of this process's (open addressing over a
 * hash of the frames).  Only allocations of WSLALLOC_STACKS bytes or more
 * come here, a few hundred in a model's load, so one lock serves.
 */
#define STACK_INDEX (2u * 4096u) /* slots, a power of two above twice the cap */
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static uint16_t stack_index[STACK_INDEX]; /* stack index + 1; 0: empty */
static uint32_t stacks_used;

/* Each allocation stack's label, found once (by id); the lock also keeps
   two OOMs' scans apart. */
#define LABELS 4096u
static const char *labels[LABELS];
static pthread_mutex_t labelling = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_frames(const uint64_t *f, uint32_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  for (uint32_t i = 0; i < n; i++) h = (h ^ f[i]) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

uint16_t wsla_stack_intern(struct wsla_proc *p, uint64_t site) {
  uint64_t frames[WSLA_STACK_MAX];
  uint32_t depth = unwind_from(site, frames);
  if (!depth || !p->stacks) return 0;
  uint64_t h = hash_frames(frames, depth);
  uint16_t id = 0;
  pthread_mutex_lock(&stack_lock);
  for (uint32_t probe = 0; probe < STACK_INDEX; probe++) {
    uint16_t *slot = &stack_index[(h + probe) & (STACK_INDEX - 1)];
    if (*slot) {
      const struct wsla_stack *s = &p->stacks[*slot - 1];
      if (s->depth == depth && !memcmp(s->frames, frames, depth * sizeof *frames)) {
        id = *slot;
        break;
      }
      continue;
    }
    if (stacks_used >= p->stack_cap || stacks_used >= UINT16_MAX) break; /* full: no stack */
    struct wsla_stack *s = &p->stacks[stacks_used];
    memcpy(s->frames, frames, depth * sizeof *frames);
    s->depth = depth;
    /* Release: pairs with a reader's acquire load of commit; an event that
       names the stack is written after this. */
    __atomic_store_n(&s->commit, (uint64_t)stacks_used + 1, __ATOMIC_RELEASE);
    id = *slot = (uint16_t)++stacks_used;
    break;
  }
  pthread_mutex_unlock(&stack_lock);
  return id;
}

void wsla_stack_reset_after_fork(void) {
  pthread_mutex_init(&stack_lock, NULL);
  pthread_mutex_init(&labelling, NULL);
  memset(labels, 0, sizeof labels);
  memset(stack_index, 0, sizeof stack_index);
  stacks_used = 0;
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

/* The phase the exported functions on stack s tell; *written is false
   where s was not yet written as slot commit. */
static const struct wsla_phase *stack_phase(const struct wsla_stack *s, uint64_t commit,
                                            bool *written) {
  *written = __atomic_load_n(&s->commit, __ATOMIC_ACQUIRE) == commit;
  if (!*written) return NULL;
  const char *names[WSLA_STACK_MAX];
  size_t n = s->depth < WSLA_STACK_MAX ? s->depth : WSLA_STACK_MAX;
  /* A return address: the call is the byte before it. */
  for (size_t i = 0; i < n; i++) names[i] = exported_function_at(s->frames[i] - 1);
  return wsla_phase_of(names, n, NULL);
}

const struct wsla_phase *wsla_oom_stack_phase(struct wsla_proc *p, uint64_t idx) {
  bool written;
  return idx < p->oom_cap ? stack_phase(&p->oom_stacks[idx], idx + 1, &written) : NULL;
}

/* The label of allocation stack id (index + 1); NULL if not written. */
static const char *stack_label(struct wsla_proc *p, uint32_t id) {
  bool written;
  const struct wsla_phase *phase = stack_phase(&p->stacks[id - 1], id, &written);
  return written ? wsla_purpose_label(phase) : NULL;
}

size_t wsla_purposes_live(struct wsla_proc *p, int device, struct wsla_purpose_sum *out,
                          size_t max) {
  if (!p->stacks || device < 0) return 0;
  size_t used = 0;
  pthread_mutex_lock(&labelling);
  uint64_t more_cap;
  const struct wsla_live *more = wsla_table_more(&more_cap);
  for (uint64_t i = 0; i < p->live_cap + more_cap; i++) {
    const struct wsla_live *l = i < p->live_cap ? &p->live[i] : &more[i - p->live_cap];
    if (!__atomic_load_n(&l->commit, __ATOMIC_ACQUIRE)) continue;
    uint32_t id = __atomic_load_n(&l->stack, __ATOMIC_RELAXED);
    if (!id || id > p->stack_cap || id >= LABELS ||
        __atomic_load_n(&l->device, __ATOMIC_RELAXED) != device ||
        (__atomic_load_n(&l->flags, __ATOMIC_RELAXED) & WSLA_F_HOST))
      continue;
    if (!labels[id]) labels[id] = stack_label(p, id);
    if (!labels[id]) continue;
    size_t k = 0;
    while (k < used && out[k].label != labels[id]) k++;
    if (k == used) {
      if (used == max) continue;
      out[used++] = (struct wsla_purpose_sum){labels[id], 0};
    }
    out[k].bytes += __atomic_load_n(&l->size, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&labelling);
  /* Largest first. */
  for (size_t a = 1; a < used; a++)
    for (size_t b = a; b > 0 && out[b].bytes > out[b - 1].bytes; b--) {
      struct wsla_purpose_sum t = out[b];
      out[b] = out[b - 1];
      out[b - 1] = t;
    }
  return used;
}
