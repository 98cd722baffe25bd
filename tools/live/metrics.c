/* wslalloc metrics: the recorded processes' device figures as Prometheus series (text exposition format). */
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
#include "live.h"
#include "wslalloc/options.h"

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
static uint64_t m_foreign(const struct rec *r, unsigned dv, bool *estimate) {
  return live_view_foreign(r, dv, 0, estimate);
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
    if (k == i || o->hdr->pid != r->hdr->pid || strcmp(live_base(o->exe), live_base(r->exe)) ||
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
        label(out, live_base(r->exe));
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
    label(out, live_base(r->exe));
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
      label(out, live_base(r->exe));
      fprintf(out, "\",purpose=\"");
      label(out, pu.purposes[k].label);
      fprintf(out, "\"} %" PRIu64 "\n", pu.purposes[k].live);
    }
    purposes_free(&pu);
  }
  others_metrics(out, all, n); /* the other programs on the devices */
}

/* -o naming what is not a regular file (target, its lstat): a character
   device is written into as it is, anything else refused.  0, or 1 with
   one line on stderr. */
static int write_not_regular(const char *out_path, const struct stat *target, struct rec **all,
                             size_t n, bool every) {
  if (!S_ISCHR(target->st_mode)) {
    fprintf(stderr, "wslalloc metrics: -o %s: not a regular file; name a file to write\n",
            out_path);
    return 1;
  }
  FILE *dev = fopen(out_path, "w");
  if (!dev) {
    fprintf(stderr, "wslalloc metrics: cannot write %s: %s\n", out_path, strerror(errno));
    return 1;
  }
  write_metrics(dev, all, n, every);
  int failed = ferror(dev) | fclose(dev);
  if (failed) fprintf(stderr, "wslalloc metrics: cannot write %s\n", out_path);
  return failed ? 1 : 0;
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
  if (live_load_all(dir, chosen, REC_SLOTS, &all, &n, err, sizeof err, false) != 0 &&
      errno != ENOENT) {
    fprintf(stderr, "wslalloc metrics: %s\n", err);
    refused = 1;
  }
  if (!out_path) {
    write_metrics(stdout, all, n, every);
    live_free_all(all, n);
    return refused;
  }
  /* Only a regular file (or none yet) is replaced by a rename: anything
     else there (/dev/null, a FIFO, a directory) would be replaced whole.
     A character device is written into as it is; the rest is refused. */
  struct stat target;
  if (lstat(out_path, &target) == 0 && !S_ISREG(target.st_mode) && !S_ISLNK(target.st_mode)) {
    int failed = write_not_regular(out_path, &target, all, n, every);
    live_free_all(all, n);
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
    live_free_all(all, n);
    return 1;
  }
  /* node_exporter, often another user, reads it: mode 0644 as any file
     written with the usual umask, not mkstemp's 0600. */
  fchmod(fd, 0644);
  write_metrics(f, all, n, every);
  int bad = ferror(f);
  bad |= fclose(f);
  live_free_all(all, n);
  if (bad || rename(tmp, out_path) != 0) {
    fprintf(stderr, "wslalloc metrics: cannot write %s: %s\n", out_path, strerror(errno));
    unlink(tmp);
    return 1;
  }
  return refused;
}
