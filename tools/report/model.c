/* The report's model: the summary of a recording's events and live slots, and every figure the report derives, computed once. */
#include <stdlib.h>
#include <string.h>

#include "others.h"
#include "explain.h"
#include "report.h"

/* An allocation the replay has seen and not yet seen freed. */
struct replay_block {
  uint64_t addr;
  uint64_t size;
  bool host;
  struct site_stat *site;
  UT_hash_handle hh;
};

/* The counters' live allocations less those the live slots list. */
static void count_unlisted(const struct rec *r, struct summary *s) {
  /* Only a table that overflowed, or a file cut short, leaves live
     allocations out of the list; any other difference between counters and
     list is calls in flight at the end (inflight.c says so). */
  if (!r->partial && !r->ctr->live_overflow && !r->ctr->table_oom) return;
  uint64_t allocs = r->ctr->host_live_allocs, bytes = r->ctr->host_live_bytes;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    allocs += r->ctr->dev[d].live_allocs;
    bytes += r->ctr->dev[d].live_bytes;
  }
  for (const struct leak_stat *l = s->leaks; l; l = l->hh.next) {
    allocs -= l->allocs < allocs ? l->allocs : allocs;
    bytes -= l->bytes < bytes ? l->bytes : bytes;
  }
  s->unlisted_allocs = allocs;
  s->unlisted_bytes = bytes;
}

const char *report_api_name(unsigned api, char *buf, size_t len) {
  const char *n = wsla_api_name(api);
  if (n) return n;
  snprintf(buf, len, "api#%u", api);
  return buf;
}

static struct site_stat *site_get(struct summary *s, uint64_t site) {
  struct site_stat *st;
  HASH_FIND(hh, s->sites, &site, sizeof site, st);
  if (!st) {
    st = calloc(1, sizeof *st);
    if (!st) abort();
    st->site = site;
    HASH_ADD(hh, s->sites, site, sizeof site, st);
  }
  return st;
}

/* Peak live device bytes first; then device bytes allocated. */
static int by_peak_desc(struct site_stat *a, struct site_stat *b) {
  if (a->peak_live_bytes != b->peak_live_bytes)
    return a->peak_live_bytes < b->peak_live_bytes ? 1 : -1;
  return a->dev_bytes < b->dev_bytes ? 1 : a->dev_bytes > b->dev_bytes ? -1 : 0;
}

static int leak_bytes_desc(struct leak_stat *a, struct leak_stat *b) {
  return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : 0;
}

/* Each site's peak of live device bytes, and of pinned bytes: the events
   replayed, each free charged to the site that allocated its block; and
   the failures other than out of memory, by API and error. */
static void replay_events(const struct rec *r, struct summary *s) {
  struct replay_block *blocks = NULL, *blk, *tmp;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->type == WSLA_EV_FAIL) {
      struct fail_key k = {e->api, e->result};
      struct fail_stat *f;
      HASH_FIND(hh, s->fails, &k, sizeof k, f);
      if (!f) {
        f = calloc(1, sizeof *f);
        if (!f) abort();
        f->key = k;
        f->first_ns = e->time_ns;
        f->first_site = e->site;
        HASH_ADD(hh, s->fails, key, sizeof k, f);
      }
      f->count++;
      if (e->api < WSLA_API_MAX) s->fails_seen[e->api]++;
      continue;
    }
    if (e->type == WSLA_EV_FREE && e->addr) {
      HASH_FIND(hh, blocks, &e->addr, sizeof e->addr, blk);
      if (!blk) continue; /* allocated before the events kept */
      *(blk->host ? &blk->site->host_replay_live : &blk->site->replay_live) -= blk->size;
      HASH_DEL(blocks, blk);
      free(blk);
      continue;
    }
    if (e->type != WSLA_EV_ALLOC) continue;
    struct site_stat *st = site_get(s, e->site);
    bool host = e->flags & WSLA_F_HOST;
    st->calls++;
    st->bytes += e->size;
    *(host ? &st->host_calls : &st->dev_calls) += 1;
    *(host ? &st->host_bytes : &st->dev_bytes) += e->size;
    if (!e->addr) continue;
    HASH_FIND(hh, blocks, &e->addr, sizeof e->addr, blk);
    if (blk) { /* freed where the ring lost the free: the old block is gone */
      *(blk->host ? &blk->site->host_replay_live : &blk->site->replay_live) -= blk->size;
      HASH_DEL(blocks, blk);
      free(blk);
    }
    blk = malloc(sizeof *blk);
    if (!blk) abort();
    blk->addr = e->addr;
    blk->size = e->size;
    blk->host = host;
    blk->site = st;
    HASH_ADD(hh, blocks, addr, sizeof blk->addr, blk);
    if (host) {
      st->host_replay_live += e->size;
      if (st->host_replay_live > st->host_peak_live_bytes)
        st->host_peak_live_bytes = st->host_replay_live;
    } else {
      st->replay_live += e->size;
      if (st->replay_live > st->peak_live_bytes) st->peak_live_bytes = st->replay_live;
    }
  }
  HASH_ITER(hh, blocks, blk, tmp) {
    HASH_DEL(blocks, blk);
    free(blk);
  }
}

