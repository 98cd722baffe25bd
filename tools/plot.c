/* wslalloc plot: the timeline of device memory as SVG, or one self-contained HTML page around it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "tool.h"
#include "utf8.h"

static const char *const usage =
    "usage: wslalloc plot [FILE] -o OUT.svg|OUT.html [--from S] [--to S]\n"
    "\n"
    "Draws device memory over time, one panel per device: this process's\n"
    "memory, what others and the driver held, and what was free, stacked up\n"
    "to the device's total; what the large allocations were for (weights,\n"
    "KV cache, compute buffers...) as a line each over this process's\n"
    "memory; each out-of-memory failure as a red line, with\n"
    "WSLALLOC_LIMIT and WSLALLOC_HEADROOM as dashed lines when they were set.\n"
    "Points are thinned to the pixel (every peak and OOM kept), so long\n"
    "recordings stay small.  The HTML is one file, with the SVG and its hover\n"
    "details, and needs no network.\n"
    "\n"
    "  -o OUT       .svg or .html\n"
    "  --from S     start of the window, seconds after the process started\n"
    "  --to S       its end\n"
    "  -h, --help   this text\n"
    "FILE defaults to the newest recording in WSLALLOC_DIR.\n";

#define WIDTH 960
#define PANEL 300
#define LEFT 70
#define TOP 40

/* One pixel column of a device's series: the most this process held in it
   (peaks survive thinning), and the last figures seen for the others and
   the total; free is what the total leaves, so the layers stack exactly. */
struct column {
  bool any;
  uint64_t own_max, others, total;
};

static uint64_t option_value(const struct rec *r, const char *name) {
  const char *at = strstr(r->options, name);
  if (!at || at[strlen(name)] != '=') return 0;
  return strtoull(at + strlen(name) + 1, NULL, 10);
}

static double gib(uint64_t b) { return b / 1073741824.0; }

/*
 * A step line through one level (a y coordinate) per pixel column, with a
 * point only where the level changes: the file grows with the changes
 * drawn, not with the width (960 columns of points made 128 KB of a plot
 * of 44 events).  An area is closed down to base; a line is left open.
 */
static void step_path(FILE *out, const double *y, bool area, double base) {
  long prev = lround(y[0] * 10);
  if (area) fprintf(out, "M%d,%.1f V%.1f", LEFT, base, prev / 10.0);
  else fprintf(out, "M%d,%.1f", LEFT, prev / 10.0);
  for (int x = 1; x < WIDTH; x++) {
    long now = lround(y[x] * 10);
    if (now == prev) continue;
    fprintf(out, " H%d V%.1f", LEFT + x, now / 10.0);
    prev = now;
  }
  fprintf(out, " H%d", LEFT + WIDTH);
  if (area) fprintf(out, " V%.1f Z", base);
}

/* The step between axis ticks: 1, 2 or 5 times a power of ten, the
   smallest that leaves at most max_ticks intervals over span. */
static double round_step(double span, int max_ticks) {
  if (!(span > 0)) return 1;
  double raw = span / max_ticks, p = pow(10, floor(log10(raw)));
  for (int i = 0; i < 4; i++) {
    static const double m[] = {1, 2, 5, 10};
    if (m[i] * p >= raw * (1 - 1e-9)) return m[i] * p;
  }
  return 10 * p;
}

/* Decimals a label needs to show multiples of step exactly. */
static int step_decimals(double step) {
  int d = 0;
  while (d < 9 && fabs(step * pow(10, d) - nearbyint(step * pow(10, d))) > 1e-6) d++;
  return d;
}

/* Live levels are kept modulo 2^64, as export's are: a hostile file's sizes
   must not overflow a signed type; a level below zero is drawn as none. */
static uint64_t level_floor(uint64_t level) { return level > INT64_MAX ? 0 : level; }

/* A large block on the device being drawn, and the purpose it counts in. */
struct purpose_block {
  uint64_t addr, size;
  size_t purpose;
  UT_hash_handle hh;
};

#define PURPOSES_DRAWN 6

