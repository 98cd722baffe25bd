/* wslalloc export: a recording as RMM's CSV log, a Chrome/Perfetto trace, or a PyTorch memory_viz snapshot. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uthash.h>

#include "tool.h"
#include "utf8.h"

static const char *const usage =
    "usage: wslalloc export --format csv|perfetto|memviz [FILE] -o OUT [--from S] [--to S]\n"
    "\n"
    "  --format csv       RAPIDS RMM's logging columns (Thread,Time,Action,\n"
    "                     Pointer,Size,Stream): device allocations, frees and\n"
    "                     failures, for RMM's replay benchmark\n"
    "  --format perfetto  Chrome/Perfetto trace-event JSON for ui.perfetto.dev:\n"
    "                     this process's device memory, free memory and\n"
    "                     others' memory per device as counters, what the\n"
    "                     large allocations were for as a counter each,\n"
    "                     OOMs as instants\n"
    "  --format memviz    a pickle that PyTorch's memory_viz page and\n"
    "                     torch.cuda._memory_viz read: each device allocation\n"
    "                     a segment (VMM memory where it is mapped), the\n"
    "                     timeline as its device traces, OOMs with the free\n"
    "                     memory then\n"
    "  -o OUT             the file to write (- for stdout)\n"
    "  --all-points       perfetto: every change of live memory; by default the\n"
    "                     series is thinned to 100000 buckets across the window,\n"
    "                     each keeping its peak and its last level\n"
    "  --from S, --to S   only the events in this window, in seconds after the\n"
    "                     process started (memviz's segments stay those live\n"
    "                     at the end)\n"
    "  -h, --help         this text\n"
    "FILE defaults to the newest recording in WSLALLOC_DIR.\n";

/* Events that are device memory as a client sees it. */
static bool device_event(const struct wsla_event *e) {
  /* VMM physical memory (cuMemCreate) is device memory like any other:
     llama.cpp's compute pool and PyTorch's expandable segments are made
     of it.  Its mappings are other event types, never counted twice. */
  return e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX && !(e->flags & WSLA_F_HOST);
}

/* --to: events after this event-time are not written. */
static uint64_t export_until_ns = UINT64_MAX;
/* --from: events before this event-time are not written, though the
   levels they leave are where the window's series start. */
static uint64_t export_from_ns = 0;
/* Perfetto's live series: buckets across the window, 0 for every point. */
static uint64_t export_buckets = 100000;

struct progress {
  uint64_t total, next;
};

/*
 * Live levels are kept modulo 2^64: a hostile file's sizes (2^63, or sums
 * past it) must not overflow a signed type, which would be undefined; the
 * sum of what a real process allocated and freed is always exact, and a
 * level read as below zero (above INT64_MAX) is drawn as none.
 */
static uint64_t level_floor(uint64_t level) { return level > INT64_MAX ? 0 : level; }

/* Wall-clock nanoseconds of an event-time, saturated: both come from the file. */
static int64_t wall_ns(const struct rec *r, uint64_t t) {
  int64_t ns;
  if (t > INT64_MAX || __builtin_add_overflow(r->hdr->start_realtime_ns, (int64_t)t, &ns))
    return INT64_MAX;
  return ns < 0 ? 0 : ns;
}

/* A line on stderr every tenth of a long export. */
static void tick(struct progress *p, uint64_t done) {
  if (p->total < 200000 || done < p->next) return;
  fprintf(stderr, "wslalloc export: %" PRIu64 "%% of %" PRIu64 " events\n",
          done * 100 / p->total, p->total);
  p->next += p->total / 10;
}

static void write_csv(FILE *out, const struct rec *r) {
  fputs("Thread,Time,Action,Pointer,Size,Stream\n", out);
  struct progress pg = {r->nevents, r->nevents / 10};
  for (uint64_t i = 0; i < r->nevents; i++) {
    tick(&pg, i);
    const struct wsla_event *e = &r->events[i];
    if (e->time_ns > export_until_ns) break;
    if (e->time_ns < export_from_ns) continue;
    const char *action = e->type == WSLA_EV_ALLOC   ? "allocate"
                         : e->type == WSLA_EV_FREE  ? "free"
                         : e->type == WSLA_EV_OOM ? "allocate failure"
                                                    : NULL;
    if (!action || !device_event(e)) continue;
    int64_t ns = wall_ns(r, e->time_ns);
    time_t sec = (time_t)(ns / 1000000000);
    struct tm tm;
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", localtime_r(&sec, &tm));
    fprintf(out, "%u,%s.%06ld,%s,", e->tid, hms, (long)(ns % 1000000000 / 1000), action);
    if (e->addr && e->type != WSLA_EV_OOM) fprintf(out, "0x%" PRIx64, e->addr);
    else fputs("(nil)", out);
    fprintf(out, ",%" PRIu64 ",0\n", e->size);
  }
}

