/* wslalloc ls, top and metrics: every recording in the directory, as a list, a live view or Prometheus series. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "others.h"
#include "tool.h"
#include "wslalloc/options.h"

struct loading {
  struct rec **all;
  size_t n, cap;
  unsigned parts;
  bool quiet, full; /* full: the heap refused more */
};

static void load_one(int fd, const char *path, void *arg) {
  struct loading *l = arg;
  char why[4400];
  if (l->full) return;
  struct rec *r = malloc(sizeof *r);
  if (!r) {
    l->full = true;
    return;
  }
  if (rec_open_fd(fd, path, l->parts, r, why, sizeof why) != 0) {
    if (!l->quiet) fprintf(stderr, "wslalloc: skipping %s\n", why);
    free(r);
    return;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct rec **more = realloc(l->all, cap * sizeof *more);
    if (!more) {
      rec_close(r);
      free(r);
      l->full = true;
      return;
    }
    l->all = more;
    l->cap = cap;
  }
  l->all[l->n++] = r;
}

/* The recordings of the recordings directory, readable and trusted ones
   only (rec_scan_dir), oldest first, in *out (*n of them; the caller frees
   each and the array); of each, the header and counters and the parts
   asked for.  -1 with err if the directory cannot be read or is refused
   (errno ENOENT: not made yet); an empty folder is no error. */
static int load_all(const char *dir, bool chosen, unsigned parts, struct rec ***out,
                    size_t *n, char *err, size_t len, bool quiet) {
  struct loading l = {.parts = parts, .quiet = quiet};
  int rc = rec_scan_dir(dir, chosen, quiet, load_one, &l, err, len);
  struct rec **all = l.all;
  *n = l.n;
  for (size_t i = 1; i < *n; i++) /* insertion sort by start time */
    for (size_t k = i; k > 0 && all[k - 1]->hdr->start_realtime_ns >
                                    all[k]->hdr->start_realtime_ns; k--) {
      struct rec *t = all[k];
      all[k] = all[k - 1];
      all[k - 1] = t;
    }
  *out = all;
  return rc;
}

static void free_all(struct rec **all, size_t n) {
  for (size_t i = 0; i < n; i++) {
    rec_close(all[i]);
    free(all[i]);
  }
  free(all);
}

static uint64_t ooms_of(const struct rec *r) {
  uint64_t n = 0;
  for (unsigned i = 0; i < WSLA_API_MAX; i++) n += r->ctr->api[i].ooms;
  return n;
}

static uint64_t peak_of(const struct rec *r) {
  uint64_t p = 0;
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++)
    if (r->ctr->dev[i].peak_bytes > p) p = r->ctr->dev[i].peak_bytes;
  return p;
}

static const char *base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