/*
 * What the large allocations were for, a line each over this process's
 * memory, each column at its purpose's highest level in it.  Drawn only
 * when every event was kept: a free of a block allocated before the kept
 * events could not be told.
 */
static void purpose_lines(FILE *out, const struct rec *r, unsigned dev, int y0, double h,
                          uint64_t top, uint64_t t0, uint64_t t1) {
  if (!purposes_drawable(r, "plot")) return;
  const char **labels = purpose_labels(r);
  const char *names[PURPOSES_DRAWN];
  size_t np = 0;
  uint64_t *cols = calloc((size_t)PURPOSES_DRAWN * WIDTH, sizeof *cols);
  bool *seen = calloc((size_t)PURPOSES_DRAWN * WIDTH, sizeof *seen);
  if (!cols || !seen) abort();
  uint64_t level[PURPOSES_DRAWN] = {0}, start[PURPOSES_DRAWN] = {0}; /* modulo 2^64 */
  bool started = false;
  struct purpose_block *blocks = NULL, *b, *tmp;
  double span = (double)(t1 > t0 ? t1 - t0 : 1);
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (!started && e->time_ns >= t0) { /* each line starts where the earlier events left it */
      memcpy(start, level, sizeof start);
      started = true;
    }
    if (e->device != (int)dev || (e->flags & WSLA_F_HOST) || !e->addr) continue;
    size_t k = PURPOSES_DRAWN;
    if (e->type == WSLA_EV_FREE) {
      HASH_FIND(hh, blocks, &e->addr, sizeof e->addr, b);
      if (!b) continue;
      k = b->purpose;
      level[k] -= b->size;
      HASH_DEL(blocks, b);
      free(b);
    } else if (e->type == WSLA_EV_ALLOC && e->aux && e->aux <= r->stack_count && labels[e->aux]) {
      for (k = 0; k < np && names[k] != labels[e->aux]; k++) {}
      if (k == np && np < PURPOSES_DRAWN) names[np++] = labels[e->aux];
      if (k == np || !(b = malloc(sizeof *b))) continue;
      *b = (struct purpose_block){.addr = e->addr, .size = e->size, .purpose = k};
      HASH_ADD(hh, blocks, addr, sizeof b->addr, b);
      level[k] += e->size;
    } else {
      continue;
    }
    if (e->time_ns < t0 || e->time_ns > t1) continue;
    int x = (int)((e->time_ns - t0) / span * (WIDTH - 1));
    uint64_t v = level_floor(level[k]);
    size_t at = k * WIDTH + (size_t)x;
    if (!seen[at] || v > cols[at]) cols[at] = v;
    seen[at] = true;
  }
  if (!started) memcpy(start, level, sizeof start);
  HASH_ITER(hh, blocks, b, tmp) {
    HASH_DEL(blocks, b);
    free(b);
  }
#define Y(v) (y0 + h - (double)(v) / (double)top * h)
  double ys[WIDTH];
  for (size_t k = 0; k < np; k++) {
    uint64_t v = level_floor(start[k]);
    for (int x = 0; x < WIDTH; x++) {
      if (seen[k * WIDTH + (size_t)x]) v = cols[k * WIDTH + (size_t)x];
      ys[x] = Y(v > top ? top : v);
    }
    fprintf(out, "<path class=\"p%zu\" fill=\"none\" d=\"", k);
    step_path(out, ys, false, 0);
    fputs("\"><title>", out);
    utf8_write_xml(out, names[k]);
    fprintf(out, "</title></path>\n<text x=\"%d\" y=\"%d\" class=\"ax t%zu\">", LEFT + 8,
            y0 + 14 + 14 * (int)k, k);
    utf8_write_xml(out, names[k]);
    fputs("</text>\n", out);
  }
#undef Y
  free(cols);
  free(seen);
  free(labels);
}

/* The levels where the window starts: what the earlier events left. */
struct panel_start {
  uint64_t own, others, total;
};

/* Device dev's events into the plot's columns over [t0, t1]: each column's
   highest own level and the device view at it; the levels where the window
   starts into *st.  Returns the device's last total. */