/* What the live slots hold at the end: each site's live bytes, and the
   allocations still live by site, API and device. */
static void count_live(const struct rec *r, struct summary *s) {
  for (uint64_t i = 0; i < r->live_count; i++) {
    const struct wsla_live *l = &r->live[i];
    if (!l->commit) continue;
    bool host = l->flags & WSLA_F_HOST;
    struct site_stat *st = site_get(s, l->site);
    if (host) {
      st->host_live_bytes += l->size;
    } else {
      st->live_bytes += l->size;
      st->live_allocs++;
    }
    struct leak_key k;
    memset(&k, 0, sizeof k); /* the padding is part of the hashed key */
    k.site = l->site;
    k.api = l->api;
    k.device = host ? -1 : l->device;
    k.host = host;
    struct leak_stat *ls;
    HASH_FIND(hh, s->leaks, &k, sizeof k, ls);
    if (!ls) {
      ls = calloc(1, sizeof *ls);
      if (!ls) abort();
      ls->key = k;
      HASH_ADD(hh, s->leaks, key, sizeof k, ls);
    }
    ls->allocs++;
    ls->bytes += l->size;
  }
}

static void summarise(const struct rec *r, struct summary *s) {
  memset(s, 0, sizeof *s);
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    s->calls += r->ctr->api[i].calls;
    s->failed += r->ctr->api[i].failed;
    s->ooms += r->ctr->api[i].ooms;
  }
  replay_events(r, s);
  count_live(r, s);
  HASH_SORT(s->sites, by_peak_desc);
  HASH_SORT(s->leaks, leak_bytes_desc);
  count_unlisted(r, s);
}

static void summary_free(struct summary *s) {
  struct site_stat *a, *ta;
  HASH_ITER(hh, s->sites, a, ta) {
    HASH_DEL(s->sites, a);
    free(a);
  }
  struct leak_stat *b, *tb;
  HASH_ITER(hh, s->leaks, b, tb) {
    HASH_DEL(s->leaks, b);
    free(b);
  }
  struct fail_stat *f, *tf;
  HASH_ITER(hh, s->fails, f, tf) {
    HASH_DEL(s->fails, f);
    free(f);
  }
}

/* API api's failed calls other than out-of-memory that have no event to
   tell their error: lost from the ring, or calls (memory queries) that
   the library only counts. */
static uint64_t failures_unexplained(const struct rec *r, const struct summary *s, unsigned api) {
  const struct wsla_api_counters *a = &r->ctr->api[api];
  uint64_t other = a->failed > a->ooms ? a->failed - a->ooms : 0;
  return other > s->fails_seen[api] ? other - s->fails_seen[api] : 0;
}

/* The value of key in the recording's environment lines, or NULL. */
static const char *env_value(const struct rec *r, const char *key, char *buf,
                             size_t len) {
  size_t k = strlen(key);
  for (const char *at = r->environment; *at;) {
    size_t line = strcspn(at, "\n");
    if (line > k && !strncmp(at, key, k) && at[k] == '=') {
      snprintf(buf, len, "%.*s", (int)(line - k - 1), at + k + 1);
      return buf;
    }
    at += line + (at[line] ? 1 : 0);
  }
  return NULL;
}

/* The events just before an OOM: the index of the first of them in
   r->events and how many (up to WSLA_EVENTS_BEFORE_OOM); 0 when the ring
   no longer holds them. Events are in sequence order: a binary search. */
#define WSLA_EVENTS_BEFORE_OOM 20
static uint64_t events_before(const struct rec *r, const struct wsla_oom *o,
                              uint64_t *first) {
  uint64_t lo = 0, hi = r->nevents;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (r->events[mid].commit - 1 < o->event_seq) lo = mid + 1;
    else hi = mid;
  }
  uint64_t n = lo < WSLA_EVENTS_BEFORE_OOM ? lo : WSLA_EVENTS_BEFORE_OOM;
  *first = lo - n;
  return n;
}

const char *report_event_type_name(uint16_t t) {
  static const char *const names[] = {
      [WSLA_EV_ALLOC] = "alloc",   [WSLA_EV_FREE] = "free",
      [WSLA_EV_FAIL] = "fail",     [WSLA_EV_OOM] = "oom",
      [WSLA_EV_SAMPLE] = "sample", [WSLA_EV_MAP] = "map",
      [WSLA_EV_UNMAP] = "unmap",   [WSLA_EV_RESERVE] = "reserve",
      [WSLA_EV_UNRESERVE] = "unreserve", [WSLA_EV_STEP] = "step"};
  return t <= WSLA_EV_LAST && names[t] ? names[t] : "?";
}

