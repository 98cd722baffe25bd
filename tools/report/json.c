/* The report as JSON: each section of the model laid out, every number exact. */
#include <string.h>

#include "others.h"
#include "explain.h"
#include "report.h"

static const char *view_source(uint16_t s) {
  return s == WSLA_VIEW_DRIVER ? "driver" : s == WSLA_VIEW_SAMPLE ? "sample" : "none";
}

static void library_json(const char *path, void *ctx) { json_str(ctx, NULL, path); }


/* key: [{site, function}, ...] for a stack's frames, innermost first. */
static void json_frames(struct json *j, const struct rec *r, const char *key,
                        const uint64_t *frames, size_t depth) {
  char buf[600];
  json_arr(j, key);
  for (size_t k = 0; k < depth; k++) {
    json_obj(j, NULL);
    rec_site_name(r, frames[k], buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, frames[k], buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_process(struct json *j, const struct rec *r, const struct model *m) {
  const struct wsla_header *h = r->hdr;
  json_str(j, "recording", r->path);
  json_bool(j, "partial", r->partial);
  if (r->partial) json_str(j, "partial_reason", r->partial_why);
  json_obj(j, "process");
  json_i64(j, "pid", h->pid);
  json_str(j, "pid_namespace", pidns_word(h));
  json_i64(j, "ppid", h->ppid);
  json_str(j, "exe", r->exe);
  json_str(j, "cmdline", r->cmdline);
  json_fixed(j, "start_time", h->start_realtime_ns, 9);
  /* The one clock every time in the recording came from. */
  bool tsc = h->features & WSLA_FEAT_TSC;
  json_str(j, "clock", tsc ? "tsc" : "monotonic");
  if (tsc) json_u64(j, "tsc_hz", h->tsc_hz);
  else json_null(j, "tsc_hz");
  json_str(j, "end", m->end);
  if (h->end_state == WSLA_END_EXIT) json_i64(j, "exit_code", h->exit_code);
  else json_null(j, "exit_code");
  if (h->end_state == WSLA_END_SIGNAL) json_i64(j, "signal", h->end_signal);
  else json_null(j, "signal");
  if (h->end_state == WSLA_END_EXEC) {
    if (m->exec) json_str(j, "exec", m->exec);
    else json_null(j, "exec");
  }
  if (h->end_state != WSLA_END_RUNNING)
    json_fixed(j, "duration_s", h->end_time_ns, 9);
  json_end_obj(j);
}

static void json_environment(struct json *j, const struct rec *r, const struct model *m) {
  json_obj(j, "environment");
  if (m->kernel) json_str(j, "kernel", m->kernel);
  if (m->wsl2 >= 0) json_bool(j, "wsl2", m->wsl2);
  if (m->dev_dxg >= 0) json_bool(j, "dev_dxg", m->dev_dxg);
  if (m->has_memory) json_u64(j, "memory_bytes", m->memory_bytes);
  if (m->has_cuda_driver) json_i64(j, "cuda_driver_version", m->cuda_driver);
  json_arr(j, "gpus");
  for (int g = 0; g < WSLA_ENV_GPUS_MAX; g++) {
    const struct gpu_model *gm = &m->gpus[g];
    if (!gm->present) continue;
    json_obj(j, NULL);
    json_i64(j, "index", g);
    json_str(j, "name", gm->name);
    if (gm->total) json_u64(j, "total_bytes", gm->total);
    json_end_obj(j);
  }
  json_end_arr(j);
  json_arr(j, "gpu_libraries");
  report_gpu_libraries(r, library_json, j);
  json_end_arr(j);
  json_end_obj(j);
}

/* totals, lookups, vmm and by_api: the counters. */
static void json_counts(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_obj(j, "totals");
  json_u64(j, "calls", s->calls);
  json_u64(j, "failed", s->failed);
  json_u64(j, "ooms", s->ooms);
  json_u64(j, "recovered", r->ctr->recovered);
  json_u64(j, "events", r->nevents);
  json_u64(j, "events_lost", r->events_lost);
  json_u64(j, "untracked_frees", r->ctr->untracked_frees);
  json_u64(j, "live_overflow", r->ctr->live_overflow);
  json_u64(j, "live_unlisted", s->unlisted_allocs);
  json_u64(j, "live_unlisted_bytes", s->unlisted_bytes);
  json_end_obj(j);

  json_obj(j, "lookups");
  json_u64(j, "seen", r->ctr->lookups);
  json_u64(j, "wrapped", r->ctr->lookups_wrapped);
  json_end_obj(j);

  json_obj(j, "vmm");
  json_u64(j, "reserved_bytes", r->ctr->vmm_reserved_bytes);
  json_u64(j, "mapped_bytes", r->ctr->vmm_mapped_bytes);
  json_end_obj(j);

  json_obj(j, "by_api");
  for (unsigned i = 0; i < WSLA_API_MAX; i++) {
    const struct wsla_api_counters *a = &r->ctr->api[i];
    if (!a->calls) continue;
    json_obj(j, report_api_name(i, buf, sizeof buf));
    json_u64(j, "calls", a->calls);
    json_u64(j, "failed", a->failed);
    json_u64(j, "bytes", a->bytes);
    json_u64(j, "ooms", a->ooms);
    json_end_obj(j);
  }
  json_end_obj(j);
}

/* Failures other than out-of-memory, each error by its header's name. */
static void json_failures(struct json *j, const struct rec *r, const struct model *m) {
  char buf[256];
  json_arr(j, "failures");
  for (const struct fail_stat *f = m->s.fails; f; f = f->hh.next) {
    json_obj(j, NULL);
    json_str(j, "api", report_api_name(f->key.api, buf, sizeof buf));
    json_i64(j, "code", f->key.result);
    const char *name = api_error_name(f->key.api, f->key.result);
    if (name) json_str(j, "error", name);
    else json_null(j, "error");
    const char *meaning = api_error_meaning(f->key.api, f->key.result);
    if (meaning) json_str(j, "meaning", meaning);
    json_u64(j, "count", f->count);
    json_f64(j, "first_time", seconds(f->first_ns));
    rec_site_name(r, f->first_site, buf, sizeof buf);
    json_str(j, "first_site", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
  json_obj(j, "failures_without_error");
  for (unsigned i = 0; i < WSLA_API_MAX; i++)
    if (m->unexplained[i]) json_u64(j, report_api_name(i, buf, sizeof buf), m->unexplained[i]);
  json_end_obj(j);
}

/* devices, host_pinned and what was in flight at the end. */
static void json_memory(struct json *j, const struct rec *r) {
  json_arr(j, "devices");
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++) {
    const struct wsla_device_counters *d = &r->ctr->dev[i];
    if (!rec_device_used(d)) continue;
    json_obj(j, NULL);
    json_u64(j, "index", i);
    json_u64(j, "total_bytes", d->total_bytes);
    json_u64(j, "free_bytes", d->free_bytes);
    json_u64(j, "live_bytes", d->live_bytes);
    json_u64(j, "live_allocs", d->live_allocs);
    json_u64(j, "peak_bytes", d->peak_bytes);
    json_fixed(j, "peak_time", (int64_t)d->peak_time_ns, 9);
    json_u64(j, "ooms", d->ooms);
    json_end_obj(j);
  }
  json_end_arr(j);

  json_obj(j, "host_pinned");
  json_u64(j, "live_bytes", r->ctr->host_live_bytes);
  json_u64(j, "live_allocs", r->ctr->host_live_allocs);
  json_u64(j, "peak_bytes", r->ctr->host_peak_bytes);
  json_end_obj(j);
  rec_in_flight_json(j, r);
}

/* An OOM's device view: sizes, the largest block and its age. */
static void json_oom_view(struct json *j, const struct wsla_oom *o, const struct oom_model *om) {
  json_u64(j, "free_bytes", o->free_bytes);
  json_u64(j, "total_bytes", o->total_bytes);
  json_u64(j, "own_bytes", o->own_bytes);
  json_u64(j, "own_allocs", o->own_allocs);
  json_u64(j, "foreign_bytes", o->foreign_bytes);
  json_u64(j, "pool_cached_bytes", o->pool_cached);
  json_str(j, "view", view_source(o->view_source));
  if (o->largest_block) {
    json_u64(j, "largest_block_bytes", o->largest_block);
    if (om->has_fragmentation) json_f64(j, "fragmentation", om->fragmentation);
  } else {
    json_null(j, "largest_block_bytes");
    json_null(j, "fragmentation");
  }
  if (o->view_source) json_fixed(j, "view_age_ms", (int64_t)om->view_age_ns, 6);
}

/* What the library did about an OOM: its outcome, cause and recovery steps. */
static void json_oom_recovery(struct json *j, const struct wsla_oom *o) {
  json_str(j, "outcome", o->outcome ? "recovered" : "failed");
  json_str(j, "cause", o->cause == WSLA_CAUSE_LIMIT          ? "limit"
                       : o->cause == WSLA_CAUSE_PINNED_LIMIT ? "pinned_limit"
                                                             : "device");
  if (o->cause) json_u64(j, "budget_bytes", o->budget_bytes);
  json_arr(j, "steps");
  for (unsigned bit = 1; bit <= WSLA_STEP_SPILL; bit <<= 1) {
    if (!((o->steps_tried | o->steps_skipped) & bit)) continue;
    json_obj(j, NULL);
    json_str(j, "name", wsla_step_name(bit));
    json_str(j, "result", o->steps_ok & bit        ? "ok"
                          : o->steps_skipped & bit ? "skipped"
                                                   : "failed");
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_events_before(struct json *j, const struct rec *r, const struct oom_model *om) {
  char buf[256];
  json_arr(j, "events_before");
  for (uint64_t k = om->first_before; k < om->first_before + om->nbefore; k++) {
    const struct wsla_event *e = &r->events[k];
    json_obj(j, NULL);
    json_fixed(j, "time", (int64_t)e->time_ns, 9);
    json_str(j, "type", report_event_type_name(e->type));
    json_i64(j, "device", e->device);
    if (e->type == WSLA_EV_SAMPLE) {
      json_u64(j, "free_bytes", e->addr);
      json_u64(j, "total_bytes", e->size);
      json_end_obj(j);
      continue;
    }
    json_str(j, "api", report_api_name(e->api, buf, sizeof buf));
    json_u64(j, "addr", e->addr);
    json_u64(j, "size", e->size);
    json_u64(j, "tid", e->tid);
    rec_site_name(r, e->site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, e->site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_oom(struct json *j, const struct rec *r, const struct oom_model *om) {
  const struct wsla_oom *o = &r->ooms[om->idx];
  char buf[256];
  json_obj(j, NULL);
  json_fixed(j, "time", (int64_t)o->time_ns, 9);
  json_str(j, "api", report_api_name(o->api, buf, sizeof buf));
  const char *oom_error = api_error_name(o->api, o->result);
  if (oom_error) json_str(j, "error", oom_error);
  json_i64(j, "device", o->device);
  json_u64(j, "size", o->size);
  json_oom_view(j, o, om);
  json_i64(j, "result", o->result);
  json_u64(j, "tid", o->tid);
  rec_site_name(r, o->site, buf, sizeof buf);
  json_str(j, "site", buf);
  rec_site_function(r, o->site, buf, sizeof buf);
  if (buf[0]) json_str(j, "function", buf);
  uint64_t frames[WSLA_STACK_MAX];
  json_frames(j, r, "stack", frames, rec_oom_stack(r, om->idx, frames, WSLA_STACK_MAX));
  json_oom_recovery(j, o);
  others_report_json(j, r, om->idx); /* the other programs on the device */
  json_str(j, "diagnosis", om->diagnosis);
  char fn[512];
  const struct wsla_phase *phase = report_oom_phase(r, om->idx, fn, sizeof fn);
  if (phase) {
    json_obj(j, "phase");
    json_str(j, "what", phase->what);
    json_str(j, "function", fn);
    json_str(j, "fix", phase->fix);
    json_end_obj(j);
  } else {
    json_null(j, "phase");
  }
  json_events_before(j, r, om);
  json_end_obj(j);
}

static void json_sites(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_arr(j, "sites");
  for (const struct site_stat *st = s->sites; st; st = st->hh.next) {
    json_obj(j, NULL);
    rec_site_name(r, st->site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, st->site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_u64(j, "calls", st->calls);
    json_u64(j, "bytes", st->bytes);
    json_u64(j, "live_bytes", st->live_bytes);
    json_u64(j, "peak_live_bytes", st->peak_live_bytes);
    json_u64(j, "device_calls", st->dev_calls);
    json_u64(j, "device_bytes", st->dev_bytes);
    json_u64(j, "pinned_calls", st->host_calls);
    json_u64(j, "pinned_bytes", st->host_bytes);
    json_u64(j, "pinned_live_bytes", st->host_live_bytes);
    json_u64(j, "pinned_peak_live_bytes", st->host_peak_live_bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
}

static void json_purposes(struct json *j, const struct rec *r) {
  struct purposes pu;
  purposes_build(r, &pu);
  json_arr(j, "purposes");
  for (size_t i = 0; i < pu.npurposes; i++) {
    json_obj(j, NULL);
    json_str(j, "label", pu.purposes[i].label);
    json_u64(j, "peak_live_bytes", pu.purposes[i].peak);
    json_u64(j, "at_joint_peak_bytes", pu.purposes[i].at_joint_peak);
    json_u64(j, "live_bytes", pu.purposes[i].live);
    json_u64(j, "allocs", pu.purposes[i].allocs);
    json_u64(j, "bytes", pu.purposes[i].bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
  /* As many stacks as the library ever writes (its 2048); more come only
     from a crafted file, and each would cost 30 frames' names. */
  enum { STACKS_LISTED = 2048 };
  json_arr(j, "stacks");
  for (size_t i = 0; i < pu.nstacks && i < STACKS_LISTED; i++) {
    const struct stack_stat *k = &pu.stacks[i];
    json_obj(j, NULL);
    json_str(j, "purpose", k->label);
    json_u64(j, "peak_live_bytes", k->peak);
    json_u64(j, "live_bytes", k->live);
    json_u64(j, "allocs", k->allocs);
    json_u64(j, "bytes", k->bytes);
    uint64_t frames[WSLA_STACK_MAX];
    json_frames(j, r, "frames", frames, rec_stack(r, k->id, frames, WSLA_STACK_MAX));
    json_end_obj(j);
  }
  json_end_arr(j);
  json_u64(j, "stacks_not_listed", pu.nstacks > STACKS_LISTED ? pu.nstacks - STACKS_LISTED : 0);
  purposes_free(&pu);
}

static void json_leaks(struct json *j, const struct rec *r, const struct summary *s) {
  char buf[256];
  json_arr(j, "leaks");
  for (const struct leak_stat *l = s->leaks; l; l = l->hh.next) {
    json_obj(j, NULL);
    rec_site_name(r, l->key.site, buf, sizeof buf);
    json_str(j, "site", buf);
    rec_site_function(r, l->key.site, buf, sizeof buf);
    if (buf[0]) json_str(j, "function", buf);
    json_str(j, "api", report_api_name(l->key.api, buf, sizeof buf));
    json_str(j, "memory", l->key.host ? "host_pinned" : "device");
    json_i64(j, "device", l->key.device);
    json_u64(j, "allocs", l->allocs);
    json_u64(j, "bytes", l->bytes);
    json_end_obj(j);
  }
  json_end_arr(j);
}

/* What the symbols left unnamed, and the options the process ran with. */
static void json_symbols_options(struct json *j, const struct rec *r) {
  const char *changed[16];
  size_t nchanged = sym_changed_modules(changed, 16);
  json_arr(j, "modules_changed");
  for (size_t i = 0; i < nchanged; i++) json_str(j, NULL, changed[i]);
  json_end_arr(j);
  uint64_t unresolved, unread;
  sym_limits(&unresolved, &unread);
  json_obj(j, "symbols");
  json_u64(j, "sites_not_resolved", unresolved);
  json_u64(j, "module_files_not_read", unread);
  json_end_obj(j);

  json_obj(j, "options");
  char opts[sizeof r->options];
  memcpy(opts, r->options, sizeof opts);
  for (char *line = strtok(opts, "\n"); line; line = strtok(NULL, "\n")) {
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    json_str(j, line, eq + 1);
  }
  json_end_obj(j);
}

void report_print_json(FILE *out, const struct rec *r, const struct model *m) {
  struct json j;
  json_begin(&j, out);
  json_obj(&j, NULL);
  json_process(&j, r, m);
  json_environment(&j, r, m);
  json_counts(&j, r, &m->s);
  json_failures(&j, r, m);
  json_memory(&j, r);
  json_arr(&j, "ooms");
  for (uint64_t i = 0; i < m->nooms; i++) json_oom(&j, r, &m->ooms[i]);
  json_end_arr(&j);
  json_sites(&j, r, &m->s);
  json_purposes(&j, r);
  json_leaks(&j, r, &m->s);
  json_symbols_options(&j, r);
  json_end_obj(&j);
  json_finish(&j);
}