static uint64_t panel_columns(const struct rec *r, unsigned dev, uint64_t t0, uint64_t t1,
                              struct column *col, struct panel_start *st) {
  const struct wsla_device_counters *dc = &r->ctr->dev[dev];
  /* The live level where the kept events begin (see export). */
  uint64_t live = dc->live_bytes; /* modulo 2^64 */
  uint64_t total = dc->total_bytes, others = 0;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->device != (int)dev || (e->flags & WSLA_F_HOST)) continue;
    if (e->type == WSLA_EV_ALLOC) live -= e->size;
    if (e->type == WSLA_EV_FREE) live += e->size;
  }
  double span = (double)(t1 > t0 ? t1 - t0 : 1);
  uint64_t next_oom = 0;
  *st = (struct panel_start){0, 0, total};
  bool started = false;
  for (uint64_t i = 0; i <= r->nevents; i++) {
    const struct wsla_event *e = i < r->nevents ? &r->events[i] : NULL;
    if (!started && (!e || e->time_ns >= t0)) {
      *st = (struct panel_start){level_floor(live), others, total};
      started = true;
    }
    if (!e) break;
    if (e->device != (int)dev) continue;
    if (e->type == WSLA_EV_SAMPLE) {
      total = e->size;
      uint64_t used = e->size > e->addr ? e->size - e->addr : 0;
      others = used > e->aux ? used - e->aux : 0;
    } else if (e->type == WSLA_EV_OOM) {
      /* An OOM record holds the device's view at the failure: the moment
         the others matter most, often with no sample near it. */
      for (; next_oom < r->oom_count; next_oom++) {
        const struct wsla_oom *o = &r->ooms[next_oom];
        if (o->commit != next_oom + 1 || o->event_seq < r->events_claimed - r->nevents) continue;
        if (o->time_ns != e->time_ns) continue;
        if (o->total_bytes) {
          total = o->total_bytes;
          others = o->foreign_bytes;
        }
        next_oom++;
        break;
      }
    } else if (!(e->flags & WSLA_F_HOST)) {
      /* Device memory, VMM physical memory included; a mapping is not
         memory of its own (other event types, skipped here). */
      if (e->type == WSLA_EV_ALLOC) live += e->size;
      else if (e->type == WSLA_EV_FREE) live -= e->size;
      else continue;
    } else {
      continue;
    }
    if (e->time_ns < t0 || e->time_ns > t1) continue;
    int x = (int)((e->time_ns - t0) / span * (WIDTH - 1));
    struct column *c = &col[x];
    uint64_t own = level_floor(live);
    if (!c->any || own > c->own_max) c->own_max = own;
    c->others = others;
    c->total = total;
    c->any = true;
  }
  return total;
}

/* A panel's height for b bytes, the panel's top being top bytes. */
#define Y(b) (y0 + h - (double)(b) / (double)top * h)

/* Axes at round numbers: GiB (MiB below 1 GiB) and seconds. */
static void panel_axes(FILE *out, int y0, double h, uint64_t top, uint64_t t0, uint64_t t1) {
  double span = (double)(t1 > t0 ? t1 - t0 : 1);
  bool in_gib = top >= (1u << 30);
  double unit = in_gib ? 1073741824.0 : 1048576.0, ystep = round_step(top / unit, 5);
  int ydec = step_decimals(ystep);
  for (int k = 0; k * ystep * unit <= top * (1 + 1e-9); k++) {
    double y = Y(k * ystep * unit);
    fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                 "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%.*f %s</text>\n",
            LEFT, y, LEFT + WIDTH, y, LEFT - 4, y + 4, ydec, k * ystep, in_gib ? "GiB" : "MiB");
  }
  double from_s = t0 / 1e9, to_s = t1 / 1e9, tstep = round_step(to_s - from_s, 6);
  int tdec = step_decimals(tstep);
  for (double k = ceil(from_s / tstep - 1e-9); k * tstep <= to_s * (1 + 1e-12); k++) {
    double x = LEFT + (k * tstep * 1e9 - t0) / span * (WIDTH - 1);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"ax\" text-anchor=\"middle\">%.*f s</text>\n",
            x, y0 + h + 16, tdec, k * tstep + 0.0); /* + 0.0: never "-0.0 s" */
  }
}

