/* wslalloc report: what a recording says, for people (text) and programs (JSON). */
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uthash.h>

#include "others.h"
#include "tool.h"
#include "explain.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc report [--json] [FILE]\n"
    "\n"
    "Explains a recording: how the process ended, its device and pinned\n"
    "memory, every out-of-memory failure with the device's state at that\n"
    "moment, its callers and what the program was doing (llama.cpp's weights,\n"
    "KV cache or compute buffers; PyTorch's allocator), every other failed\n"
    "call by its error's name and what it means, the busiest call sites\n"
    "(device and pinned memory apart), what the large allocations were for\n"
    "by their stacks, and what was still allocated at the end.\n"
    "FILE defaults to the newest recording in WSLALLOC_DIR.\n"
    "\n"
    "  --json     machine-readable output\n"
    "  -h, --help this text\n";

/* A call site's allocations: device and pinned host memory counted apart,
   so that neither table lists the other's bytes. */
struct site_stat {
  uint64_t site;
  uint64_t calls, bytes; /* every allocation, device and pinned */
  uint64_t dev_calls, dev_bytes, live_bytes, live_allocs;
  uint64_t host_calls, host_bytes, host_live_bytes;
  uint64_t replay_live, peak_live_bytes; /* device bytes, over the events kept */
  uint64_t host_replay_live, host_peak_live_bytes; /* pinned bytes, the same */
  UT_hash_handle hh;
};

/* An allocation the replay has seen and not yet seen freed. */
struct replay_block {
  uint64_t addr;
  uint64_t size;
  bool host;
  struct site_stat *site;
  UT_hash_handle hh;
};

struct leak_key {
  uint64_t site;
  uint16_t api;
  int16_t device;
  uint16_t host;
};

struct leak_stat {
  struct leak_key key;
  uint64_t allocs, bytes;
  UT_hash_handle hh;
};

/* Failed calls that were not out of memory, by API and error, from the
   events kept. */
struct fail_key {
  uint32_t api;
  int32_t result;
};

struct fail_stat {
  struct fail_key key;
  uint64_t count, first_ns, first_site;
  UT_hash_handle hh;
};