int cmd_ls(int argc, char **argv) {
  static const char *const usage =
      "usage: wslalloc ls [--json]\n"
      "\n"
      "Lists the recordings in WSLALLOC_DIR, oldest first: program, pid, start,\n"
      "whether it still runs or how it ended, its peak device memory, and its\n"
      "out-of-memory failures.\n"
      "\n"
      "  --json       the same as JSON, every number exact\n"
      "  -h, --help   this text\n";
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
  bool as_json = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
    if (c == 'j') as_json = true;
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("ls", c, argc, argv);
  }
  if (optind < argc) return tool_usage_error("ls", "takes no arguments, not '%s'", argv[optind]);
  char dir[WSLA_OPT_PATH_MAX], err[4400];
  bool chosen;
  rec_dir(dir, sizeof dir, &chosen);
  size_t n;
  struct rec **all;
  /* The header and counters are all it shows: never the events. */
  if (load_all(dir, chosen, 0, &all, &n, err, sizeof err, false) != 0) {
    if (errno != ENOENT) {
      fprintf(stderr, "wslalloc ls: %s\n", err);
      return 1;
    }
    n = 0; /* no folder yet: nothing recorded yet */
  }
  service_recordings_add("ls", &all, &n, false);
  if (as_json) {
    struct json j;
    json_begin(&j, stdout);
    json_arr(&j, NULL);
    for (size_t i = 0; i < n; i++) {
      const struct rec *r = all[i];
      json_obj(&j, NULL);
      json_str(&j, "recording", r->path);
      json_str(&j, "exe", r->exe);
      json_i64(&j, "pid", r->hdr->pid);
      json_str(&j, "pid_namespace", pidns_word(r->hdr));
      json_fixed(&j, "start_time", r->hdr->start_realtime_ns, 9);
      json_str(&j, "end", rec_end_state(r));
      json_u64(&j, "peak_bytes", peak_of(r));
      json_u64(&j, "ooms", ooms_of(r));
      if (r->hdr->features & WSLA_FEAT_LIFE_LOCK) {
        /* What its start deleted under WSLALLOC_KEEP. */
        json_u64(&j, "pruned_clean", r->hdr->pruned_clean);
        json_u64(&j, "pruned_failed", r->hdr->pruned_failed);
      }
      json_end_obj(&j);
    }
    json_end_arr(&j);
    json_finish(&j);
  } else {
    printf("%-20s %8s  %-19s  %-12s %12s %5s\n", "program", "pid", "started",
           "state", "peak", "OOMs");
    bool foreign = false;
    for (size_t i = 0; i < n; i++) {
      const struct rec *r = all[i];
      char when[32], peak[32], state[32];
      time_t st = (time_t)(r->hdr->start_realtime_ns / 1000000000);
      struct tm tm;
      strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&st, &tm));
      const char *end = rec_end_state(r);
      if (!strcmp(end, "exit")) snprintf(state, sizeof state, "exit %d", r->hdr->exit_code);
      else if (!strcmp(end, "signal")) snprintf(state, sizeof state, "signal %d", r->hdr->end_signal);
      else snprintf(state, sizeof state, "%s", end);
      char pid[24];
      bool other = rec_pidns(r->hdr) == PIDNS_OTHER;
      foreign |= other;
      snprintf(pid, sizeof pid, "%d%s", (int)r->hdr->pid, other ? "*" : "");
      printf("%-20.20s %8s  %-19s  %-12s %12s %5" PRIu64 "\n", base(r->exe), pid, when,
             state, fmt_size(peak_of(r), peak, sizeof peak), ooms_of(r));
    }
    if (foreign) printf("* a pid in another pid namespace (a container)\n");
    if (n == 0) printf("(no recordings in %s)\n", dir);
    /* Each recording counts what its process deleted when it started:
       together, what went to make room among those listed. */
    uint64_t clean = 0, failed = 0;
    for (size_t i = 0; i < n; i++)
      if (all[i]->hdr->features & WSLA_FEAT_LIFE_LOCK)
        clean += all[i]->hdr->pruned_clean, failed += all[i]->hdr->pruned_failed;
    if (clean + failed)
      printf("pruned: %" PRIu64 " older recording%s of ended processes (WSLALLOC_KEEP): "
             "%" PRIu64 " clean exit%s, %" PRIu64 " failure%s\n",
             clean + failed, clean + failed == 1 ? "" : "s", clean, clean == 1 ? "" : "s",
             failed, failed == 1 ? "" : "s");
  }
  free_all(all, n);
  return 0;
}

/* A Prometheus label value: \\, " and newline escaped. */
static void label(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') fputc('\\', out), fputc(*s, out);
    else if (*s == '\n') fputs("\\n", out);
    else fputc(*s, out);
  }
}

struct metric {
  const char *name, *type, *help;
  uint64_t (*value)(const struct wsla_device_counters *d);
  /* Instead of value, for a figure that needs the recording's header. */
  uint64_t (*value_rec)(const struct rec *r, unsigned dv, bool *estimate);
};

static uint64_t m_live(const struct wsla_device_counters *d) { return d->live_bytes; }
static uint64_t m_peak(const struct wsla_device_counters *d) { return d->peak_bytes; }
static uint64_t m_allocs(const struct wsla_device_counters *d) { return d->live_allocs; }
static uint64_t m_ooms(const struct wsla_device_counters *d) { return d->ooms; }
static uint64_t m_free(const struct wsla_device_counters *d) { return d->free_bytes; }
static uint64_t m_total(const struct wsla_device_counters *d) { return d->total_bytes; }
/* What the others held at r's last view of device dv: total - free - ours,
   with ours from the same moment (WSLA_FEAT_VIEW_OWN).  A recording without
   it has only this process's live bytes now, from another moment: *estimate
   says so.  `also` is what other processes of ours hold on it (top). */
