/* First aid: the explanation a process that dies of an OOM prints as the last thing it says. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "explain.h"

/*
 * Composed when the OOM happens, never in the signal handler, which only
 * writes it.  Two buffers: a second OOM composes into the one not shown,
 * then publishes it, so a handler running meanwhile writes whole text.
 * OOMs in several threads at once take turns (the lock is only ever taken
 * on the failure path, never by the handler), or two would compose into
 * the same buffer.
 */
static pthread_mutex_t composing = PTHREAD_MUTEX_INITIALIZER;
static void compose(struct wsla_proc *p, const struct wsla_oom *o);
#define FIRST_AID_MAX 2048
static char texts[2][FIRST_AID_MAX];
static size_t lengths[2];
static int shown;             /* the buffer a handler writes */

__attribute__((format(printf, 3, 4))) static size_t append(char *buf, size_t used, const char *fmt, ...) {
  if (used >= FIRST_AID_MAX - 1) return used;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + used, FIRST_AID_MAX - used, fmt, ap);
  va_end(ap);
  if (n < 0) return used;
  used += (size_t)n;
  return used < FIRST_AID_MAX ? used : FIRST_AID_MAX - 1;
}

/* path as one shell word, quoted only where it needs to be; false when it
   does not fit. */
static bool shell_quote(const char *path, char *out, size_t len) {
  bool plain = path[0] != '\0';
  for (const char *c = path; *c; c++)
    if (!strchr("/._-+,:@%=", *c) && !(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
        !(*c >= '0' && *c <= '9'))
      plain = false;
  size_t n = 0;
  if (!plain) out[n++] = '\'';
  for (const char *c = path; *c; c++) {
    const char *piece = !plain && *c == '\'' ? "'\\''" : NULL;
    size_t k = piece ? 4 : 1;
    if (n + k + 2 >= len) return false;
    if (piece) memcpy(out + n, piece, k);
    else out[n] = *c;
    n += k;
  }
  if (!plain) out[n++] = '\'';
  out[n] = '\0';
  return true;
}

void wsla_first_aid_reset_after_fork(void) {
  pthread_mutex_init(&composing, NULL);
  /* The parent's OOM is not the child's: a child that dies before it
     records anything says nothing of it. */
  wsla_gate_clear(WSLA_GATE_FIRST_AID);
}

void wsla_first_aid_note(struct wsla_proc *p, const struct wsla_oom *o) {
  pthread_mutex_lock(&composing);
  compose(p, o);
  pthread_mutex_unlock(&composing);
}

/* Composes o's first aid into the buffer not shown and shows it. */
static void compose(struct wsla_proc *p, const struct wsla_oom *o) {
  char a[32], b[32], c[32], why[512];
  const char *api = wsla_api_name(o->api);
  int next = !__atomic_load_n(&shown, __ATOMIC_ACQUIRE);
  char *t = texts[next];
  size_t n = append(t, 0, "\nwslalloc: this process ran out of %s memory\n",
                    o->device >= 0 ? "GPU" : "pinned host");
  n = append(t, n, "  %s of %s", api ? api : "an allocation",
             wsla_fmt_size(o->size, a, sizeof a));
  if (o->device >= 0) n = append(t, n, " on device %d", o->device);
  n = append(t, n, " failed %.2f s after start\n", o->time_ns / 1e9);
  if (o->total_bytes) {
    n = append(t, n, "  device %d: %s total, %s free", o->device,
               wsla_fmt_size(o->total_bytes, a, sizeof a),
               wsla_fmt_size(o->free_bytes, b, sizeof b));
    if (o->largest_block)
      n = append(t, n, ", largest free block %s",
                 wsla_fmt_size(o->largest_block, c, sizeof c));
    n = append(t, n, "\n");
  }
  n = append(t, n, "  this process: %s in %llu allocation%s",
             wsla_fmt_size(o->own_bytes, a, sizeof a),
             (unsigned long long)o->own_allocs, o->own_allocs == 1 ? "" : "s");
  if (o->pool_cached)
    n = append(t, n, ", and %s cached in its stream-ordered pool",
               wsla_fmt_size(o->pool_cached, b, sizeof b));
  if (o->total_bytes)
    n = append(t, n, "; others and the driver: %s",
               wsla_fmt_size(o->foreign_bytes, c, sizeof c));
  struct wsla_purpose_sum sums[6];
  size_t nsums = o->device >= 0 ? wsla_purposes_live(p, o->device, sums, 6) : 0;
  for (size_t i = 0; i < nsums; i++)
    n = append(t, n, "%s%s %s", i ? ", " : "\n  of its large allocations: ", sums[i].label,
               wsla_fmt_size(sums[i].bytes, a, sizeof a));
  char others_line[512], named[256];
  wsla_others_first_aid(p, o, others_line, sizeof others_line, named, sizeof named);
  if (others_line[0]) n = append(t, n, "\n  %s", others_line);
  char steps[256];
  wsla_steps_text(o, steps, sizeof steps);
  if (steps[0]) n = append(t, n, "\n  tried: %s", steps);
  wsla_diagnose_named(o, named, why, sizeof why);
  n = append(t, n, "\n  likely fix: %s\n", why);
  const struct wsla_phase *phase =
      o >= p->ooms && o < p->ooms + p->oom_cap ? wsla_oom_stack_phase(p, (uint64_t)(o - p->ooms)) : NULL;
  if (phase) n = append(t, n, "  it ran out while %s: %s\n", phase->what, phase->fix);
  if (p->file_backed) {
    /* The command names the file: plain `wslalloc report` reads the
       default directory, not necessarily this one. */
    char quoted[640];
    if (shell_quote(p->path, quoted, sizeof quoted))
      n = append(t, n, "  recording: %s (`wslalloc report %s` explains it)\n", p->path, quoted);
    else
      n = append(t, n, "  recording: %s (`wslalloc report` with this path explains it)\n",
                 p->path);
  }
  lengths[next] = n;
  /* Release: pairs with the acquire load in wsla_first_aid_print, so the
     handler sees the whole text of the buffer it is pointed at. */
  __atomic_store_n(&shown, next, __ATOMIC_RELEASE);
  /* Pending is the gate's flag alone: one word, so that a success clearing
     it and an OOM setting it can never leave one said and the other not. */
  wsla_gate_set(WSLA_GATE_FIRST_AID);
}

void wsla_first_aid_print(bool from_signal) {
  if (!(wsla_gate() & WSLA_GATE_FIRST_AID) || wsla_opts.quiet.num) return;
  /* At exit, the program's own buffered output goes first, so that this
     is the last thing it says (not safe in a signal handler). */
  if (!from_signal) fflush(NULL);
  int i = __atomic_load_n(&shown, __ATOMIC_ACQUIRE);
  size_t done = 0;
  while (done < lengths[i]) {
    ssize_t w = write(STDERR_FILENO, texts[i] + done, lengths[i] - done);
    if (w <= 0) break;
    done += (size_t)w;
  }
  wsla_gate_clear(WSLA_GATE_FIRST_AID);
}