/* A counter's value; ts in microseconds, as the format has it, to the
   nanosecond. */
static void counter(FILE *out, bool *first, int pid, const char *name, unsigned dev,
                    uint64_t ts_ns, uint64_t bytes) {
  char ts[48];
  json_fixed_text(ts, sizeof ts, (int64_t)ts_ns, 3);
  fprintf(out, "%s\n{\"ph\":\"C\",\"pid\":%d,\"name\":\"device %u: %s\",\"ts\":%s"
               ",\"args\":{\"bytes\":%" PRIu64 "}}",
          *first ? "" : ",", pid, dev, name, ts, bytes);
  *first = false;
}

/* A large block and the purpose series it counts in. */
struct labelled {
  uint64_t addr, size;
  size_t level;
  UT_hash_handle hh;
};

struct purpose_level {
  const char *label;
  int device;
  uint64_t live; /* modulo 2^64: see level_floor */
};

/* The Perfetto trace as it is written: the series' levels and the thinning. */
struct perfetto {
  FILE *out;
  bool first;
  int pid;
  uint64_t live[WSLA_DEVICE_MAX]; /* modulo 2^64: see level_floor */
  bool used[WSLA_DEVICE_MAX];
  uint64_t t_first, span;
  struct bucket {
    uint64_t index, peak, peak_ts, last, last_ts;
    bool open;
  } bucket[WSLA_DEVICE_MAX];
  uint64_t points, changes;
  const char **labels;
  struct labelled *blocks;
  struct purpose_level levels[64];
  size_t nlevels;
  /* The last device view (free, and others' memory) per device. */
  struct {
    bool seen;
    uint64_t free, others;
  } view[WSLA_DEVICE_MAX];
};

/* Names first: the process, then each thread seen. */
static void perfetto_names(struct perfetto *p, const struct rec *r) {
  FILE *out = p->out;
  int pid = p->pid;
  fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", out);
  struct json j;
  json_begin(&j, out);
  j.need_comma[0] = false;
  fprintf(out, "\n{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":", pid);
  char name[WSLA_PATH_MAX + 32];
  const char *b = strrchr(r->exe, '/');
  snprintf(name, sizeof name, "%s (pid %d)", b ? b + 1 : r->exe, pid);
  json_str(&j, NULL, name);
  fputs("}}", out);
  p->first = false;
  uint32_t seen[256];
  size_t nseen = 0;
  for (uint64_t i = 0; i < r->nevents && nseen < 256; i++) {
    uint32_t tid = r->events[i].tid;
    bool known = false;
    for (size_t k = 0; k < nseen && !known; k++) known = seen[k] == tid;
    if (known) continue;
    seen[nseen++] = tid;
    fprintf(out, ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"name\":\"thread_name\","
                 "\"args\":{\"name\":\"thread %u\"}}", pid, tid, tid);
  }
}

/* Where the kept events begin, the devices they use and the window's span. */
static void perfetto_begin(struct perfetto *p, const struct rec *r) {
  /* Where the kept events begin: the final exact count less what they
     added, so that a wrapped ring still draws true levels. */
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) p->live[d] = r->ctr->dev[d].live_bytes;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (!device_event(e)) continue;
    if (e->type == WSLA_EV_ALLOC) p->live[e->device] -= e->size;
    if (e->type == WSLA_EV_FREE) p->live[e->device] += e->size;
  }
  /* Thinning: the window is cut into buckets, and each device's live
     series gives at most its highest and its last point in each; peaks and
     the level at every bucket's end survive, and Chrome's limit of some
     600k events is kept clear of. */
  uint64_t t_first = r->nevents ? r->events[0].time_ns : 0;
  if (t_first < export_from_ns) t_first = export_from_ns;
  uint64_t t_last = t_first;
  for (uint64_t i = 0; i < r->nevents && r->events[i].time_ns <= export_until_ns; i++)
    if (r->events[i].time_ns > t_last) t_last = r->events[i].time_ns;
  p->t_first = t_first;
  p->span = t_last - t_first + 1;
  if (!p->span) p->span = UINT64_MAX; /* a crafted file's times, 0 and UINT64_MAX */
  for (uint64_t i = 0; i < r->nevents; i++)
    if (device_event(&r->events[i])) p->used[r->events[i].device] = true;
}

