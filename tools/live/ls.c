/* wslalloc ls: every recording in the directory, one line each, with its state, peak and OOMs. */
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
  if (live_load_all(dir, chosen, 0, &all, &n, err, sizeof err, false) != 0) {
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
      printf("%-20.20s %8s  %-19s  %-12s %12s %5" PRIu64 "\n", live_base(r->exe), pid, when,
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
  live_free_all(all, n);
  return 0;
}