static uint64_t view_foreign(const struct rec *r, unsigned dv, uint64_t also, bool *estimate) {
  const struct wsla_device_counters *d = &r->ctr->dev[dv];
  uint64_t used = d->total_bytes > d->free_bytes ? d->total_bytes - d->free_bytes : 0;
  bool same_moment = r->hdr->features & WSLA_FEAT_VIEW_OWN;
  uint64_t own = same_moment ? r->hdr->view_own_bytes[dv] : d->live_bytes;
  *estimate = !same_moment;
  own = own + also < own ? UINT64_MAX : own + also;
  return used > own ? used - own : 0;
}

static uint64_t m_foreign(const struct rec *r, unsigned dv, bool *estimate) {
  return view_foreign(r, dv, 0, estimate);
}

static const struct metric metrics[] = {
    {"wslalloc_device_live_bytes", "gauge", "Device memory the process holds now.", m_live, NULL},
    {"wslalloc_device_peak_bytes", "gauge", "The most device memory the process has held.", m_peak, NULL},
    {"wslalloc_device_allocations", "gauge", "Device allocations the process holds now.", m_allocs, NULL},
    {"wslalloc_device_ooms_total", "counter", "Out-of-memory failures on the device.", m_ooms, NULL},
    {"wslalloc_device_free_bytes", "gauge", "Free device memory at the last sample.", m_free, NULL},
    {"wslalloc_device_total_bytes", "gauge", "Device memory in all, at the last sample.", m_total, NULL},
    {"wslalloc_device_foreign_bytes", "gauge",
     "Device memory others (processes, the desktop, the driver) held at the last sample "
     "(estimate=\"1\": from a recording that lacks this process's own figure then).",
     NULL, m_foreign},
};

/* Whether recording i gets series: running (or every, with --all), and
   the newest of those with its pid and program name, since two series with
   the same labels (a pid reused, each container's pid 1) make node_exporter
   reject the whole file. */
static bool exported(struct rec **all, size_t n, size_t i, bool every) {
  const struct rec *r = all[i];
  if (!every && strcmp(rec_end_state(r), "running")) return false;
  for (size_t k = 0; k < n; k++) {
    const struct rec *o = all[k];
    if (k == i || o->hdr->pid != r->hdr->pid || strcmp(base(o->exe), base(r->exe)) ||
        (!every && strcmp(rec_end_state(o), "running")))
      continue;
    if (o->hdr->start_realtime_ns > r->hdr->start_realtime_ns ||
        (o->hdr->start_realtime_ns == r->hdr->start_realtime_ns && k < i))
      return false;
  }
  return true;
}

static void write_metrics(FILE *out, struct rec **all, size_t n, bool every) {
  for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metrics[m].name, metrics[m].help,
            metrics[m].name, metrics[m].type);
    for (size_t i = 0; i < n; i++) {
      const struct rec *r = all[i];
      if (!exported(all, n, i, every)) continue;
      for (unsigned dv = 0; dv < WSLA_DEVICE_MAX; dv++) {
        const struct wsla_device_counters *d = &r->ctr->dev[dv];
        if (!rec_device_used(d)) continue;
        fprintf(out, "%s{pid=\"%d\",exe=\"", metrics[m].name, (int)r->hdr->pid);
        label(out, base(r->exe));
        bool est = false;
        uint64_t v = metrics[m].value_rec ? metrics[m].value_rec(r, dv, &est) : metrics[m].value(d);
        fprintf(out, "\",device=\"%u\"%s} %" PRIu64 "\n", dv, est ? ",estimate=\"1\"" : "", v);
      }
    }
  }
  fprintf(out, "# HELP wslalloc_recovered_total Out-of-memory failures the recovery ladder turned into a success.\n"
               "# TYPE wslalloc_recovered_total counter\n");
  for (size_t i = 0; i < n; i++) {
    const struct rec *r = all[i];
    if (!exported(all, n, i, every)) continue;
    fprintf(out, "wslalloc_recovered_total{pid=\"%d\",exe=\"", (int)r->hdr->pid);
    label(out, base(r->exe));
    fprintf(out, "\"} %" PRIu64 "\n", r->ctr->recovered);
  }
  fprintf(out, "# HELP wslalloc_purpose_live_bytes Device memory the large allocations hold now, by what "
               "they are for (from their stacks).\n# TYPE wslalloc_purpose_live_bytes gauge\n");
  for (size_t i = 0; i < n; i++) {
    const struct rec *r = all[i];
    if (!exported(all, n, i, every)) continue;
    struct purposes pu;
    purposes_build(r, &pu);
    for (size_t k = 0; k < pu.npurposes; k++) {
      fprintf(out, "wslalloc_purpose_live_bytes{pid=\"%d\",exe=\"", (int)r->hdr->pid);
      label(out, base(r->exe));
      fprintf(out, "\",purpose=\"");
      label(out, pu.purposes[k].label);
      fprintf(out, "\"} %" PRIu64 "\n", pu.purposes[k].live);
    }
    purposes_free(&pu);
  }
  others_metrics(out, all, n); /* the other programs on the devices */
}