/* Every series at the window's start, with the level the events before it left. */
static void perfetto_window_start(struct perfetto *p) {
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    if (p->used[d])
      counter(p->out, &p->first, p->pid, "this process", d, export_from_ns, level_floor(p->live[d]));
    if (p->view[d].seen) {
      counter(p->out, &p->first, p->pid, "free", d, export_from_ns, p->view[d].free);
      counter(p->out, &p->first, p->pid, "others and the driver", d, export_from_ns,
              p->view[d].others);
    }
  }
  for (size_t k = 0; k < p->nlevels; k++)
    counter(p->out, &p->first, p->pid, p->levels[k].label, (unsigned)p->levels[k].device,
            export_from_ns, level_floor(p->levels[k].live));
}

/* A large block's allocation or free, in its purpose's series. */
static void perfetto_purpose(struct perfetto *p, const struct rec *r, const struct wsla_event *e,
                             bool quiet) {
  struct labelled *blk;
  struct purpose_level *lv = NULL;
  uint64_t delta = 0; /* modulo 2^64 */
  HASH_FIND(hh, p->blocks, &e->addr, sizeof e->addr, blk);
  if (e->type == WSLA_EV_FREE && blk) {
    lv = &p->levels[blk->level];
    delta = 0 - blk->size;
    HASH_DEL(p->blocks, blk);
    free(blk);
  } else if (e->type == WSLA_EV_ALLOC && e->aux && e->aux <= r->stack_count && p->labels[e->aux]) {
    const char *label = p->labels[e->aux];
    size_t k = 0;
    while (k < p->nlevels && (p->levels[k].label != label || p->levels[k].device != e->device)) k++;
    if (k == p->nlevels && p->nlevels < 64)
      p->levels[p->nlevels++] = (struct purpose_level){label, e->device, 0};
    if (k < p->nlevels && (blk = malloc(sizeof *blk))) {
      *blk = (struct labelled){.addr = e->addr, .size = e->size, .level = k};
      HASH_ADD(hh, p->blocks, addr, sizeof blk->addr, blk);
      lv = &p->levels[k];
      delta = e->size;
    }
  }
  if (lv) {
    lv->live += delta;
    if (!quiet)
      counter(p->out, &p->first, p->pid, lv->label, (unsigned)lv->device, e->time_ns,
              level_floor(lv->live));
  }
}

/* A device's bucket, closed: its highest point and, if later, its last. */
static void perfetto_close_bucket(struct perfetto *p, unsigned d) {
  struct bucket *bk = &p->bucket[d];
  counter(p->out, &p->first, p->pid, "this process", d, bk->peak_ts, bk->peak);
  p->points++;
  if (bk->last_ts != bk->peak_ts) {
    counter(p->out, &p->first, p->pid, "this process", d, bk->last_ts, bk->last);
    p->points++;
  }
  bk->open = false;
}

/* An allocation or free: the device's live series, thinned into buckets. */
static void perfetto_live(struct perfetto *p, const struct wsla_event *e, bool quiet) {
  p->live[e->device] += e->type == WSLA_EV_ALLOC ? e->size : 0 - e->size;
  uint64_t level = level_floor(p->live[e->device]), ts = e->time_ns;
  if (quiet) return;
  p->changes++;
  if (!export_buckets) {
    counter(p->out, &p->first, p->pid, "this process", (unsigned)e->device, ts, level);
    p->points++;
    return;
  }
  struct bucket *bk = &p->bucket[e->device];
  uint64_t index = (unsigned __int128)(e->time_ns - p->t_first) * export_buckets / p->span;
  if (bk->open && index != bk->index) perfetto_close_bucket(p, (unsigned)e->device);
  if (!bk->open || level > bk->peak) bk->peak = level, bk->peak_ts = ts;
  bk->index = index, bk->last = level, bk->last_ts = ts, bk->open = true;
}

