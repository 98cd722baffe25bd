/* What the device memory was for: large allocations grouped by the stacks they came from, and the stacks by what the program was doing. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "rec.h"
#include "explain.h"

/* A device allocation seen and not yet seen freed, with its stack. */
struct block {
  uint64_t addr, size, stack;
  UT_hash_handle hh;
};

static struct purpose_stat *purpose_of(struct purposes *out, const char *label) {
  for (size_t i = 0; i < out->npurposes; i++)
    if (!strcmp(out->purposes[i].label, label)) return &out->purposes[i];
  struct purpose_stat *grown = realloc(out->purposes, (out->npurposes + 1) * sizeof *grown);
  if (!grown) abort();
  out->purposes = grown;
  struct purpose_stat *p = &out->purposes[out->npurposes++];
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label);
  return p;
}

const struct wsla_phase *rec_frames_phase(const struct rec *r, const uint64_t *frames, size_t depth,
                                          char *fn, size_t len) {
  static struct site_symbol sym[WSLA_STACK_MAX];
  const char *names[WSLA_STACK_MAX];
  size_t at = 0;
  if (depth > WSLA_STACK_MAX) depth = WSLA_STACK_MAX;
  for (size_t k = 0; k < depth; k++)
    names[k] = rec_site_symbol(r, frames[k], &sym[k]) ? sym[k].function : NULL;
  const struct wsla_phase *phase = wsla_phase_of(names, depth, &at);
  if (phase && fn) snprintf(fn, len, "%s", names[at]);
  return phase;
}

/* The label of a stack: the phase its innermost telling frame names. */
static const char *label_of(const struct rec *r, uint64_t id) {
  uint64_t frames[WSLA_STACK_MAX];
  size_t depth = rec_stack(r, id, frames, WSLA_STACK_MAX);
  return wsla_purpose_label(rec_frames_phase(r, frames, depth, NULL, 0));
}

static int stack_peak_desc(const void *pa, const void *pb) {
  const struct stack_stat *a = pa, *b = pb;
  return a->peak < b->peak ? 1 : a->peak > b->peak ? -1 : a->id > b->id ? 1 : -1;
}

static int purpose_peak_desc(const void *pa, const void *pb) {
  const struct purpose_stat *a = pa, *b = pb;
  return a->peak < b->peak ? 1 : a->peak > b->peak ? -1 : strcmp(a->label, b->label);
}

/* A stack's record, labelled when first met. */
static struct stack_stat *stack_of(const struct rec *r, struct stack_stat *by_id, uint64_t id) {
  struct stack_stat *st = &by_id[id];
  if (!st->label) {
    st->id = id;
    st->label = label_of(r, id);
  }
  return st;
}