int cmd_metrics(int argc, char **argv) {
  static const char *const usage =
      "usage: wslalloc metrics [--all] [-o FILE.prom]\n"
      "\n"
      "The live counters of every running process recorded in WSLALLOC_DIR, in\n"
      "Prometheus' text format: one series per process and device.  With -o the\n"
      "file is written whole, then renamed into place, for node_exporter's\n"
      "textfile collector (which reads *.prom files only).\n"
      "\n"
      "  --all        processes that have ended too\n"
      "  -o FILE      write to FILE instead of stdout\n"
      "  -h, --help   this text\n";
  static const struct option longopts[] = {
      {"all", no_argument, NULL, 'a'}, {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'}, {0}};
  bool every = false;
  const char *out_path = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":ao:h", longopts, NULL)) != -1) {
    if (c == 'a') every = true;
    else if (c == 'o') out_path = optarg;
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("metrics", c, argc, argv);
  }
  if (optind < argc)
    return tool_usage_error("metrics", "takes no arguments, not '%s'", argv[optind]);
  char dir[WSLA_OPT_PATH_MAX], err[4400] = "";
  bool chosen;
  rec_dir(dir, sizeof dir, &chosen);
  size_t n;
  struct rec **all;
  /* No folder: no series.  A folder refused: no series, and why. */
  /* A folder refused is an error, as for ls (a scheduled run's log shows
     it), though the series, none, are still written. */
  int refused = 0;
  if (load_all(dir, chosen, REC_SLOTS, &all, &n, err, sizeof err, false) != 0 && errno != ENOENT) {
    fprintf(stderr, "wslalloc metrics: %s\n", err);
    refused = 1;
  }
  if (!out_path) {
    write_metrics(stdout, all, n, every);
    free_all(all, n);
    return refused;
  }
  /* Only a regular file (or none yet) is replaced by a rename: anything
     else there (/dev/null, a FIFO, a directory) would be replaced whole.
     A character device is written into as it is; the rest is refused. */
  struct stat target;
  if (lstat(out_path, &target) == 0 && !S_ISREG(target.st_mode) && !S_ISLNK(target.st_mode)) {
    if (!S_ISCHR(target.st_mode)) {
      fprintf(stderr, "wslalloc metrics: -o %s: not a regular file; name a file to write\n",
              out_path);
      free_all(all, n);
      return 1;
    }
    FILE *dev = fopen(out_path, "w");
    if (!dev) {
      fprintf(stderr, "wslalloc metrics: cannot write %s: %s\n", out_path, strerror(errno));
      free_all(all, n);
      return 1;
    }
    write_metrics(dev, all, n, every);
    int failed = ferror(dev) | fclose(dev);
    free_all(all, n);
    if (failed) fprintf(stderr, "wslalloc metrics: cannot write %s\n", out_path);
    return failed || refused ? 1 : 0;
  }
  size_t l = strlen(out_path);
  if (l < 5 || strcmp(out_path + l - 5, ".prom"))
    fprintf(stderr, "wslalloc metrics: note: node_exporter reads only *.prom files\n");
  /* A fresh temporary file beside the target (rename stays in one file
     system), made with O_EXCL by mkstemp: nothing planted at its name, a
     link least of all, is ever written through. */
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.XXXXXX", out_path);
  int fd = mkstemp(tmp);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (!f) {
    /* The temporary file is ours: the user named out_path. */
    fprintf(stderr, "wslalloc metrics: cannot write %s: %s\n", out_path, strerror(errno));
    if (fd >= 0) close(fd), unlink(tmp);
    free_all(all, n);
    return 1;
  }
  /* node_exporter, often another user, reads it: mode 0644 as any file
     written with the usual umask, not mkstemp's 0600. */
  fchmod(fd, 0644);
  write_metrics(f, all, n, every);
  int bad = ferror(f);
  bad |= fclose(f);
  free_all(all, n);
  if (bad || rename(tmp, out_path) != 0) {
    fprintf(stderr, "wslalloc metrics: cannot write %s: %s\n", out_path, strerror(errno));
    unlink(tmp);
    return 1;
  }
  return refused;
}