/* A device view: free memory and what others held. */
static void perfetto_sample(struct perfetto *p, const struct wsla_event *e, bool quiet) {
  uint64_t free_b = e->addr, total = e->size, own = e->aux;
  uint64_t in_use = total > free_b ? total - free_b : 0;
  p->view[e->device].seen = true;
  p->view[e->device].free = free_b;
  p->view[e->device].others = in_use > own ? in_use - own : 0;
  if (quiet) return;
  counter(p->out, &p->first, p->pid, "free", (unsigned)e->device, e->time_ns, free_b);
  counter(p->out, &p->first, p->pid, "others and the driver", (unsigned)e->device, e->time_ns,
          p->view[e->device].others);
}

static void perfetto_oom(struct perfetto *p, const struct wsla_event *e) {
  char at[48];
  json_fixed_text(at, sizeof at, (int64_t)e->time_ns, 3);
  const char *api = wsla_api_name(e->api);
  fprintf(p->out, ",\n{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":%u,\"ts\":%s"
                  ",\"name\":\"out of memory: %s of %" PRIu64 " bytes\",\"args\":{\"device\":%d,"
                  "\"size\":%" PRIu64 "}}",
          p->pid, e->tid, at, api ? api : "allocation", e->size, e->device, e->size);
}

static void write_perfetto(FILE *out, const struct rec *r) {
  struct perfetto *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->out = out;
  p->first = true;
  p->pid = r->hdr->pid;
  perfetto_names(p, r);
  perfetto_begin(p, r);
  struct progress pg = {r->nevents, r->nevents / 10};
  /* What the large allocations were for, a series per purpose and device,
     every change (large allocations are few); only when every event was
     kept, since a free of a block allocated before them could not be told. */
  p->labels = purposes_drawable(r, "export") ? purpose_labels(r) : NULL;
  /* With --from, the events before the window are counted, not written;
     every series then starts at the window's start with the level they
     left, rather than at its next change. */
  bool started = export_from_ns == 0;
  for (uint64_t i = 0; i <= r->nevents; i++) {
    const struct wsla_event *e = i < r->nevents ? &r->events[i] : NULL;
    if (!started && (!e || e->time_ns >= export_from_ns)) {
      started = true;
      perfetto_window_start(p);
    }
    if (!e) break;
    tick(&pg, i);
    if (e->time_ns > export_until_ns) break;
    bool quiet = !started; /* before the window: levels only */
    bool alloc_free = (e->type == WSLA_EV_ALLOC || e->type == WSLA_EV_FREE) && device_event(e);
    if (p->labels && alloc_free && e->addr) perfetto_purpose(p, r, e, quiet);
    if (alloc_free) perfetto_live(p, e, quiet);
    else if (e->type == WSLA_EV_SAMPLE && e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX)
      perfetto_sample(p, e, quiet);
    else if (e->type == WSLA_EV_OOM && !quiet)
      perfetto_oom(p, e);
  }
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++)
    if (p->bucket[d].open) perfetto_close_bucket(p, d);
  struct labelled *blk, *tmp;
  HASH_ITER(hh, p->blocks, blk, tmp) {
    HASH_DEL(p->blocks, blk);
    free(blk);
  }
  free(p->labels);
  fputs("\n]}\n", out);
  if (p->points < p->changes)
    fprintf(stderr, "wslalloc export: %" PRIu64 " changes of live memory thinned to %" PRIu64
                    " points, peaks kept (--all-points for every one)\n", p->changes, p->points);
  free(p);
}


/* --- A pickle, protocol 4, in the opcodes PyTorch's memory_viz page reads
   (it cannot read protocol 5, nor memo-free framing it does not know). --- */
enum {
  PK_PROTO = 0x80, PK_STOP = '.', PK_MARK = '(', PK_EMPTY_DICT = '}',
  PK_EMPTY_LIST = ']', PK_SETITEMS = 'u', PK_APPENDS = 'e', PK_BININT = 'J',
  PK_LONG1 = 0x8a, PK_SHORT_BINUNICODE = 0x8c, PK_BINUNICODE = 'X',
  PK_NEWTRUE = 0x88, PK_NEWFALSE = 0x89, PK_TUPLE2 = 0x86,
};
/* Python batches APPENDS by 1000; so do we: the page spreads each batch
   into a call, and a call takes only so many arguments. */
#define PK_BATCH 1000

