/* wslalloc export: a recording as RMM's CSV log or as a Chrome/Perfetto trace. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "tool.h"

static const char *const usage =
    "usage: wslalloc export --format csv|perfetto [FILE] -o OUT\n"
    "\n"
    "  --format csv       RAPIDS RMM's logging columns (Thread,Time,Action,\n"
    "                     Pointer,Size,Stream): device allocations, frees and\n"
    "                     failures, for RMM's replay benchmark\n"
    "  --format perfetto  Chrome/Perfetto trace-event JSON for ui.perfetto.dev:\n"
    "                     this process's device memory, free memory and\n"
    "                     others' memory per device as counters, OOMs as\n"
    "                     instants\n"
    "  -o OUT             the file to write (- for stdout)\n"
    "FILE defaults to the newest recording in WSLALLOC_DIR.\n";

/* Events that are device memory as a client sees it. */
static bool device_event(const struct wsla_event *e) {
  return e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX &&
         !(e->flags & (WSLA_F_HOST | WSLA_F_VMM));
}

struct progress {
  uint64_t total, next;
};

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
    const char *action = e->type == WSLA_EV_ALLOC   ? "allocate"
                         : e->type == WSLA_EV_FREE  ? "free"
                         : e->type == WSLA_EV_OOM ? "allocate failure"
                                                    : NULL;
    if (!action || !device_event(e)) continue;
    int64_t ns = r->hdr->start_realtime_ns + (int64_t)e->time_ns;
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

static void counter(FILE *out, bool *first, int pid, const char *name, unsigned dev,
                    uint64_t ts_us, uint64_t bytes) {
  fprintf(out, "%s\n{\"ph\":\"C\",\"pid\":%d,\"name\":\"device %u: %s\",\"ts\":%" PRIu64
               ",\"args\":{\"bytes\":%" PRIu64 "}}",
          *first ? "" : ",", pid, dev, name, ts_us, bytes);
  *first = false;
}

static void write_perfetto(FILE *out, const struct rec *r) {
  int pid = r->hdr->pid;
  bool first = true;
  fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", out);
  /* Names first: the process, then each thread seen. */
  struct json j;
  json_begin(&j, out);
  j.need_comma[0] = false;
  fprintf(out, "\n{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":", pid);
  char name[WSLA_PATH_MAX + 32];
  const char *b = strrchr(r->exe, '/');
  snprintf(name, sizeof name, "%s (pid %d)", b ? b + 1 : r->exe, pid);
  json_str(&j, NULL, name);
  fputs("}}", out);
  first = false;
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
  /* Where the kept events begin: the final exact count less what they
     added, so that a wrapped ring still draws true levels. */
  int64_t live[WSLA_DEVICE_MAX];
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) live[d] = (int64_t)r->ctr->dev[d].live_bytes;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (!device_event(e)) continue;
    if (e->type == WSLA_EV_ALLOC) live[e->device] -= (int64_t)e->size;
    if (e->type == WSLA_EV_FREE) live[e->device] += (int64_t)e->size;
  }
  struct progress pg = {r->nevents, r->nevents / 10};
  for (uint64_t i = 0; i < r->nevents; i++) {
    tick(&pg, i);
    const struct wsla_event *e = &r->events[i];
    uint64_t ts = e->time_ns / 1000;
    if ((e->type == WSLA_EV_ALLOC || e->type == WSLA_EV_FREE) && device_event(e)) {
      live[e->device] += e->type == WSLA_EV_ALLOC ? (int64_t)e->size : -(int64_t)e->size;
      counter(out, &first, pid, "this process", (unsigned)e->device, ts,
              live[e->device] > 0 ? (uint64_t)live[e->device] : 0);
    } else if (e->type == WSLA_EV_SAMPLE && e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX) {
      uint64_t free_b = e->addr, total = e->size, own = e->aux;
      uint64_t used = total > free_b ? total - free_b : 0;
      counter(out, &first, pid, "free", (unsigned)e->device, ts, free_b);
      counter(out, &first, pid, "others and the driver", (unsigned)e->device, ts,
              used > own ? used - own : 0);
    } else if (e->type == WSLA_EV_OOM) {
      const char *api = wsla_api_name(e->api);
      fprintf(out, ",\n{\"ph\":\"i\",\"s\":\"g\",\"pid\":%d,\"tid\":%u,\"ts\":%" PRIu64
                   ",\"name\":\"out of memory: %s of %" PRIu64 " bytes\",\"args\":{\"device\":%d,"
                   "\"size\":%" PRIu64 "}}",
              pid, e->tid, ts, api ? api : "allocation", e->size, e->device, e->size);
    }
  }
  fputs("\n]}\n", out);
}

int cmd_export(int argc, char **argv) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'}, {0}};
  const char *format = NULL, *out_path = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
    if (c == 'f') format = optarg;
    else if (c == 'o') out_path = optarg;
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return fputs(usage, stderr), 2;
  }
  if (!format || (strcmp(format, "csv") && strcmp(format, "perfetto"))) {
    fprintf(stderr, "wslalloc export: --format csv or --format perfetto%s%s\n%s",
            format ? ", not " : "", format ? format : "", usage);
    return 2;
  }
  if (!out_path) return fprintf(stderr, "wslalloc export: -o OUT is needed\n%s", usage), 2;
  if (argc - optind > 1) return fprintf(stderr, "wslalloc export: one FILE at most\n%s", usage), 2;
  char path[4096], err[4400];
  if (optind < argc) snprintf(path, sizeof path, "%s", argv[optind]);
  else if (rec_find_newest(path, sizeof path, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc export: %s\n", err), 1;
  struct rec r;
  if (rec_open(path, &r, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc export: %s\n", err), 1;
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
  else write_perfetto(out, &r);
  int bad = ferror(out);
  if (out != stdout) bad |= fclose(out);
  else fflush(out);
  rec_close(&r);
  if (bad) return fprintf(stderr, "wslalloc export: writing %s failed\n", out_path), 1;
  return 0;
}