/* GPU g as the environment lines have it ("gpuN=name|total_bytes"):
   its name, and its total (0 if not given); false if not recorded. */
static bool gpu_entry(const struct rec *r, int g, char *name, size_t len, uint64_t *total) {
  char key[16], v[256];
  snprintf(key, sizeof key, "gpu%d", g);
  const char *x = env_value(r, key, v, sizeof v);
  if (!x) return false;
  const char *bar = strrchr(x, '|');
  snprintf(name, len, "%.*s", bar ? (int)(bar - x) : (int)strlen(x), x);
  *total = bar ? strtoull(bar + 1, NULL, 10) : 0;
  return true;
}

/* The GPU libraries the process had loaded (runtime, driver, NVML, HIP),
   from the module map: which runtime a client really used, whatever it
   was linked against. Calls each(path, ctx) for each. */
void report_gpu_libraries(const struct rec *r, void (*each)(const char *, void *), void *ctx) {
  static const char *const names[] = {"libcudart.so", "libcuda.so", "libnvidia-ml.so",
                                      "libamdhip64.so", "libcublas.so", "libcudnn.so"};
  for (uint64_t i = 0; i < r->module_count; i++) {
    const struct wsla_module *m = &r->modules[i];
    if (m->commit != i + 1) continue;
    char path[sizeof m->path + 1];
    memcpy(path, m->path, sizeof m->path);
    path[sizeof m->path] = '\0';
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
      if (!strncmp(base, names[k], strlen(names[k]))) {
        each(path, ctx);
        break;
      }
  }
}

/* What OOM record idx's program was doing, from the functions on its stack
   as this machine's symbols name them; NULL if none tells.  The telling
   function, demangled, goes to fn. */
const struct wsla_phase *report_oom_phase(const struct rec *r, uint64_t idx, char *fn, size_t len) {
  uint64_t frames[WSLA_STACK_MAX];
  return rec_frames_phase(r, frames, rec_oom_stack(r, idx, frames, WSLA_STACK_MAX), fn, len);
}

/* -1 when key is not in the environment lines, else whether it is "yes". */
static int env_yes(const struct rec *r, const char *key) {
  char v[256];
  const char *x = env_value(r, key, v, sizeof v);
  return x ? !strcmp(x, "yes") : -1;
}

static void model_environment(const struct rec *r, struct model *m) {
  char v[256];
  const char *x;
  m->exec = env_value(r, "exec", m->exec_buf, sizeof m->exec_buf);
  m->kernel = env_value(r, "kernel", m->kernel_buf, sizeof m->kernel_buf);
  m->wsl2 = env_yes(r, "wsl");
  m->dev_dxg = env_yes(r, "dxg");
  if ((x = env_value(r, "vm_memory_bytes", v, sizeof v)))
    m->has_memory = true, m->memory_bytes = strtoull(x, NULL, 10);
  if ((x = env_value(r, "cuda_driver", v, sizeof v)))
    m->has_cuda_driver = true, m->cuda_driver = strtoll(x, NULL, 10);
  for (int g = 0; g < WSLA_ENV_GPUS_MAX; g++) {
    struct gpu_model *gm = &m->gpus[g];
    gm->present = gpu_entry(r, g, gm->name, sizeof gm->name, &gm->total);
  }
}

static void model_oom(const struct rec *r, uint64_t i, struct oom_model *om) {
  const struct wsla_oom *o = &r->ooms[i];
  om->idx = i;
  om->has_fragmentation = o->largest_block && o->free_bytes;
  if (om->has_fragmentation)
    om->fragmentation = o->largest_block >= o->free_bytes
                            ? 0.0
                            : 1.0 - (double)o->largest_block / (double)o->free_bytes;
  om->view_age_ns = o->time_ns >= o->view_time_ns ? o->time_ns - o->view_time_ns : 0;
  om->nbefore = events_before(r, o, &om->first_before);
  char named[256];
  others_named(r, i, named, sizeof named);
  wsla_diagnose_named(o, named, om->diagnosis, sizeof om->diagnosis);
}

void report_model_build(const struct rec *r, struct model *m) {
  memset(m, 0, sizeof *m);
  summarise(r, &m->s);
  m->end = rec_end_state(r);
  model_environment(r, m);
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    m->unexplained[i] = failures_unexplained(r, &m->s, i);
    m->unexplained_total += m->unexplained[i];
  }
  uint64_t kept = 0;
  for (uint64_t i = 0; i < r->oom_count; i++) kept += r->ooms[i].commit == i + 1;
  m->ooms = calloc(kept ? kept : 1, sizeof *m->ooms);
  if (!m->ooms) abort();
  for (uint64_t i = 0; i < r->oom_count; i++)
    if (r->ooms[i].commit == i + 1) model_oom(r, i, &m->ooms[m->nooms++]);
}

void report_model_free(struct model *m) {
  summary_free(&m->s);
  free(m->ooms);
}