static void pk_str(FILE *o, const char *raw) {
  /* Python reads these as UTF-8 and refuses an ill-formed one. */
  char s[4096];
  size_t n = utf8_clean(s, sizeof s, raw, strlen(raw), true);
  if (n < 256) {
    fputc(PK_SHORT_BINUNICODE, o);
    fputc((int)n, o);
  } else {
    fputc(PK_BINUNICODE, o);
    for (int i = 0; i < 4; i++) fputc((int)(n >> (8 * i)) & 0xff, o);
  }
  fwrite(s, 1, n, o);
}

static void pk_int(FILE *o, int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) {
    fputc(PK_BININT, o);
    for (int i = 0; i < 4; i++) fputc((int)((uint32_t)v >> (8 * i)) & 0xff, o);
    return;
  }
  /* LONG1: little-endian two's complement, as few bytes as keep the sign. */
  int n = 1;
  while (n < 8 && !(v >= -(INT64_C(1) << (8 * n - 1)) && v < (INT64_C(1) << (8 * n - 1)))) n++;
  fputc(PK_LONG1, o);
  fputc(n, o);
  for (int i = 0; i < n; i++) fputc((int)(((uint64_t)v >> (8 * i)) & 0xff), o);
}

static void pk_key_str(FILE *o, const char *k, const char *v) { pk_str(o, k), pk_str(o, v); }
static void pk_key_int(FILE *o, const char *k, int64_t v) { pk_str(o, k), pk_int(o, v); }
static void pk_dict(FILE *o) { fputc(PK_EMPTY_DICT, o), fputc(PK_MARK, o); }
static void pk_dict_end(FILE *o) { fputc(PK_SETITEMS, o); }
static void pk_list(FILE *o) { fputc(PK_EMPTY_LIST, o), fputc(PK_MARK, o); }
static void pk_list_end(FILE *o) { fputc(PK_APPENDS, o); }
/* Between items of a list: a new batch every PK_BATCH. */
static void pk_list_next(FILE *o, uint64_t *items) {
  if (++*items % PK_BATCH == 0) fputc(PK_APPENDS, o), fputc(PK_MARK, o);
}

/* The one frame a site gives: the function and line where the module's
   symbols say, else module+offset. */
/* "frames": one per site, innermost first, as PyTorch writes them. */
static void pk_stack(FILE *o, const struct rec *r, const uint64_t *sites, size_t n) {
  pk_str(o, "frames");
  pk_list(o);
  for (size_t i = 0; i < n; i++) {
    char where[256];
    rec_site_name(r, sites[i], where, sizeof where);
    struct site_symbol sym;
    bool named = rec_site_symbol(r, sites[i], &sym);
    pk_dict(o);
    pk_key_str(o, "filename", named && sym.line ? sym.file : where);
    pk_key_int(o, "line", named ? sym.line : 0);
    pk_key_str(o, "name", named ? sym.function : where);
    pk_dict_end(o);
  }
  pk_list_end(o);
}

static void pk_frames(FILE *o, const struct rec *r, uint64_t site) { pk_stack(o, r, &site, 1); }

static void pk_trace_entry(FILE *o, const struct rec *r, const char *action,
                           const struct wsla_event *e, uint64_t addr, uint64_t size) {
  pk_dict(o);
  pk_key_str(o, "action", action);
  pk_key_int(o, "addr", (int64_t)addr);
  pk_key_int(o, "size", (int64_t)size);
  pk_key_int(o, "stream", 0);
  pk_key_int(o, "time_us", wall_ns(r, e->time_ns) / 1000);
  uint64_t stack[WSLA_STACK_MAX];
  size_t depth = 0;
  if (e->type == WSLA_EV_OOM && e->aux < r->oom_count && r->ooms[e->aux].commit == e->aux + 1) {
    pk_key_int(o, "device_free", (int64_t)r->ooms[e->aux].free_bytes);
    depth = rec_oom_stack(r, e->aux, stack, WSLA_STACK_MAX);
  } else if (e->type == WSLA_EV_ALLOC) {
    depth = rec_stack(r, e->aux, stack, WSLA_STACK_MAX); /* a large one's, where kept */
  }
  if (depth) pk_stack(o, r, stack, depth); /* where the program was */
  else pk_frames(o, r, e->site);
  pk_dict_end(o);
}

