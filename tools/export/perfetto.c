/* export --format perfetto: a Chrome/Perfetto trace of each device's memory, what the large allocations were for, and the OOMs. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "export.h"

/*
 * Live levels are kept modulo 2^64: a hostile file's sizes (2^63, or sums
 * past it) must not overflow a signed type, which would be undefined; the
 * sum of what a real process allocated and freed is always exact, and a
 * level read as below zero (above INT64_MAX) is drawn as none.
 */
static uint64_t level_floor(uint64_t level) { return level > INT64_MAX ? 0 : level; }

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
  const struct export_opts *opt;
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
    if (!export_device_event(e)) continue;
    if (e->type == WSLA_EV_ALLOC) p->live[e->device] -= e->size;
    if (e->type == WSLA_EV_FREE) p->live[e->device] += e->size;
  }
  /* Thinning: the window is cut into buckets, and each device's live
     series gives at most its highest and its last point in each; peaks and
     the level at every bucket's end survive, and Chrome's limit of some
     600k events is kept clear of. */
  uint64_t t_first = r->nevents ? r->events[0].time_ns : 0;
  if (t_first < p->opt->from_ns) t_first = p->opt->from_ns;
  uint64_t t_last = t_first;
  for (uint64_t i = 0; i < r->nevents && r->events[i].time_ns <= p->opt->until_ns; i++)
    if (r->events[i].time_ns > t_last) t_last = r->events[i].time_ns;
  p->t_first = t_first;
  p->span = t_last - t_first + 1;
  if (!p->span) p->span = UINT64_MAX; /* a crafted file's times, 0 and UINT64_MAX */
  for (uint64_t i = 0; i < r->nevents; i++)
    if (export_device_event(&r->events[i])) p->used[r->events[i].device] = true;
}

/* Every series at the window's start, with the level the events before it left. */
static void perfetto_window_start(struct perfetto *p) {
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    if (p->used[d])
      counter(p->out, &p->first, p->pid, "this process", d, p->opt->from_ns, level_floor(p->live[d]));
    if (p->view[d].seen) {
      counter(p->out, &p->first, p->pid, "free", d, p->opt->from_ns, p->view[d].free);
      counter(p->out, &p->first, p->pid, "others and the driver", d, p->opt->from_ns,
              p->view[d].others);
    }
  }
  for (size_t k = 0; k < p->nlevels; k++)
    counter(p->out, &p->first, p->pid, p->levels[k].label, (unsigned)p->levels[k].device,
            p->opt->from_ns, level_floor(p->levels[k].live));
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
  if (!p->opt->buckets) {
    counter(p->out, &p->first, p->pid, "this process", (unsigned)e->device, ts, level);
    p->points++;
    return;
  }
  struct bucket *bk = &p->bucket[e->device];
  uint64_t index = (unsigned __int128)(e->time_ns - p->t_first) * p->opt->buckets / p->span;
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

static void write_perfetto(FILE *out, const struct rec *r, const struct export_opts *o) {
  struct perfetto *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->out = out;
  p->opt = o;
  p->first = true;
  p->pid = r->hdr->pid;
  perfetto_names(p, r);
  perfetto_begin(p, r);
  struct export_progress pg = {r->nevents, r->nevents / 10};
  /* What the large allocations were for, a series per purpose and device,
     every change (large allocations are few); only when every event was
     kept, since a free of a block allocated before them could not be told. */
  p->labels = purposes_drawable(r, "export") ? purpose_labels(r) : NULL;
  /* With --from, the events before the window are counted, not written;
     every series then starts at the window's start with the level they
     left, rather than at its next change. */
  bool started = p->opt->from_ns == 0;
  for (uint64_t i = 0; i <= r->nevents; i++) {
    const struct wsla_event *e = i < r->nevents ? &r->events[i] : NULL;
    if (!started && (!e || e->time_ns >= p->opt->from_ns)) {
      started = true;
      perfetto_window_start(p);
    }
    if (!e) break;
    export_tick(&pg, i);
    if (e->time_ns > p->opt->until_ns) break;
    bool quiet = !started; /* before the window: levels only */
    bool alloc_free = (e->type == WSLA_EV_ALLOC || e->type == WSLA_EV_FREE) && export_device_event(e);
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

const struct exporter export_perfetto = {"perfetto", write_perfetto};