struct summary {
  uint64_t calls, failed, ooms;
  uint64_t fails_seen[WSLA_API_MAX]; /* the FAIL events kept, by API */
  struct site_stat *sites;
  struct leak_stat *leaks;
  struct fail_stat *fails; /* in the order first seen */
  /* Live by the counters but in no live slot (the table was full and could
     not grow): said, so that the leak list is never silently short. */
  uint64_t unlisted_allocs, unlisted_bytes;
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

static const char *api_name(unsigned api, char *buf, size_t len) {
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

/* The same for pinned host memory. */
static int by_host_peak_desc(const void *pa, const void *pb) {
  const struct site_stat *a = *(const struct site_stat *const *)pa;
  const struct site_stat *b = *(const struct site_stat *const *)pb;
  if (a->host_peak_live_bytes != b->host_peak_live_bytes)
    return a->host_peak_live_bytes < b->host_peak_live_bytes ? 1 : -1;
  return a->host_bytes < b->host_bytes ? 1 : a->host_bytes > b->host_bytes ? -1 : 0;
}

static int by_calls_desc(const void *pa, const void *pb) {
  const struct site_stat *a = *(const struct site_stat *const *)pa;
  const struct site_stat *b = *(const struct site_stat *const *)pb;
  return a->calls < b->calls ? 1 : a->calls > b->calls ? -1 : 0;
}

static int leak_bytes_desc(struct leak_stat *a, struct leak_stat *b) {
  return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : 0;
}

static void summarise(const struct rec *r, struct summary *s) {
  memset(s, 0, sizeof *s);
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    s->calls += r->ctr->api[i].calls;
    s->failed += r->ctr->api[i].failed;
    s->ooms += r->ctr->api[i].ooms;
  }
  /* Each site's peak of live device bytes, and of pinned bytes: the events
     replayed, each free charged to the site that allocated its block. */
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

static double seconds(uint64_t ns) { return ns / 1e9; }

/* API api's failed calls other than out-of-memory that have no event to
   tell their error: lost from the ring, or calls (memory queries) that
   the library only counts. */
static uint64_t failures_unexplained(const struct rec *r, const struct summary *s, unsigned api) {
  const struct wsla_api_counters *a = &r->ctr->api[api];
  uint64_t other = a->failed > a->ooms ? a->failed - a->ooms : 0;
  return other > s->fails_seen[api] ? other - s->fails_seen[api] : 0;
}

static const char *view_source(uint16_t s) {
  return s == WSLA_VIEW_DRIVER ? "driver" : s == WSLA_VIEW_SAMPLE ? "sample" : "none";
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

static const char *event_type_name(uint16_t t) {
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
static void gpu_libraries(const struct rec *r, void (*each)(const char *, void *), void *ctx) {
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

static void library_json(const char *path, void *ctx) { json_str(ctx, NULL, path); }

struct library_lines {
  FILE *out;
  int shown;
};

static void library_text(const char *path, void *ctx) {
  struct library_lines *l = ctx;
  fprintf(l->out, "%s %s\n", l->shown++ ? "         " : "Libraries", path);
}

/* key: [{site, function}, ...] for a stack's frames, innermost first. */
static void json_frames(struct json *j, const struct rec *r, const char *key,
                        const uint64_t *frames, size_t depth) {
  char buf[600];
  json_arr(j, key);
  for (size_t k = 0; k < depth; k++) {
    json_obj(j, NULL);
    rec_site_name(r, frames[k], buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, frames[k], buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
}

/* What OOM record idx's program was doing, from the functions on its stack
   as this machine's symbols name them; NULL if none tells.  The telling
   function, demangled, goes to fn. */
static const struct wsla_phase *oom_phase(const struct rec *r, uint64_t idx, char *fn, size_t len) {
  uint64_t frames[WSLA_STACK_MAX];
  return rec_frames_phase(r, frames, rec_oom_stack(r, idx, frames, WSLA_STACK_MAX), fn, len);
}

/* --- The model: what the report derives from a recording, once ----------- */

/* Both renderings print the same figures: each is computed here, once, and
   the text and the JSON only lay it out.  Call sites are named while
   rendering, in the order each rendering prints them, because the
   symbolizer's bounds (SYM_SITES_MAX) count in that order. */

/* An OOM record kept, with what the report derives from it. */
struct oom_model {
  uint64_t idx;              /* in r->ooms */
  bool has_fragmentation;    /* a largest block and free memory were measured */
  double fragmentation;      /* 1 - largest block / free; 0 when the block is all of it */
  uint64_t view_age_ns;      /* how old the device view was at the failure */
  uint64_t first_before, nbefore; /* the events just before it (events_before) */
  char diagnosis[512];       /* the likely cause, naming the other programs */
};

/* A GPU the environment lines name. */
struct gpu_model {
  bool present;
  char name[200];
  uint64_t total; /* 0 where not given */
};

struct model {
  struct summary s;
  const char *end; /* rec_end_state */
  const char *exec; /* the program an exec replaced it by, or NULL */
  char exec_buf[WSLA_PATH_MAX + 1];
  const char *kernel; /* NULL where the environment was not recorded */
  char kernel_buf[256];
  int wsl2, dev_dxg; /* -1 not recorded, else whether so */
  bool has_memory, has_cuda_driver;
  uint64_t memory_bytes;
  long long cuda_driver; /* 12020 for 12.2 */
  struct gpu_model gpus[WSLA_ENV_GPUS_MAX];
  uint64_t unexplained[WSLA_API_MAX], unexplained_total; /* failures_unexplained */
  struct oom_model *ooms; /* the records kept, in order */
  uint64_t nooms;
};

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

static void model_build(const struct rec *r, struct model *m) {
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

static void model_free(struct model *m) {
  summary_free(&m->s);
  free(m->ooms);
}

/* --- JSON ------------------------------------------------------------------ */

static void json_process(struct json *j, const struct rec *r, const struct model *m) {
  const struct wsla_header *h = r->hdr;
  json_str(j, "recording", r->path);
  json_bool(j, "partial", r->partial);
  if (r->partial) json_str(j, "partial_reason", r->partial_why);
  json_obj(j, "process");
  json_i64(j, "pid", h->pid);
  json_str(j, "pid_namespace", pidns_word(h));
  json_i64(j, "ppid", h->ppid);
  json_str(j, "exe", r->exe);
  json_str(j, "cmdline", r->cmdline);
  json_fixed(j, "start_time", h->start_realtime_ns, 9);
  json_str(j, "end", m->end);
  if (h->end_state == WSLA_END_EXIT) json_i64(j, "exit_code", h->exit_code);
  else json_null(j, "exit_code");
  if (h->end_state == WSLA_END_SIGNAL) json_i64(j, "signal", h->end_signal);
  else json_null(j, "signal");
  if (h->end_state == WSLA_END_EXEC) {
    if (m->exec) json_str(j, "exec", m->exec);
    else json_null(j, "exec");
  }
  if (h->end_state != WSLA_END_RUNNING)
    json_fixed(j, "duration_s", h->end_time_ns, 9);
  json_end_obj(j);
}

static void json_environment(struct json *j, const struct rec *r, const struct model *m) {
  json_obj(j, "environment");
  if (m->kernel) json_str(j, "kernel", m->kernel);
  if (m->wsl2 >= 0) json_bool(j, "wsl2", m->wsl2);
  if (m->dev_dxg >= 0) json_bool(j, "dev_dxg", m->dev_dxg);
  if (m->has_memory) json_u64(j, "memory_bytes", m->memory_bytes);
  if (m->has_cuda_driver) json_i64(j, "cuda_driver_version", m->cuda_driver);
  json_arr(j, "gpus");
  for (int g = 0; g < WSLA_ENV_GPUS_MAX; g++) {
    const struct gpu_model *gm = &m->gpus[g];
    if (!gm->present) continue;
    json_obj(j, NULL);
    json_i64(j, "index", g);
    json_str(j, "name", gm->name);
    if (gm->total) json_u64(j, "total_bytes", gm->total);
    json_end_obj(j);
  }
  json_end_arr(j);
  json_arr(j, "gpu_libraries");
  gpu_libraries(r, library_json, j);
  json_end_arr(j);
  json_end_obj(j);
}

/* totals, lookups, vmm and by_api: the counters. */
static void json_counts(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_obj(j, "totals");
  json_u64(j, "calls", s->calls);
  json_u64(j, "failed", s->failed);
  json_u64(j, "ooms", s->ooms);
  json_u64(j, "recovered", r->ctr->recovered);
  json_u64(j, "events", r->nevents);
  json_u64(j, "events_lost", r->events_lost);
  json_u64(j, "untracked_frees", r->ctr->untracked_frees);
  json_u64(j, "live_overflow", r->ctr->live_overflow);
  json_u64(j, "live_unlisted", s->unlisted_allocs);
  json_u64(j, "live_unlisted_bytes", s->unlisted_bytes);
  json_end_obj(j);

  json_obj(j, "lookups");
  json_u64(j, "seen", r->ctr->lookups);
  json_u64(j, "wrapped", r->ctr->lookups_wrapped);
  json_end_obj(j);

  json_obj(j, "vmm");
  json_u64(j, "reserved_bytes", r->ctr->vmm_reserved_bytes);
  json_u64(j, "mapped_bytes", r->ctr->vmm_mapped_bytes);
  json_end_obj(j);

  json_obj(j, "by_api");
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    const struct wsla_api_counters *a = &r->ctr->api[i];
    if (!a->calls) continue;
    json_obj(j, api_name(i, buf, sizeof buf));
    json_u64(j, "calls", a->calls);
    json_u64(j, "failed", a->failed);
    json_u64(j, "bytes", a->bytes);
    json_u64(j, "ooms", a->ooms);
    json_end_obj(j);
  }
  json_end_obj(j);
}

/* Failures other than out-of-memory, each error by its header's name. */
static void json_failures(struct json *j, const struct rec *r, const struct model *m) {
  char buf[256];
  json_arr(j, "failures");
  for (const struct fail_stat *f = m->s.fails; f; f = f->hh.next) {
    json_obj(j, NULL);
    json_str(j, "api", api_name(f->key.api, buf, sizeof buf));
    json_i64(j, "code", f->key.result);
    const char *name = api_error_name(f->key.api, f->key.result);
    if (name) json_str(j, "error", name);
    else json_null(j, "error");
    const char *meaning = api_error_meaning(f->key.api, f->key.result);
    if (meaning) json_str(j, "meaning", meaning);
    json_u64(j, "count", f->count);
    json_f64(j, "first_time", seconds(f->first_ns));
    rec_site_name(r, f->first_site, buf, sizeof buf);
    json_str(j, "first_site", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
  json_obj(j, "failures_without_error");
  for (unsigned i = 0; i < WSLA_API_MAX; i++)
    if (m->unexplained[i]) json_u64(j, api_name(i, buf, sizeof buf), m->unexplained[i]);
  json_end_obj(j);
}

/* devices, host_pinned and what was in flight at the end. */
static void json_memory(struct json *j, const struct rec *r) {
  json_arr(j, "devices");
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++) {
    const struct wsla_device_counters *d = &r->ctr->dev[i];
    if (!rec_device_used(d)) continue;
    json_obj(j, NULL);
    json_u64(j, "index", i);
    json_u64(j, "total_bytes", d->total_bytes);
    json_u64(j, "free_bytes", d->free_bytes);
    json_u64(j, "live_bytes", d->live_bytes);
    json_u64(j, "live_allocs", d->live_allocs);
    json_u64(j, "peak_bytes", d->peak_bytes);
    json_fixed(j, "peak_time", (int64_t)d->peak_time_ns, 9);
    json_u64(j, "ooms", d->ooms);
    json_end_obj(j);
  }
  json_end_arr(j);

  json_obj(j, "host_pinned");
  json_u64(j, "live_bytes", r->ctr->host_live_bytes);
  json_u64(j, "live_allocs", r->ctr->host_live_allocs);
  json_u64(j, "peak_bytes", r->ctr->host_peak_bytes);
  json_end_obj(j);
  rec_in_flight_json(j, r);
}

/* An OOM's device view: sizes, the largest block and its age. */
static void json_oom_view(struct json *j, const struct wsla_oom *o, const struct oom_model *om) {
  json_u64(j, "free_bytes", o->free_bytes);
  json_u64(j, "total_bytes", o->total_bytes);
  json_u64(j, "own_bytes", o->own_bytes);
  json_u64(j, "own_allocs", o->own_allocs);
  json_u64(j, "foreign_bytes", o->foreign_bytes);
  json_u64(j, "pool_cached_bytes", o->pool_cached);
  json_str(j, "view", view_source(o->view_source));
  if (o->largest_block) {
    json_u64(j, "largest_block_bytes", o->largest_block);
    if (om->has_fragmentation) json_f64(j, "fragmentation", om->fragmentation);
  } else {
    json_null(j, "largest_block_bytes");
    json_null(j, "fragmentation");
  }
  if (o->view_source) json_fixed(j, "view_age_ms", (int64_t)om->view_age_ns, 6);
}

/* What the library did about an OOM: its outcome, cause and recovery steps. */
static void json_oom_recovery(struct json *j, const struct wsla_oom *o) {
  json_str(j, "outcome", o->outcome ? "recovered" : "failed");
  json_str(j, "cause", o->cause == WSLA_CAUSE_LIMIT          ? "limit"
                       : o->cause == WSLA_CAUSE_PINNED_LIMIT ? "pinned_limit"
                                                             : "device");
  if (o->cause) json_u64(j, "budget_bytes", o->budget_bytes);
  json_arr(j, "steps");
  for (unsigned bit = 1; bit <= WSLA_STEP_SPILL; bit <<= 1) {
    if (!((o->steps_tried | o->steps_skipped) & bit)) continue;
    json_obj(j, NULL);
    json_str(j, "name", wsla_step_name(bit));
    json_str(j, "result", o->steps_ok & bit        ? "ok"
                          : o->steps_skipped & bit ? "skipped"
                                                   : "failed");
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_events_before(struct json *j, const struct rec *r, const struct oom_model *om) {
  char buf[256];
  json_arr(j, "events_before");
  for (uint64_t k = om->first_before; k < om->first_before + om->nbefore; k++) {
    const struct wsla_event *e = &r->events[k];
    json_obj(j, NULL);
    json_fixed(j, "time", (int64_t)e->time_ns, 9);
    json_str(j, "type", event_type_name(e->type));
    json_i64(j, "device", e->device);
    if (e->type == WSLA_EV_SAMPLE) {
      json_u64(j, "free_bytes", e->addr);
      json_u64(j, "total_bytes", e->size);
      json_end_obj(j);
      continue;
    }
    json_str(j, "api", api_name(e->api, buf, sizeof buf));
    json_u64(j, "addr", e->addr);
    json_u64(j, "size", e->size);
    json_u64(j, "tid", e->tid);
    rec_site_name(r, e->site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, e->site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_oom(struct json *j, const struct rec *r, const struct oom_model *om) {
  const struct wsla_oom *o = &r->ooms[om->idx];
  char buf[256];
  json_obj(j, NULL);
  json_fixed(j, "time", (int64_t)o->time_ns, 9);
  json_str(j, "api", api_name(o->api, buf, sizeof buf));
  const char *oom_error = api_error_name(o->api, o->result);
  if (oom_error) json_str(j, "error", oom_error);
  json_i64(j, "device", o->device);
  json_u64(j, "size", o->size);
  json_oom_view(j, o, om);
  json_i64(j, "result", o->result);
  json_u64(j, "tid", o->tid);
  rec_site_name(r, o->site, buf, sizeof buf);
  json_str(j, "site", buf);
  rec_site_function(r, o->site, buf, sizeof buf);
  if (buf[0]) json_str(j, "function", buf);
  uint64_t frames[WSLA_STACK_MAX];
  json_frames(j, r, "stack", frames, rec_oom_stack(r, om->idx, frames, WSLA_STACK_MAX));
  json_oom_recovery(j, o);
  others_report_json(j, r, om->idx); /* the other programs on the device */
  json_str(j, "diagnosis", om->diagnosis);
  char fn[512];
  const struct wsla_phase *phase = oom_phase(r, om->idx, fn, sizeof fn);
  if (phase) {
    json_obj(j, "phase");
    json_str(j, "what", phase->what);
    json_str(j, "function", fn);
    json_str(j, "fix", phase->fix);
    json_end_obj(j);
  } else {
    json_null(j, "phase");
  }
  json_events_before(j, r, om);
  json_end_obj(j);
}

static void json_sites(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_arr(j, "sites");
  for (const struct site_stat *st = s->sites; st; st = st->hh.next) {
    json_obj(j, NULL);
    rec_site_name(r, st->site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, st->site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_u64(j, "calls", st->calls);
    json_u64(j, "bytes", st->bytes);
    json_u64(j, "live_bytes", st->live_bytes);
    json_u64(j, "peak_live_bytes", st->peak_live_bytes);
    json_u64(j, "device_calls", st->dev_calls);
    json_u64(j, "device_bytes", st->dev_bytes);
    json_u64(j, "pinned_calls", st->host_calls);
    json_u64(j, "pinned_bytes", st->host_bytes);
    json_u64(j, "pinned_live_bytes", st->host_live_bytes);
    json_u64(j, "pinned_peak_live_bytes", st->host_peak_live_bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_purposes(struct json *j, const struct rec *r) {
  struct purposes pu;
  purposes_build(r, &pu);
  json_arr(j, "purposes");
  for (size_t i = 0; i < pu.npurposes; i++) {
    json_obj(j, NULL);
    json_str(j, "label", pu.purposes[i].label);
    json_u64(j, "peak_live_bytes", pu.purposes[i].peak);
    json_u64(j, "at_joint_peak_bytes", pu.purposes[i].at_joint_peak);
    json_u64(j, "live_bytes", pu.purposes[i].live);
    json_u64(j, "allocs", pu.purposes[i].allocs);
    json_u64(j, "bytes", pu.purposes[i].bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
  /* As many stacks as the library ever writes (its 2048); more come only
     from a crafted file, and each would cost 30 frames' names. */
  enum { STACKS_LISTED = 2048 };
  json_arr(j, "stacks");
  for (size_t i = 0; i < pu.nstacks && i < STACKS_LISTED; i++) {
    const struct stack_stat *k = &pu.stacks[i];
    json_obj(j, NULL);
    json_str(j, "purpose", k->label);
    json_u64(j, "peak_live_bytes", k->peak);
    json_u64(j, "live_bytes", k->live);
    json_u64(j, "allocs", k->allocs);
    json_u64(j, "bytes", k->bytes);
    uint64_t frames[WSLA_STACK_MAX];
    json_frames(j, r, "frames", frames, rec_stack(r, k->id, frames, WSLA_STACK_MAX));
    json_end_obj(j);
  }
  json_end_arr(j);
  json_u64(j, "stacks_not_listed", pu.nstacks > STACKS_LISTED ? pu.nstacks - STACKS_LISTED : 0);
  purposes_free(&pu);
}

static void json_leaks(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_arr(j, "leaks");
  for (const struct leak_stat *l = s->leaks; l; l = l->hh.next) {
    json_obj(j, NULL);
    rec_site_name(r, l->key.site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, l->key.site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_str(j, "api", api_name(l->key.api, buf, sizeof buf));
    json_str(j, "memory", l->key.host ? "host_pinned" : "device");
    json_i64(j, "device", l->key.device);
    json_u64(j, "allocs", l->allocs);
    json_u64(j, "bytes", l->bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
}

/* What the symbols left unnamed, and the options the process ran with. */
static void json_symbols_options(struct json *j, const struct rec *r) {
  const char *changed[16];
  size_t nchanged = sym_changed_modules(changed, 16);
  json_arr(j, "modules_changed");
  for (size_t i = 0; i < nchanged; i++) json_str(j, NULL, changed[i]);
  json_end_arr(j);
  uint64_t unresolved, unread;
  sym_limits(&unresolved, &unread);
  json_obj(j, "symbols");
  json_u64(j, "sites_not_resolved", unresolved);
  json_u64(j, "module_files_not_read", unread);
  json_end_obj(j);

  json_obj(j, "options");
  char opts[sizeof r->options];
  memcpy(opts, r->options, sizeof opts);
  for (char *line = strtok(opts, "\n"); line; line = strtok(NULL, "\n")) {
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    json_str(j, line, eq + 1);
  }
  json_end_obj(j);
}

static void print_json(FILE *out, const struct rec *r, const struct model *m) {
  struct json j;
  json_begin(&j, out);
  json_obj(&j, NULL);
  json_process(&j, r, m);
  json_environment(&j, r, m);
  json_counts(&j, r, &m->s);
  json_failures(&j, r, m);
  json_memory(&j, r);
  json_arr(&j, "ooms");
  for (uint64_t i = 0; i < m->nooms; i++) json_oom(&j, r, &m->ooms[i]);
  json_end_arr(&j);
  json_sites(&j, r, &m->s);
  json_purposes(&j, r);
  json_leaks(&j, r, &m->s);
  json_symbols_options(&j, r);
  json_end_obj(&j);
  json_finish(&j);
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGABRT: return "SIGABRT";
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  default: return "a signal";
  }
}

/* The options the process ran with that differ from the defaults (the
   recordings folder aside): what changed its behaviour. */
/* The callers of OOM record idx's site, as recorded at the failure: what
   the program was doing (loading weights, sizing the KV cache, a PyTorch
   op) when the site is an allocator every part of it goes through. */
static void print_callers(FILE *out, const struct rec *r, uint64_t idx) {
  enum { SHOWN = 12 };
  uint64_t frames[WSLA_STACK_MAX];
  size_t depth = rec_oom_stack(r, idx, frames, WSLA_STACK_MAX);
  if (depth < 2) return;
  fprintf(out, "     called by:\n");
  for (size_t k = 1; k < depth && k <= SHOWN; k++) {
    char where[256], fn[600];
    rec_site_name(r, frames[k], where, sizeof where);
    rec_site_function(r, frames[k], fn, sizeof fn);
    char *plus = strrchr(where, '+');
    if (fn[0] && plus) *plus = '\0'; /* the module, once named */
    if (fn[0]) fprintf(out, "       %s (%s)\n", fn, where);
    else fprintf(out, "       %s\n", where);
    if (!strncmp(fn, "main+", 5)) return; /* what runs main is not news */
  }
  if (depth > SHOWN + 1)
    fprintf(out, "       and %zu more (report --json has them all)\n", depth - SHOWN - 1);
}

static void print_options(FILE *out, const struct rec *r) {
  struct wsla_options defaults;
  memset(&defaults, 0, sizeof defaults);
  for (size_t i = 0; i < wsla_option_count; i++)
    wsla_option_parse(&wsla_option_table[i], wsla_option_table[i].def, &defaults);
  char def_lines[WSLA_OPTIONS_MAX + 1];
  wsla_options_format(&defaults, def_lines, sizeof def_lines);
  int changed = 0;
  for (const char *at = r->options; *at;) {
    size_t n = strcspn(at, "\n");
    bool is_dir = !strncmp(at, "WSLALLOC_DIR=", 13);
    bool is_default = false;
    for (const char *d = def_lines; *d && !is_default;) {
      size_t m = strcspn(d, "\n");
      is_default = m == n && !strncmp(d, at, n);
      d += m + (d[m] ? 1 : 0);
    }
    if (!is_dir && !is_default) {
      if (!changed++) fprintf(out, "\nOptions not at their defaults\n");
      fprintf(out, "  %.*s", (int)n, at);
      const char *eq = memchr(at, '=', n);
      for (size_t i = 0; eq && i < wsla_option_count; i++) {
        const struct wsla_option_desc *o = &wsla_option_table[i];
        if (o->type != WSLA_OPT_SIZE || strncmp(o->name, at, (size_t)(eq - at)) ||
            o->name[eq - at])
          continue;
        char sz[32];
        fprintf(out, " (%s)", fmt_size(strtoull(eq + 1, NULL, 10), sz, sizeof sz));
      }
      fprintf(out, "\n");
    }
    at += n + (at[n] ? 1 : 0);
  }
  if (!changed) fprintf(out, "\nOptions: all at their defaults\n");
}

/* "must+0x19 at llm_like.c:19 < load_tensors+0x10 < main+0xd3": a stack's
   first frames, named where this machine's symbols can. */
static void stack_text(const struct rec *r, uint64_t id, char *buf, size_t len) {
  uint64_t frames[WSLA_STACK_MAX];
  size_t depth = rec_stack(r, id, frames, WSLA_STACK_MAX), used = 0;
  buf[0] = '\0';
  for (size_t k = 0; k < depth && k < 5 && used < len; k++) {
    char fn[600];
    rec_site_function(r, frames[k], fn, sizeof fn);
    if (!fn[0]) rec_site_name(r, frames[k], fn, sizeof fn);
    int n = snprintf(buf + used, len - used, "%s%s", k ? " < " : "", fn);
    if (n < 0) break;
    used += (size_t)n;
    if (!strncmp(fn, "main+", 5)) break;
  }
}

static void print_purposes(FILE *out, const struct rec *r) {
  struct purposes pu;
  purposes_build(r, &pu);
  if (pu.nstacks) {
    char a[32], b[32], st[1024];
    fprintf(out, "\nWhat the device memory was for (large allocations, by their stacks)\n");
    for (size_t i = 0; i < pu.npurposes; i++) {
      const struct purpose_stat *p = &pu.purposes[i];
      fprintf(out, "  %-42s peak %10s   live %10s   %6" PRIu64 " allocation%s\n", p->label,
              fmt_size(p->peak, a, sizeof a), fmt_size(p->live, b, sizeof b), p->allocs,
              p->allocs == 1 ? "" : "s");
    }
    if (pu.joint_peak) {
      snprintf(st, sizeof st, "  together at most %s, at %.3f s: ", fmt_size(pu.joint_peak, a, sizeof a),
               seconds(pu.joint_peak_ns));
      purposes_line(out, &pu, PURPOSE_AT_JOINT_PEAK, st);
    }
    fprintf(out, "  the largest, by stack:\n");
    for (size_t i = 0; i < pu.nstacks && i < 5; i++) {
      const struct stack_stat *k = &pu.stacks[i];
      stack_text(r, k->id, st, sizeof st);
      fprintf(out, "  peak %10s   live %10s   %6" PRIu64 " allocation%s   %s\n    %s\n",
              fmt_size(k->peak, a, sizeof a), fmt_size(k->live, b, sizeof b), k->allocs,
              k->allocs == 1 ? " " : "s", k->label, st);
    }
  }
  purposes_free(&pu);
}

/* The calls the library counts without an event for each. */
static bool is_query(unsigned api) {
  return api == WSLA_API_cudaMemGetInfo || api == WSLA_API_hipMemGetInfo ||
         api == WSLA_API_cuMemGetInfo_v2 || api == WSLA_API_cuDeviceGetAttribute ||
         api == WSLA_API_nvmlDeviceGetMemoryInfo || api == WSLA_API_nvmlDeviceGetMemoryInfo_v2;
}

/* The calls that failed for a reason other than memory: each error by its
   name and code, what it means and the fix where known. */
static void print_failures(FILE *out, const struct rec *r, const struct model *m) {
  if (!m->s.fails && !m->unexplained_total) return;
  char buf[256], error[128];
  fprintf(out, "\nFailed calls other than out-of-memory\n");
  for (const struct fail_stat *f = m->s.fails; f; f = f->hh.next) {
    api_error_text(f->key.api, f->key.result, error, sizeof error);
    fprintf(out, "  %s: %s, %" PRIu64 " %s, the first at %.3f s",
            api_name(f->key.api, buf, sizeof buf), error, f->count,
            f->count == 1 ? "time" : "times", seconds(f->first_ns));
    rec_site_name(r, f->first_site, buf, sizeof buf);
    fprintf(out, " from %s\n", buf);
    const char *meaning = api_error_meaning(f->key.api, f->key.result);
    if (meaning) fprintf(out, "     %s\n", meaning);
  }
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    uint64_t n = m->unexplained[i];
    if (n)
      fprintf(out, "  %s: %" PRIu64 " %s, the error not recorded (%s)\n",
              api_name(i, buf, sizeof buf), n, n == 1 ? "time" : "times",
              is_query(i)       ? "a query, counted only"
              : r->events_lost ? "counted only, or its event lost from the ring"
                               : "counted only");
  }
}

/* The kernel, WSL, memory, driver and GPUs, where the environment was recorded. */
static void text_machine(FILE *out, const struct rec *r, const struct model *m) {
  char sz[32];
  if (m->kernel) {
    fprintf(out, "Machine   kernel %s", m->kernel);
    if (m->wsl2 == 1) fprintf(out, ", WSL2");
    if (m->has_memory) fprintf(out, ", %s of memory", fmt_size(m->memory_bytes, sz, sizeof sz));
    if (m->has_cuda_driver) {
      int drv = (int)m->cuda_driver; /* as atoi reads it */
      fprintf(out, ", CUDA driver %d.%d", drv / 1000, drv % 1000 / 10);
    }
    fprintf(out, "\n");
    for (int g = 0; g < WSLA_ENV_GPUS_MAX; g++) {
      const struct gpu_model *gm = &m->gpus[g];
      if (gm->present)
        fprintf(out, "GPU %d     %s, %s\n", g, gm->name,
                gm->total ? fmt_size(gm->total, sz, sizeof sz) : "?");
    }
  }
  struct library_lines libs = {out, 0};
  gpu_libraries(r, library_text, &libs);
}

static void text_process(FILE *out, const struct rec *r, const struct model *m) {
  const struct wsla_header *h = r->hdr;
  fprintf(out, "wslalloc report: %s%s\n", r->path, r->partial ? " (partial)" : "");
  if (r->partial) fprintf(out, "  partial: %s\n", r->partial_why);
  time_t st = (time_t)(h->start_realtime_ns / 1000000000);
  char when[64];
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&st, &tm));
  fprintf(out, "\nProcess   %s (pid %d%s), started %s\n", r->exe, (int)h->pid,
          rec_pidns(h) == PIDNS_OTHER ? " in another pid namespace (container)" : "", when);
  if (r->cmdline[0]) fprintf(out, "Command   %s\n", r->cmdline);
  text_machine(out, r, m);
  const char *end = m->end;
  if (!strcmp(end, "exit"))
    fprintf(out, "Ended     exited with status %d after %.3f s\n", h->exit_code,
           seconds((uint64_t)h->end_time_ns));
  else if (!strcmp(end, "signal"))
    fprintf(out, "Ended     killed by signal %d (%s) after %.3f s\n", h->end_signal,
           signal_name(h->end_signal), seconds((uint64_t)h->end_time_ns));
  else if (!strcmp(end, "exec"))
    fprintf(out, "Ended     replaced itself by exec of %s after %.3f s\n",
            m->exec ? m->exec : "another program", seconds((uint64_t)h->end_time_ns));
  else if (!strcmp(end, "killed"))
    fprintf(out, "Ended     killed: the process is gone and recorded no end (SIGKILL, "
           "the OOM killer, or _exit)\n");
  else
    fprintf(out, "Ended     still running\n");
}

/* Each device's figures, the VMM address space and pinned host memory. */
static void text_memory(FILE *out, const struct rec *r) {
  char a[32], b[32], c[32];
  fprintf(out, "\nDevice memory (sizes as requested)\n");
  bool any = false;
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++) {
    const struct wsla_device_counters *d = &r->ctr->dev[i];
    if (!rec_device_used(d)) continue;
    if (!any)
      fprintf(out, "  %-6s %-12s %-12s %-10s %-12s %-10s %s\n", "device", "total", "peak",
             "at", "live now", "allocs", "OOMs");
    any = true;
    char at[32];
    snprintf(at, sizeof at, "%.3f s", seconds(d->peak_time_ns));
    fprintf(out, "  %-6u %-12s %-12s %-10s %-12s %-10" PRIu64 " %" PRIu64 "\n", i,
           d->total_bytes ? fmt_size(d->total_bytes, a, sizeof a) : "?",
           fmt_size(d->peak_bytes, b, sizeof b), at,
           fmt_size(d->live_bytes, c, sizeof c), d->live_allocs, d->ooms);
  }
  if (!any) fprintf(out, "  none allocated\n");
  if (r->ctr->vmm_reserved_bytes || r->ctr->vmm_mapped_bytes)
    fprintf(out, "VMM: %s of address space reserved, %s of memory mapped into it\n",
           fmt_size(r->ctr->vmm_reserved_bytes, a, sizeof a),
           fmt_size(r->ctr->vmm_mapped_bytes, b, sizeof b));
  fprintf(out, "Pinned host memory: peak %s, live %s in %" PRIu64 " %s\n",
         fmt_size(r->ctr->host_peak_bytes, a, sizeof a),
         fmt_size(r->ctr->host_live_bytes, b, sizeof b),
         r->ctr->host_live_allocs, plural(r->ctr->host_live_allocs, "allocation", "allocations"));
}

/* An OOM's device view and what this process and the others held. */
static void text_oom_view(FILE *out, const struct wsla_oom *o, const struct oom_model *om) {
  char a[32], b[32], c[32], d2[32];
  if (o->total_bytes) {
    fprintf(out, "     device: %s total, %s free", fmt_size(o->total_bytes, a, sizeof a),
           fmt_size(o->free_bytes, b, sizeof b));
    if (o->view_source == WSLA_VIEW_SAMPLE && om->view_age_ns)
      fprintf(out, " (measured %.0f ms before)", om->view_age_ns / 1e6);
    if (om->has_fragmentation)
      fprintf(out, "; largest block %s (fragmentation %.0f%%)",
              fmt_size(o->largest_block, d2, sizeof d2), 100.0 * om->fragmentation);
    fprintf(out, "\n     this process: %s in %" PRIu64 " %s",
            fmt_size(o->own_bytes, c, sizeof c), o->own_allocs,
            plural(o->own_allocs, "allocation", "allocations"));
    if (o->pool_cached)
      fprintf(out, ", and %s cached in its stream-ordered pool",
              fmt_size(o->pool_cached, c, sizeof c));
    fprintf(out, "; others and the driver: %s\n", fmt_size(o->foreign_bytes, d2, sizeof d2));
  } else if (o->device >= 0) {
    fprintf(out, "     this process: %s in %" PRIu64 " %s; no device view\n",
           fmt_size(o->own_bytes, c, sizeof c), o->own_allocs,
           plural(o->own_allocs, "allocation", "allocations"));
  }
}

static void text_events_before(FILE *out, const struct rec *r, const struct oom_model *om) {
  char a[32], b[32], buf[256];
  uint64_t first = om->first_before, shown = om->nbefore;
  if (!shown) {
    fprintf(out, "     the events before it are no longer in the ring\n");
    return;
  }
  if (shown == 1) fprintf(out, "     the event before it:\n");
  else fprintf(out, "     the %" PRIu64 " events before it:\n", shown);
  for (uint64_t k = first; k < first + shown; k++) {
    const struct wsla_event *e = &r->events[k];
    char where[160];
    rec_site_name(r, e->site, where, sizeof where);
    if (e->type == WSLA_EV_SAMPLE) {
      fprintf(out, "       %9.3f s  %-9s device %d: %s free of %s\n", seconds(e->time_ns),
              "sample", e->device, fmt_size(e->addr, a, sizeof a),
              fmt_size(e->size, b, sizeof b));
      continue;
    }
    fprintf(out, "       %9.3f s  %-9s %-22s %10s", seconds(e->time_ns),
            event_type_name(e->type), api_name(e->api, buf, sizeof buf),
            fmt_size(e->size, a, sizeof a));
    if (e->device >= 0) fprintf(out, "  dev %d", e->device);
    fprintf(out, "  %s\n", where);
  }
}

/* OOM number n (from 1) of those kept. */
static void text_oom(FILE *out, const struct rec *r, const struct oom_model *om, uint64_t n) {
  const struct wsla_oom *o = &r->ooms[om->idx];
  char a[32], buf[256];
  fprintf(out, "  #%" PRIu64 " at %.3f s: %s of %s", n, seconds(o->time_ns),
         api_name(o->api, buf, sizeof buf), fmt_size(o->size, a, sizeof a));
  if (o->device >= 0) fprintf(out, " on device %d", o->device);
  else fprintf(out, " (pinned host memory)");
  fprintf(out, " %s\n", o->outcome ? "failed, then recovered" : "failed");
  text_oom_view(out, o, om);
  rec_site_name(r, o->site, buf, sizeof buf);
  char error[128];
  api_error_text(o->api, o->result, error, sizeof error);
  fprintf(out, "     called from %s (thread %u), %s\n", buf, o->tid, error);
  rec_site_function(r, o->site, buf, sizeof buf);
  if (buf[0]) fprintf(out, "       in %s\n", buf);
  print_callers(out, r, om->idx);
  char steps[256];
  wsla_steps_text(o, steps, sizeof steps);
  if (steps[0]) fprintf(out, "     recovery: %s\n", steps);
  others_report_text(out, r, om->idx); /* the other programs on the device */
  fprintf(out, "     likely cause: %s\n", om->diagnosis);
  char fn[512];
  const struct wsla_phase *phase = oom_phase(r, om->idx, fn, sizeof fn);
  if (phase) fprintf(out, "     it ran out while %s (%s): %s\n", phase->what, fn, phase->fix);
  text_events_before(out, r, om);
}

static void text_ooms(FILE *out, const struct rec *r, const struct model *m) {
  fprintf(out, "\nOut of memory: %" PRIu64 "%s", m->s.ooms, m->s.ooms ? "" : " (none)");
  if (r->ctr->recovered)
    fprintf(out, ", %" PRIu64 " recovered by WSLALLOC_RECOVER", r->ctr->recovered);
  fprintf(out, "\n");
  for (uint64_t i = 0; i < m->nooms; i++) text_oom(out, r, &m->ooms[i], i + 1);
  if (m->s.ooms > m->nooms)
    fprintf(out, "  (%" PRIu64 " more not kept)\n", m->s.ooms - m->nooms);
}

static void text_calls(FILE *out, const struct rec *r, const struct model *m) {
  char a[32], buf[256];
  fprintf(out, "\nCalls by API\n  %-26s %10s %8s %12s\n", "api", "calls", "failed",
         "bytes");
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    const struct wsla_api_counters *ac = &r->ctr->api[i];
    if (!ac->calls) continue;
    fprintf(out, "  %-26s %10" PRIu64 " %8" PRIu64 " %12s\n", api_name(i, buf, sizeof buf),
           ac->calls, ac->failed, fmt_size(ac->bytes, a, sizeof a));
  }
  fprintf(out, "  %-26s %10" PRIu64 " %8" PRIu64 "\n", "total", m->s.calls, m->s.failed);
  print_failures(out, r, m);
}

/* A call site's line in the tables by peak: device or pinned figures. */
static void text_site_line(FILE *out, const struct rec *r, const struct site_stat *st, bool host) {
  char a[32], b[32], d2[32], buf[256];
  uint64_t calls = host ? st->host_calls : st->dev_calls;
  rec_site_name(r, st->site, buf, sizeof buf);
  fprintf(out, "  %-32s peak %10s %8" PRIu64 " %-5s %11s allocated %10s live\n", buf,
          fmt_size(host ? st->host_peak_live_bytes : st->peak_live_bytes, d2, sizeof d2), calls,
          calls == 1 ? "call" : "calls",
          fmt_size(host ? st->host_bytes : st->dev_bytes, a, sizeof a),
          fmt_size(host ? st->host_live_bytes : st->live_bytes, b, sizeof b));
  rec_site_function(r, st->site, buf, sizeof buf);
  if (buf[0]) fprintf(out, "    in %s\n", buf);
}

/* Device memory and pinned host memory in tables of their own: a site's
   figures in each count only that kind. */
static void text_sites(FILE *out, const struct rec *r, const struct summary *s) {
  char buf[256];
  fprintf(out, "\nTop call sites by peak live device memory\n");
  int shown = 0;
  size_t nsites = HASH_COUNT(s->sites), nhost = 0;
  const struct site_stat **by_calls = calloc(nsites ? nsites : 1, sizeof *by_calls);
  const struct site_stat **by_host = calloc(nsites ? nsites : 1, sizeof *by_host);
  if (!by_calls || !by_host) abort();
  nsites = 0;
  for (const struct site_stat *st = s->sites; st; st = st->hh.next) {
    if (st->calls) by_calls[nsites++] = st;
    if (st->host_calls || st->host_live_bytes) by_host[nhost++] = st;
    if (shown == 10 || (!st->dev_calls && !st->live_bytes)) continue;
    shown++;
    text_site_line(out, r, st, false);
  }
  if (!shown) fprintf(out, "  none\n");
  if (nhost) {
    qsort(by_host, nhost, sizeof *by_host, by_host_peak_desc);
    fprintf(out, "\nTop call sites by peak live pinned host memory\n");
    for (size_t i = 0; i < nhost && i < 10; i++) text_site_line(out, r, by_host[i], true);
  }
  free(by_host);
  if (nsites > 1) {
    qsort(by_calls, nsites, sizeof *by_calls, by_calls_desc);
    fprintf(out, "\nTop call sites by calls\n");
    for (size_t i = 0; i < nsites && i < 5; i++) {
      rec_site_name(r, by_calls[i]->site, buf, sizeof buf);
      fprintf(out, "  %-32s %8" PRIu64 " %s\n", buf, by_calls[i]->calls,
              by_calls[i]->calls == 1 ? "call" : "calls");
      rec_site_function(r, by_calls[i]->site, buf, sizeof buf);
      if (buf[0]) fprintf(out, "    in %s\n", buf);
    }
  }
  free(by_calls);
}

static void text_leaks(FILE *out, const struct rec *r, const struct summary *s) {
  char a[32], c[32], buf[256];
  fprintf(out, "\nStill allocated at the end\n");
  int shown = 0;
  for (const struct leak_stat *l = s->leaks; l && shown < 10;
       l = l->hh.next, shown++) {
    rec_site_name(r, l->key.site, buf, sizeof buf);
    fprintf(out, "  %-40s %-18s %6" PRIu64 " %-6s %12s %s\n", buf,
           api_name(l->key.api, c, sizeof c), l->allocs, plural(l->allocs, "alloc", "allocs"),
           fmt_size(l->bytes, a, sizeof a), l->key.host ? "pinned host" : "device");
    rec_site_function(r, l->key.site, buf, sizeof buf);
    if (buf[0]) fprintf(out, "    in %s\n", buf);
  }
  if (!shown && !s->unlisted_allocs) fprintf(out, "  nothing\n");
  if (s->unlisted_allocs)
    fprintf(out, "  and %" PRIu64 " more %s (%s) live by the counters that the "
                 "recording cannot list: %s\n",
           s->unlisted_allocs, plural(s->unlisted_allocs, "allocation", "allocations"),
           fmt_size(s->unlisted_bytes, a, sizeof a),
           r->partial ? "the file is cut short"
                      : "its live table was full (raise WSLALLOC_LIVE_SLOTS)");
  rec_in_flight_text(out, r);
}

/* What the symbols left unnamed, the driver's lookups, the ring, the options. */
static void text_tail(FILE *out, const struct rec *r) {
  const char *changed[16];
  size_t nchanged = sym_changed_modules(changed, 16);
  for (size_t i = 0; i < nchanged; i++)
    fprintf(out, "\nNot named: %s has changed since the recording (its build-id "
                 "differs), so its call sites are shown as offsets only\n", changed[i]);
  uint64_t unresolved, unread;
  sym_limits(&unresolved, &unread);
  if (unresolved)
    fprintf(out, "\nNot named: %" PRIu64 " frames, past the %d distinct call sites a report "
                 "names (this recording holds more)\n", unresolved, SYM_SITES_MAX);
  if (unread)
    fprintf(out, "\nNot named: %" PRIu64 " call sites in module files left unread (a report "
                 "reads at most %d)\n", unread, SYM_MODULES_MAX);

  if (r->ctr->lookups)
    fprintf(out, "\nDriver entry points looked up: %" PRIu64 ", %" PRIu64
           " answered with the shim's wrappers\n",
           r->ctr->lookups, r->ctr->lookups_wrapped);
  fprintf(out, "\nEvents: %" PRIu64 " kept, %" PRIu64 " lost (ring of %" PRIu64 ")",
         r->nevents, r->events_lost, r->hdr->ring_cap);
  if (r->partial) fprintf(out, "; the file is cut short, so the lost include what it no longer holds");
  if (r->ctr->untracked_frees)
    fprintf(out, "; %" PRIu64 " %s of memory allocated elsewhere", r->ctr->untracked_frees,
           plural(r->ctr->untracked_frees, "free", "frees"));
  fprintf(out, "\n");
  print_options(out, r);
}

static void print_text(FILE *out, const struct rec *r, const struct model *m) {
  text_process(out, r, m);
  text_memory(out, r);
  text_ooms(out, r, m);
  text_calls(out, r, m);
  text_sites(out, r, &m->s);
  print_purposes(out, r);
  text_leaks(out, r, &m->s);
  text_tail(out, r);
}

int cmd_report(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
  bool as_json = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
    if (c == 'j') as_json = true;
    else if (c == 'h') {
      fputs(usage, stdout);
      return 0;
    } else return tool_bad_option("report", c, argc, argv);
  }
  if (argc - optind > 1)
    return tool_usage_error("report", "one FILE at most, not '%s' too", argv[optind + 1]);
  char path[4096], err[4400];
  if (optind < argc) snprintf(path, sizeof path, "%s", argv[optind]);
  else if (rec_find_newest(path, sizeof path, err, sizeof err) != 0) {
    fprintf(stderr, "wslalloc report: %s\n", err);
    return 1;
  }
  struct rec r;
  if (rec_open(path, &r, err, sizeof err) != 0) {
    fprintf(stderr, "wslalloc report: %s\n", err);
    return 1;
  }
  struct model m;
  model_build(&r, &m);
  if (as_json) print_json(stdout, &r, &m);
  else print_text(stdout, &r, &m);
  model_free(&m);
  rec_close(&r);
  sym_close_all();
  return 0;
}

void report_rec(FILE *out, const struct rec *r, bool as_json) {
  struct model m;
  model_build(r, &m);
  if (as_json) print_json(out, r, &m);
  else print_text(out, r, &m);
  model_free(&m);
}

int report_text(FILE *out, const char *path, char *err, size_t errlen) {
  struct rec r;
  if (rec_open(path, &r, err, errlen) != 0) return -1;
  struct model m;
  model_build(&r, &m);
  print_text(out, &r, &m);
  model_free(&m);
  rec_close(&r);
  return 0;
}