static void pk_segment(FILE *out, const struct rec *r, int device, uint64_t addr, uint64_t size,
                       uint64_t site, uint64_t stack_id, bool expandable) {
  pk_dict(out);
  pk_key_int(out, "device", device);
  pk_key_int(out, "address", (int64_t)addr);
  pk_key_int(out, "total_size", (int64_t)size);
  pk_key_int(out, "allocated_size", (int64_t)size);
  pk_key_int(out, "active_size", (int64_t)size);
  pk_key_int(out, "requested_size", (int64_t)size);
  pk_key_int(out, "stream", 0);
  pk_key_str(out, "segment_type", "large");
  pk_str(out, "segment_pool_id");
  pk_int(out, 0), pk_int(out, 0), fputc(PK_TUPLE2, out);
  pk_str(out, "is_expandable");
  fputc(expandable ? PK_NEWTRUE : PK_NEWFALSE, out);
  pk_str(out, "frames");
  pk_list(out), pk_list_end(out);
  pk_str(out, "blocks");
  pk_list(out);
  pk_dict(out);
  pk_key_int(out, "address", (int64_t)addr);
  pk_key_int(out, "size", (int64_t)size);
  pk_key_int(out, "requested_size", (int64_t)size);
  pk_key_str(out, "state", "active_allocated");
  uint64_t stack[WSLA_STACK_MAX];
  size_t depth = rec_stack(r, stack_id, stack, WSLA_STACK_MAX);
  if (depth) pk_stack(out, r, stack, depth);
  else pk_frames(out, r, site);
  pk_dict_end(out);
  pk_list_end(out);
  pk_dict_end(out);
}

/* A VMM mapping the kept events show as still in place at the end. */
struct mapping {
  uint64_t va, size, site;
  int16_t device;
  UT_hash_handle hh;
};

static void mapping_drop(struct mapping **all, struct mapping *m) {
  HASH_DEL(*all, m);
  free(m);
}

/* The mappings in place at the end, as far as the kept events tell: a
   mapping whose cuMemMap left the ring is not known. */
static struct mapping *mappings_at_end(const struct rec *r) {
  struct mapping *all = NULL, *m, *tmp;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->type == WSLA_EV_MAP && e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX) {
      HASH_FIND(hh, all, &e->addr, sizeof e->addr, m);
      if (m) mapping_drop(&all, m);
      if (!(m = calloc(1, sizeof *m))) break;
      *m = (struct mapping){.va = e->addr, .size = e->size, .site = e->site, .device = e->device};
      HASH_ADD(hh, all, va, sizeof m->va, m);
    } else if (e->type == WSLA_EV_UNMAP) {
      HASH_FIND(hh, all, &e->addr, sizeof e->addr, m);
      if (m && m->size <= e->size) {
        mapping_drop(&all, m);
      } else {
        HASH_ITER(hh, all, m, tmp) {
          if (m->va >= e->addr && m->va + m->size <= e->addr + e->size) mapping_drop(&all, m);
        }
      }
    }
  }
  return all;
}

/* Each device allocation is a segment with one block that fills it: what
   cudaMalloc hands out is what the device gives, with no caching allocator
   between.  VMM memory shows where it is mapped, each mapping an
   expandable segment (PyTorch's own kind for memory built this way), since
   a physical handle has no address.  Trace actions follow PyTorch's order
   for a segment's life. */