void purposes_build(const struct rec *r, struct purposes *out) {
  memset(out, 0, sizeof *out);
  if (!r->stack_count) return;
  uint64_t n = r->stack_count + 1; /* by id; 0 is none */
  struct stack_stat *by_id = calloc(n, sizeof *by_id);
  if (!by_id) abort();
  /* Events replayed in order: each stack's and each purpose's live bytes,
     and their peaks over the events kept. */
  struct block *live = NULL, *b, *tmp;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    bool alloc = e->type == WSLA_EV_ALLOC && e->addr && !(e->flags & WSLA_F_HOST);
    if ((e->type == WSLA_EV_FREE || alloc) && e->addr) {
      /* A free, or an allocation at an address whose free the ring lost. */
      HASH_FIND(hh, live, &e->addr, sizeof e->addr, b);
      if (b) {
        by_id[b->stack].live -= b->size;
        purpose_of(out, by_id[b->stack].label)->live -= b->size;
        HASH_DEL(live, b);
        free(b);
      }
    }
    if (!alloc || !e->aux || e->aux >= n) continue;
    struct stack_stat *st = stack_of(r, by_id, e->aux);
    if (!(b = malloc(sizeof *b))) abort();
    *b = (struct block){.addr = e->addr, .size = e->size, .stack = e->aux};
    HASH_ADD(hh, live, addr, sizeof b->addr, b);
    st->allocs++;
    st->bytes += e->size;
    if ((st->live += e->size) > st->peak) st->peak = st->live;
    struct purpose_stat *p = purpose_of(out, st->label);
    p->allocs++;
    p->bytes += e->size;
    if ((p->live += e->size) > p->peak) p->peak = p->live;
    /* Their joint peak: what made up the most they held at once. */
    uint64_t together = 0;
    for (size_t k = 0; k < out->npurposes; k++) together += out->purposes[k].live;
    if (together > out->joint_peak) {
      out->joint_peak = together;
      out->joint_peak_ns = e->time_ns;
      for (size_t k = 0; k < out->npurposes; k++) out->purposes[k].at_joint_peak = out->purposes[k].live;
    }
  }
  HASH_ITER(hh, live, b, tmp) {
    HASH_DEL(live, b);
    free(b);
  }
  /* What is live at the end, exactly, from the live slots. */
  for (size_t k = 0; k < out->npurposes; k++) out->purposes[k].live = 0;
  for (uint64_t id = 0; id < n; id++) by_id[id].live = 0;
  for (uint64_t i = 0; i < r->live_count; i++) {
    const struct wsla_live *l = &r->live[i];
    if (!l->commit || !l->stack || l->stack >= n || (l->flags & WSLA_F_HOST)) continue;
    struct stack_stat *st = stack_of(r, by_id, l->stack);
    st->live += l->size;
    purpose_of(out, st->label)->live += l->size;
  }
  /* One array, sized first: growing it a stack at a time copies it
     65,535 times over for a crafted file's stacks. */
  size_t used = 0;
  for (uint64_t id = 1; id < n; id++) used += by_id[id].label != NULL;
  if (used && !(out->stacks = malloc(used * sizeof *out->stacks))) abort();
  for (uint64_t id = 1; id < n; id++)
    if (by_id[id].label) out->stacks[out->nstacks++] = by_id[id];
  /* qsort wants an array even when there is nothing to sort. */
  if (out->nstacks) qsort(out->stacks, out->nstacks, sizeof *out->stacks, stack_peak_desc);
  if (out->npurposes) qsort(out->purposes, out->npurposes, sizeof *out->purposes, purpose_peak_desc);
  free(by_id);
}

const char **purpose_labels(const struct rec *r) {
  const char **labels = calloc(r->stack_count + 1, sizeof *labels);
  if (!labels) abort();
  for (uint64_t id = 1; id <= r->stack_count; id++)
    if (r->stacks[id - 1].commit == id) labels[id] = label_of(r, id);
  return labels;
}

void purposes_line(FILE *out, const struct purposes *p, enum purpose_figure which, const char *lead) {
  bool any = false;
  for (size_t k = 0; k < p->npurposes; k++) {
    const struct purpose_stat *s = &p->purposes[k];
    uint64_t v = which == PURPOSE_LIVE ? s->live : which == PURPOSE_PEAK ? s->peak : s->at_joint_peak;
    if (!v) continue;
    char a[32];
    fprintf(out, "%s%s %s", any ? ", " : lead, s->label, wsla_fmt_size(v, a, sizeof a));
    any = true;
  }
  if (any) fputc('\n', out);
}

bool purposes_drawable(const struct rec *r, const char *tool) {
  if (!r->stack_count) return false;
  if (!r->events_lost) return true;
  fprintf(stderr, "wslalloc %s: what the memory was for is left out: %" PRIu64 " events were lost "
                  "from the ring, so a free could not be told apart (a larger WSLALLOC_EVENTS "
                  "keeps them)\n", tool, r->events_lost);
  return false;
}

void purposes_free(struct purposes *p) {
  free(p->purposes);
  free(p->stacks);
  memset(p, 0, sizeof *p);
}
