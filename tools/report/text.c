/* The report as text, for people: each section of the model laid out. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "others.h"
#include "explain.h"
#include "report.h"
#include "wslalloc/options.h"

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

struct library_lines {
  FILE *out;
  int shown;
};

static void library_text(const char *path, void *ctx) {
  struct library_lines *l = ctx;
  fprintf(l->out, "%s %s\n", l->shown++ ? "         " : "Libraries", path);
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

/* The options the process ran with that differ from the defaults (the
   recordings folder aside): what changed its behaviour. */
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
            report_api_name(f->key.api, buf, sizeof buf), error, f->count,
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
              report_api_name(i, buf, sizeof buf), n, n == 1 ? "time" : "times",
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
  report_gpu_libraries(r, library_text, &libs);
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
            report_event_type_name(e->type), report_api_name(e->api, buf, sizeof buf),
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
         report_api_name(o->api, buf, sizeof buf), fmt_size(o->size, a, sizeof a));
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
  const struct wsla_phase *phase = report_oom_phase(r, om->idx, fn, sizeof fn);
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
    fprintf(out, "  %-26s %10" PRIu64 " %8" PRIu64 " %12s\n", report_api_name(i, buf, sizeof buf),
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
           report_api_name(l->key.api, c, sizeof c), l->allocs, plural(l->allocs, "alloc", "allocs"),
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

void report_print_text(FILE *out, const struct rec *r, const struct model *m) {
  text_process(out, r, m);
  text_memory(out, r);
  text_ooms(out, r, m);
  text_calls(out, r, m);
  text_sites(out, r, &m->s);
  print_purposes(out, r);
  text_leaks(out, r, &m->s);
  text_tail(out, r);
}