static void write_memviz(FILE *out, const struct rec *r) {
  struct progress pg = {r->nevents, r->nevents / 10};
  int devices = 1;
  for (uint64_t i = 0; i < r->nevents; i++)
    if (device_event(&r->events[i]) && r->events[i].device + 1 > devices)
      devices = r->events[i].device + 1;
  fputc(PK_PROTO, out);
  fputc(4, out);
  pk_dict(out);

  pk_str(out, "segments");
  pk_list(out);
  uint64_t items = 0;
  for (uint64_t i = 0; i < r->live_count; i++) {
    const struct wsla_live *l = &r->live[i];
    if (!l->commit || l->device < 0 || l->device >= (int)WSLA_DEVICE_MAX ||
        (l->flags & (WSLA_F_HOST | WSLA_F_VMM)))
      continue;
    pk_segment(out, r, l->device, l->addr, l->size, l->site, l->stack, false);
    pk_list_next(out, &items);
  }
  struct mapping *mapped = mappings_at_end(r), *m, *tmp;
  HASH_ITER(hh, mapped, m, tmp) {
    pk_segment(out, r, m->device, m->va, m->size, m->site, 0, true);
    pk_list_next(out, &items);
    mapping_drop(&mapped, m);
  }
  pk_list_end(out);

  pk_str(out, "device_traces");
  pk_list(out);
  for (int dev = 0; dev < devices; dev++) {
    pk_list(out);
    items = 0;
    for (uint64_t i = 0; i < r->nevents; i++) {
      if (dev == 0) tick(&pg, i);
      const struct wsla_event *e = &r->events[i];
      if (e->time_ns > export_until_ns) break;
      if (e->time_ns < export_from_ns) continue;
      if (e->device != dev || (e->flags & WSLA_F_HOST)) continue;
      bool vmm = e->flags & WSLA_F_VMM;
      if (e->type == WSLA_EV_ALLOC && !vmm && e->addr) {
        pk_trace_entry(out, r, "segment_alloc", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "alloc", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_FREE && !vmm && e->addr && e->size) {
        pk_trace_entry(out, r, "free_requested", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "free_completed", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "segment_free", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_MAP) {
        /* The mapping is in use from here: the client's own allocator
           hands it out, unseen. */
        pk_trace_entry(out, r, "segment_map", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "alloc", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_UNMAP) {
        pk_trace_entry(out, r, "free_requested", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "free_completed", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "segment_unmap", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_OOM) {
        pk_trace_entry(out, r, "oom", e, 0, e->size), pk_list_next(out, &items);
      }
    }
    pk_list_end(out);
  }
  pk_list_end(out);

  pk_str(out, "allocator_settings");
  pk_dict(out);
  pk_key_str(out, "recorded_by", "libwslalloc (LD_PRELOAD), one segment per device allocation");
  pk_key_str(out, "process", r->exe);
  pk_dict_end(out);
  pk_dict_end(out);
  fputc(PK_STOP, out);
}

int cmd_export(int argc, char **argv) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
      {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
      {"all-points", no_argument, NULL, 'A'},
      {"help", no_argument, NULL, 'h'}, {0}};
  struct window win = WINDOW_ALL;
  const char *format = NULL, *out_path = NULL;
  int c;
  /* Each call starts from the defaults (the fuzzer makes many). */
  export_until_ns = UINT64_MAX;
  export_buckets = 100000;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
    if (c == 'f') format = optarg;
    else if (c == 'o') out_path = optarg;
    else if (c == 'A') export_buckets = 0;
    else if (c == 'F' || c == 'T') {
      if (window_option("export", &win, c == 'F', optarg)) return 2;
    }
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("export", c, argc, argv);
  }
  if (!format || (strcmp(format, "csv") && strcmp(format, "perfetto") && strcmp(format, "memviz"))) {
    return tool_usage_error("export", "--format csv, perfetto or memviz%s%s",
                            format ? ", not " : "", format ? format : "");
  }
  if (!out_path) return tool_usage_error("export", "-o OUT is needed");
  if (window_check("export", &win)) return 2;
  double from = win.from, to = win.to;
  if (argc - optind > 1)
    return tool_usage_error("export", "one FILE at most, not '%s' too", argv[optind + 1]);
  char path[4096], err[4400];
  if (optind < argc) snprintf(path, sizeof path, "%s", argv[optind]);
  else if (rec_find_newest(path, sizeof path, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc export: %s\n", err), 1;
  struct rec r;
  if (rec_open(path, &r, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc export: %s\n", err), 1;
  if (window_fit("export", &win, &r)) return rec_close(&r), 2;
  if (from > 0) export_from_ns = (uint64_t)(from * 1e9);
  if (to >= 0) export_until_ns = (uint64_t)(to * 1e9);
  FILE *out = strcmp(out_path, "-") ? fopen(out_path, "w") : stdout;
  if (!out) {
    fprintf(stderr, "wslalloc export: %s: %s\n", out_path, strerror(errno));
    rec_close(&r);
    return 1;
  }
  if (r.events_lost)
    fprintf(stderr, "wslalloc export: %" PRIu64 " events were lost to the ring; "
                    "the export begins with the oldest kept\n", r.events_lost);
  if (!strcmp(format, "csv")) write_csv(out, &r);
  else if (!strcmp(format, "memviz")) write_memviz(out, &r);
  else write_perfetto(out, &r);
  int bad = ferror(out);
  if (out != stdout) bad |= fclose(out);
  else fflush(out);
  rec_close(&r);
  sym_close_all();
  if (bad) return fprintf(stderr, "wslalloc export: writing %s failed\n", out_path), 1;
  return 0;
}