/* Every OOM on device dev in the window, whatever the thinning. */
static void panel_ooms(FILE *out, const struct rec *r, unsigned dev, int y0, double h,
                       uint64_t t0, uint64_t t1) {
  double span = (double)(t1 > t0 ? t1 - t0 : 1);
  for (uint64_t i = 0; i < r->oom_count; i++) {
    const struct wsla_oom *o = &r->ooms[i];
    if (o->commit != i + 1 || o->device != (int)dev || o->time_ns < t0 || o->time_ns > t1) continue;
    double x = LEFT + (o->time_ns - t0) / span * (WIDTH - 1);
    const char *api = wsla_api_name(o->api);
    char why[512];
    wsla_diagnose(o, why, sizeof why);
    fprintf(out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"><title>%s of %.2f GiB %s at %.3f s: ",
            o->outcome ? "rec" : "oom", x, y0, x, y0 + h, api ? api : "allocation", gib(o->size),
            o->outcome ? "recovered" : "failed", o->time_ns / 1e9);
    utf8_write_xml(out, why);
    fputs("</title></line>\n", out);
  }
}

static void panel(FILE *out, const struct rec *r, unsigned dev, int y0,
                  uint64_t t0, uint64_t t1) {
  const struct wsla_device_counters *dc = &r->ctr->dev[dev];
  struct column *col = calloc(WIDTH, sizeof *col);
  if (!col) return;
  struct panel_start st;
  uint64_t total = panel_columns(r, dev, t0, t1, col, &st), top = dc->peak_bytes;
  if (total > top) top = total;
  uint64_t limit = option_value(r, "WSLALLOC_LIMIT"), room = option_value(r, "WSLALLOC_HEADROOM");
  if (limit > top) top = limit;
  if (!top) top = 1;
  double h = PANEL - 40;
  fprintf(out, "<g><text x=\"%d\" y=\"%d\" class=\"h\">device %u: %.2f GiB total, peak %.2f GiB</text>\n",
          LEFT, y0 - 8, dev, gib(total), gib(dc->peak_bytes));
  /* Step paths, column by column, holding the last value across gaps,
     from the levels the window starts at. */
  const char *layers[3] = {"free", "others", "own"};
  double ys[WIDTH];
  for (int layer = 0; layer < 3; layer++) {
    uint64_t own = st.own, oth = st.others, tot = st.total;
    for (int x = 0; x < WIDTH; x++) {
      if (col[x].any) own = col[x].own_max, oth = col[x].others, tot = col[x].total;
      uint64_t level = layer == 2 ? own : layer == 1 ? own + oth : tot;
      ys[x] = Y(level > top ? top : level);
    }
    fprintf(out, "<path class=\"%s\" d=\"", layers[layer]);
    step_path(out, ys, true, Y(0));
    fputs("\"/>\n", out);
  }
  purpose_lines(out, r, dev, y0, h, top, t0, t1);
  panel_axes(out, y0, h, top, t0, t1);
  if (limit)
    fprintf(out, "<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"><title>WSLALLOC_LIMIT %.2f GiB</title></line>\n",
            LEFT, Y(limit), LEFT + WIDTH, Y(limit), gib(limit));
  if (room && total > room)
    fprintf(out, "<line class=\"room\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"><title>WSLALLOC_HEADROOM %.2f GiB below the total</title></line>\n",
            LEFT, Y(total - room), LEFT + WIDTH, Y(total - room), gib(room));
  panel_ooms(out, r, dev, y0, h, t0, t1);
  fputs("</g>\n", out);
  free(col);
}
#undef Y