/* The newest OOM a recording kept for device dev; NULL if none. */
static const struct wsla_oom *last_oom(const struct rec *r, int dev) {
  for (uint64_t i = r->oom_count; i-- > 0;)
    if (r->ooms[i].commit == i + 1 && r->ooms[i].device == dev) return &r->ooms[i];
  return NULL;
}

/* One screen of top: for each device any running process uses, the
   device's figures from the freshest view any of them took, then each
   process's own.  Returns how many processes were running. */
static size_t top_screen(FILE *out, const char *dir, bool chosen, double every_s) {
  size_t n;
  struct rec **all;
  char err[4400];
  /* The counters, OOM records and live slots it shows: never the events. */
  bool readable = load_all(dir, chosen, REC_SLOTS, &all, &n, err, sizeof err, true) == 0;
  bool missing = !readable && errno == ENOENT;
  service_recordings_add("top", &all, &n, true);
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
  size_t running = 0;
  for (size_t i = 0; i < n; i++) running += !strcmp(rec_end_state(all[i]), "running");
  fprintf(out, "wslalloc top  %s  %zu running in %s  (every %.1f s; Ctrl-C quits)\n", now,
          running, dir, every_s);
  if (!readable && !missing) fprintf(out, "  %s\n", err);
  bool any = false;
  for (int dev = 0; dev < (int)WSLA_DEVICE_MAX; dev++) {
    const struct wsla_device_counters *view = NULL;
    const struct rec *viewer = NULL;
    int64_t view_at = 0;
    uint64_t own = 0;
    bool used = false;
    for (size_t i = 0; i < n; i++) {
      const struct rec *r = all[i];
      if (strcmp(rec_end_state(r), "running")) continue;
      const struct wsla_device_counters *d = &r->ctr->dev[dev];
      if (!rec_device_used(d)) continue;
      used = true;
      own += d->live_bytes;
      int64_t at = r->hdr->start_realtime_ns + (int64_t)d->view_time_ns;
      if (d->view_time_ns && (!view || at > view_at)) view = d, viewer = r, view_at = at;
    }
    if (!used) continue;
    any = true;
    char a[32], b[32], c[32];
    fprintf(out, "\nGPU %d", dev);
    if (view && view->total_bytes) {
      /* The viewer's own bytes at its view; the other processes of ours
         only as they are now, which makes the figure an estimate. */
      uint64_t also = own - view->live_bytes;
      bool estimate;
      uint64_t others = view_foreign(viewer, (unsigned)dev, also, &estimate);
      if (also) estimate = true;
      fprintf(out, "  %s total, %s free, others and the driver %s%s",
              fmt_size(view->total_bytes, a, sizeof a), fmt_size(view->free_bytes, b, sizeof b),
              estimate ? "~" : "", fmt_size(others, c, sizeof c));
      if (estimate) fprintf(out, " (estimate)");
      double age = (double)(t * 1000000000ll - view_at) / 1e9;
      if (age > 2) fprintf(out, " (measured %.0f s ago)", age);
    } else {
      fprintf(out, "  (no device view yet)");
    }
    fprintf(out, "\n  %8s  %-20s %12s %12s %8s %5s  %s\n", "pid", "program", "live", "peak",
            "allocs", "OOMs", "last OOM");
    for (size_t i = 0; i < n; i++) {
      const struct rec *r = all[i];
      if (strcmp(rec_end_state(r), "running")) continue;
      const struct wsla_device_counters *d = &r->ctr->dev[dev];
      if (!rec_device_used(d)) continue;
      char last[96] = "-";
      const struct wsla_oom *o = last_oom(r, dev);
      if (o) {
        time_t when = (time_t)((r->hdr->start_realtime_ns + (int64_t)o->time_ns) / 1000000000);
        char hm[16];
        strftime(hm, sizeof hm, "%H:%M:%S", localtime_r(&when, &tm));
        snprintf(last, sizeof last, "%s of %s%s", hm, fmt_size(o->size, c, sizeof c),
                 o->outcome ? ", recovered" : "");
      }
      char pid[24];
      snprintf(pid, sizeof pid, "%d%s", (int)r->hdr->pid,
               rec_pidns(r->hdr) == PIDNS_OTHER ? "*" : "");
      fprintf(out, "  %8s  %-20.20s %12s %12s %8" PRIu64 " %5" PRIu64 "  %s\n",
              pid, base(r->exe), fmt_size(d->live_bytes, a, sizeof a),
              fmt_size(d->peak_bytes, b, sizeof b), d->live_allocs, d->ooms, last);
      /* What its large allocations hold now, where their stacks tell. */
      struct purposes pu;
      purposes_build(r, &pu);
      purposes_line(out, &pu, PURPOSE_LIVE, "            holding: ");
      purposes_free(&pu);
    }
    others_top(out, dev, all, n); /* the other programs on this GPU */
  }
  if (!any)
    fprintf(out, "\n  (no running process has used a GPU; start one with\n"
                 "   LD_PRELOAD=libwslalloc.so, or `wslalloc run PROGRAM`)\n");
  fflush(out);
  free_all(all, n);
  return running;
}

