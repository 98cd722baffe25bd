/* wslalloc export: a recording as RMM's CSV log, a Chrome/Perfetto trace, or a PyTorch memory_viz snapshot. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "export.h"

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

/* The formats, in the order the usage names them. */
static const struct exporter *const exporters[] = {&export_csv, &export_perfetto, &export_memviz};
enum { EXPORTERS = sizeof exporters / sizeof *exporters };

/* A line on stderr every tenth of a long export. */
void export_tick(struct export_progress *p, uint64_t done) {
  if (p->total < 200000 || done < p->next) return;
  fprintf(stderr, "wslalloc export: %" PRIu64 "%% of %" PRIu64 " events\n",
          done * 100 / p->total, p->total);
  p->next += p->total / 10;
}

/* The exporter named name, or NULL. */
static const struct exporter *exporter_named(const char *name) {
  for (size_t i = 0; name && i < EXPORTERS; i++)
    if (!strcmp(exporters[i]->name, name)) return exporters[i];
  return NULL;
}

/* "csv, perfetto or memviz": the table's names, for the usage error. */
static void exporter_names(char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < EXPORTERS && used < len; i++) {
    const char *sep = i == 0 ? "" : i + 1 == EXPORTERS ? " or " : ", ";
    int n = snprintf(buf + used, len - used, "%s%s", sep, exporters[i]->name);
    if (n < 0) break;
    used += (size_t)n;
  }
}

int cmd_export(int argc, char **argv) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
      {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
      {"all-points", no_argument, NULL, 'A'},
      {"help", no_argument, NULL, 'h'}, {0}};
  struct window win = WINDOW_ALL;
  const char *format = NULL, *out_path = NULL;
  /* Each call starts from the defaults (the fuzzer makes many). */
  struct export_opts opts = {.from_ns = 0, .until_ns = UINT64_MAX, .buckets = 100000};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
    if (c == 'f') format = optarg;
    else if (c == 'o') out_path = optarg;
    else if (c == 'A') opts.buckets = 0;
    else if (c == 'F' || c == 'T') {
      if (window_option("export", &win, c == 'F', optarg)) return 2;
    }
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("export", c, argc, argv);
  }
  const struct exporter *writer = exporter_named(format);
  if (!writer) {
    char names[128];
    exporter_names(names, sizeof names);
    return tool_usage_error("export", "--format %s%s%s", names, format ? ", not " : "",
                            format ? format : "");
  }
  if (!out_path) return tool_usage_error("export", "-o OUT is needed");
  if (window_check("export", &win)) return 2;
  double from = win.from, to = win.to;
  struct rec r;
  int opened = tool_open_recording("export", argc, argv, optind, &r);
  if (opened) return opened;
  if (window_fit("export", &win, &r)) return rec_close(&r), 2;
  if (from > 0) opts.from_ns = (uint64_t)(from * 1e9);
  if (to >= 0) opts.until_ns = (uint64_t)(to * 1e9);
  FILE *out = strcmp(out_path, "-") ? fopen(out_path, "w") : stdout;
  if (!out) {
    fprintf(stderr, "wslalloc export: %s: %s\n", out_path, strerror(errno));
    rec_close(&r);
    return 1;
  }
  if (r.events_lost)
    fprintf(stderr, "wslalloc export: %" PRIu64 " events were lost to the ring; "
                    "the export begins with the oldest kept\n", r.events_lost);
  writer->write(out, &r, &opts);
  int bad = ferror(out);
  if (out != stdout) bad |= fclose(out);
  else fflush(out);
  rec_close(&r);
  sym_close_all();
  if (bad) return fprintf(stderr, "wslalloc export: writing %s failed\n", out_path), 1;
  return 0;
}