int cmd_plot(int argc, char **argv) {
  static const struct option longopts[] = {
      {"output", required_argument, NULL, 'o'}, {"from", required_argument, NULL, 'f'},
      {"to", required_argument, NULL, 't'},     {"help", no_argument, NULL, 'h'}, {0}};
  const char *out_path = NULL;
  struct window win = WINDOW_ALL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
    if (c == 'o') out_path = optarg;
    else if (c == 'f' || c == 't') {
      if (window_option("plot", &win, c == 'f', optarg)) return 2;
    } else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("plot", c, argc, argv);
  }
  size_t l = out_path ? strlen(out_path) : 0;
  bool html = l > 5 && !strcmp(out_path + l - 5, ".html");
  if (!out_path) return tool_usage_error("plot", "-o OUT.svg or -o OUT.html is needed");
  if (!html && (l < 4 || strcmp(out_path + l - 4, ".svg")))
    return tool_usage_error("plot", "-o %s: the file's name must end in .svg or .html", out_path);
  if (window_check("plot", &win)) return 2;
  double from = win.from, to = win.to;
  struct rec r;
  int opened = tool_open_recording("plot", argc, argv, optind, &r);
  if (opened) return opened;
  if (window_fit("plot", &win, &r)) return rec_close(&r), 2;
  uint64_t end = rec_span_end_ns(&r);
  /* A margin after the last event, so that an OOM at the end shows. */
  uint64_t t0 = from >= 0 ? (uint64_t)(from * 1e9) : 0,
           t1 = to >= 0 ? (uint64_t)(to * 1e9) : end + end / 50 + 1;
  unsigned panels = 0;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++)
    panels += r.ctr->dev[d].peak_bytes || r.ctr->dev[d].view_time_ns;
  FILE *out = fopen(out_path, "w");
  if (!out) {
    fprintf(stderr, "wslalloc plot: %s: %s\n", out_path, strerror(errno));
    rec_close(&r);
    return 1;
  }
  int height = TOP + (int)(panels ? panels : 1) * PANEL + 30;
  const char *name = strrchr(r.exe, '/') ? strrchr(r.exe, '/') + 1 : r.exe;
  if (html) {
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>wslalloc: ", out);
    utf8_write_xml(out, name);
    fputs("</title><style>body{font-family:sans-serif;margin:1em}</style></head><body>\n", out);
  }
  fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
               "<style>.own{fill:#3b6fd8}.others{fill:#e8903a}.free{fill:#cfe8c9}"
               ".grid{stroke:#ddd}.ax{font:11px sans-serif;fill:#555}.h{font:bold 13px sans-serif}"
               ".oom{stroke:#d00;stroke-width:2}.rec{stroke:#0a0;stroke-width:2}"
               ".limit{stroke:#000;stroke-dasharray:6,4}.room{stroke:#777;stroke-dasharray:2,3}"
               ".p0{stroke:#6a1b9a}.p1{stroke:#00838f}.p2{stroke:#ad1457}.p3{stroke:#5d4037}"
               ".p4{stroke:#827717}.p5{stroke:#283593}.p0,.p1,.p2,.p3,.p4,.p5{stroke-width:2}"
               ".t0{fill:#6a1b9a}.t1{fill:#00838f}.t2{fill:#ad1457}.t3{fill:#5d4037}"
               ".t4{fill:#827717}.t5{fill:#283593}</style>\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"20\" class=\"h\">",
          WIDTH + LEFT + 20, height, WIDTH + LEFT + 20, height, LEFT);
  utf8_write_xml(out, name);
  fprintf(out, " (pid %d): blue this process, orange others and the driver, green free,"
               " red out of memory; lines: what its memory was for</text>\n",
          (int)r.hdr->pid);
  int y = TOP + 20;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    if (!r.ctr->dev[d].peak_bytes && !r.ctr->dev[d].view_time_ns) continue;
    panel(out, &r, d, y, t0, t1);
    y += PANEL;
  }
  fputs("</svg>\n", out);
  if (html) fputs("</body></html>\n", out);
  int bad = ferror(out);
  bad |= fclose(out);
  rec_close(&r);
  if (bad) return fprintf(stderr, "wslalloc plot: writing %s failed\n", out_path), 1;
  return 0;
}
