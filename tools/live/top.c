/* wslalloc top: a live view of the devices and the processes that record on them. */
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

/* The newest OOM a recording kept for device dev; NULL if none. */
static const struct wsla_oom *last_oom(const struct rec *r, int dev) {
  for (uint64_t i = r->oom_count; i-- > 0;)
    if (r->ooms[i].commit == i + 1 && r->ooms[i].device == dev) return &r->ooms[i];
  return NULL;
}

/* One screen of top: for each device any running process uses, the
   device's figures from the freshest view any of them took, then each
   process's own.  Returns how many processes were running. */
/* count: the screens asked for with -n, or -1 for until Ctrl-C. */
static size_t top_screen(FILE *out, const char *dir, bool chosen, double every_s, long count) {
  size_t n;
  struct rec **all;
  char err[4400];
  /* The counters, OOM records and live slots it shows: never the events. */
  bool readable = live_load_all(dir, chosen, REC_SLOTS, &all, &n, err, sizeof err, true) == 0;
  bool missing = !readable && errno == ENOENT;
  service_recordings_add("top", &all, &n, true);
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
  size_t running = 0;
  for (size_t i = 0; i < n; i++) running += !strcmp(rec_end_state(all[i]), "running");
  fprintf(out, "wslalloc top  %s  %zu running in %s", now, running, dir);
  if (count < 0) fprintf(out, "  (every %.1f s; Ctrl-C quits)\n", every_s);
  else if (count > 1) fprintf(out, "  (every %.1f s, %ld screens)\n", every_s, count);
  else fputc('\n', out);
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
      uint64_t others = live_view_foreign(viewer, (unsigned)dev, also, &estimate);
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
              pid, live_base(r->exe), fmt_size(d->live_bytes, a, sizeof a),
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
  live_free_all(all, n);
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
    top_screen(stdout, dir, chosen, every_s, count);
  }
  return 0;
}