static volatile sig_atomic_t top_stop;
static void top_on_signal(int sig) { (void)sig; top_stop = 1; }

int cmd_top(int argc, char **argv) {
  static const char *const usage =
      "usage: wslalloc top [-d SECONDS] [-n COUNT]\n"
      "\n"
      "A live view of every running process recorded in WSLALLOC_DIR: per GPU,\n"
      "its total and free memory and what others hold, then each process's live\n"
      "bytes, peak, allocations and last out-of-memory failure.  It reads the\n"
      "counters the processes publish in their recordings and never stops or\n"
      "slows them; under WSL2, where nvidia-smi shows no per-process usage,\n"
      "this is that view.\n"
      "\n"
      "  -d SECONDS   time between refreshes (default 1; 0.1 to 3600)\n"
      "  -n COUNT     stop after COUNT screens (default: until Ctrl-C); with\n"
      "               -n or when the output is not a terminal, screens follow\n"
      "               one another instead of redrawing\n"
      "  -h, --help   this text\n";
  static const struct option longopts[] = {
      {"delay", required_argument, NULL, 'd'}, {"count", required_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'}, {0}};
  double every_s = 1.0;
  long count = -1;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:n:h", longopts, NULL)) != -1) {
    char *end;
    if (c == 'd') {
      every_s = strtod(optarg, &end);
      if (end == optarg || *end || !(every_s >= 0.1 && every_s <= 3600))
        return tool_usage_error("top", "-d wants seconds from 0.1 to 3600, not '%s'", optarg);
    } else if (c == 'n') {
      errno = 0;
      count = strtol(optarg, &end, 10);
      if (end == optarg || *end || errno || count < 1 || count > 1000000)
        return tool_usage_error("top", "-n wants a count from 1 to 1000000, not '%s'", optarg);
    } else if (c == 'h') {
      return fputs(usage, stdout), 0;
    } else {
      return tool_bad_option("top", c, argc, argv);
    }
  }
  if (optind < argc) return tool_usage_error("top", "takes no arguments, not '%s'", argv[optind]);
  char dir[WSLA_OPT_PATH_MAX];
  bool chosen;
  rec_dir(dir, sizeof dir, &chosen);
  bool redraw = count < 0 && isatty(STDOUT_FILENO);
  struct sigaction sa = {.sa_handler = top_on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  for (long shown = 0; !top_stop && (count < 0 || shown < count); shown++) {
    if (shown) {
      struct timespec ts = {(time_t)every_s, (long)((every_s - (time_t)every_s) * 1e9)};
      while (nanosleep(&ts, &ts) != 0 && !top_stop) {}
      if (top_stop) break;
      if (!redraw) fputs("\n", stdout);
    }
    if (redraw) fputs("\033[H\033[2J", stdout); /* home, clear */
    top_screen(stdout, dir, chosen, every_s);
  }
  return 0;
}
