/* export --format memviz: a pickle in the snapshot format PyTorch's memory_viz page reads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "export.h"
#include "utf8.h"

/* --- A pickle, protocol 4, in the opcodes PyTorch's memory_viz page reads
   (it cannot read protocol 5, nor memo-free framing it does not know). --- */
enum {
  PK_PROTO = 0x80, PK_STOP = '.', PK_MARK = '(', PK_EMPTY_DICT = '}',
  PK_EMPTY_LIST = ']', PK_SETITEMS = 'u', PK_APPENDS = 'e', PK_BININT = 'J',
  PK_LONG1 = 0x8a, PK_SHORT_BINUNICODE = 0x8c, PK_BINUNICODE = 'X',
  PK_NEWTRUE = 0x88, PK_NEWFALSE = 0x89, PK_TUPLE2 = 0x86,
};
/* Python batches APPENDS by 1000; so do we: the page spreads each batch
   into a call, and a call takes only so many arguments. */
#define PK_BATCH 1000

static void pk_str(FILE *o, const char *raw) {
  /* Python reads these as UTF-8 and refuses an ill-formed one. */
  char s[4096];
  size_t n = utf8_clean(s, sizeof s, raw, strlen(raw), true);
  if (n < 256) {
    fputc(PK_SHORT_BINUNICODE, o);
    fputc((int)n, o);
  } else {
    fputc(PK_BINUNICODE, o);
    for (int i = 0; i < 4; i++) fputc((int)(n >> (8 * i)) & 0xff, o);
  }
  fwrite(s, 1, n, o);
}

static void pk_int(FILE *o, int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) {
    fputc(PK_BININT, o);
    for (int i = 0; i < 4; i++) fputc((int)((uint32_t)v >> (8 * i)) & 0xff, o);
    return;
  }
  /* LONG1: little-endian two's complement, as few bytes as keep the sign. */
  int n = 1;
  while (n < 8 && !(v >= -(INT64_C(1) << (8 * n - 1)) && v < (INT64_C(1) << (8 * n - 1)))) n++;
  fputc(PK_LONG1, o);
  fputc(n, o);
  for (int i = 0; i < n; i++) fputc((int)(((uint64_t)v >> (8 * i)) & 0xff), o);
}

static void pk_key_str(FILE *o, const char *k, const char *v) { pk_str(o, k), pk_str(o, v); }
static void pk_key_int(FILE *o, const char *k, int64_t v) { pk_str(o, k), pk_int(o, v); }
static void pk_dict(FILE *o) { fputc(PK_EMPTY_DICT, o), fputc(PK_MARK, o); }
static void pk_dict_end(FILE *o) { fputc(PK_SETITEMS, o); }
static void pk_list(FILE *o) { fputc(PK_EMPTY_LIST, o), fputc(PK_MARK, o); }
static void pk_list_end(FILE *o) { fputc(PK_APPENDS, o); }
/* Between items of a list: a new batch every PK_BATCH. */
static void pk_list_next(FILE *o, uint64_t *items) {
  if (++*items % PK_BATCH == 0) fputc(PK_APPENDS, o), fputc(PK_MARK, o);
}

/* The one frame a site gives: the function and line where the module's
   symbols say, else module+offset. */
/* "frames": one per site, innermost first, as PyTorch writes them. */
static void pk_stack(FILE *o, const struct rec *r, const uint64_t *sites, size_t n) {
  pk_str(o, "frames");
  pk_list(o);
  for (size_t i = 0; i < n; i++) {
    char where[256];
    rec_site_name(r, sites[i], where, sizeof where);
    struct site_symbol sym;
    bool named = rec_site_symbol(r, sites[i], &sym);
    pk_dict(o);
    pk_key_str(o, "filename", named && sym.line ? sym.file : where);
    pk_key_int(o, "line", named ? sym.line : 0);
    pk_key_str(o, "name", named ? sym.function : where);
    pk_dict_end(o);
  }
  pk_list_end(o);
}

static void pk_frames(FILE *o, const struct rec *r, uint64_t site) { pk_stack(o, r, &site, 1); }

static void pk_trace_entry(FILE *o, const struct rec *r, const char *action,
                           const struct wsla_event *e, uint64_t addr, uint64_t size) {
  pk_dict(o);
  pk_key_str(o, "action", action);
  pk_key_int(o, "addr", (int64_t)addr);
  pk_key_int(o, "size", (int64_t)size);
  pk_key_int(o, "stream", 0);
  pk_key_int(o, "time_us", export_wall_ns(r, e->time_ns) / 1000);
  uint64_t stack[WSLA_STACK_MAX];
  size_t depth = 0;
  if (e->type == WSLA_EV_OOM && e->aux < r->oom_count && r->ooms[e->aux].commit == e->aux + 1) {
    pk_key_int(o, "device_free", (int64_t)r->ooms[e->aux].free_bytes);
    depth = rec_oom_stack(r, e->aux, stack, WSLA_STACK_MAX);
  } else if (e->type == WSLA_EV_ALLOC) {
    depth = rec_stack(r, e->aux, stack, WSLA_STACK_MAX); /* a large one's, where kept */
  }
  if (depth) pk_stack(o, r, stack, depth); /* where the program was */
  else pk_frames(o, r, e->site);
  pk_dict_end(o);
}

static void pk_segment(FILE *out, const struct rec *r, int device, uint64_t addr, uint64_t size,
                       uint64_t site, uint64_t stack_id, bool expandable) {
  pk_dict(out);
  pk_key_int(out, "device", device);
  pk_key_int(out, "address", (int64_t)addr);
  pk_key_int(out, "total_size", (int64_t)size);
  pk_key_int(out, "allocated_size", (int64_t)size);
  pk_key_int(out, "active_size", (int64_t)size);
  pk_key_int(out, "requested_size", (int64_t)size);
  pk_key_int(out, "stream", 0);
  pk_key_str(out, "segment_type", "large");
  pk_str(out, "segment_pool_id");
  pk_int(out, 0), pk_int(out, 0), fputc(PK_TUPLE2, out);
  pk_str(out, "is_expandable");
  fputc(expandable ? PK_NEWTRUE : PK_NEWFALSE, out);
  pk_str(out, "frames");
  pk_list(out), pk_list_end(out);
  pk_str(out, "blocks");
  pk_list(out);
  pk_dict(out);
  pk_key_int(out, "address", (int64_t)addr);
  pk_key_int(out, "size", (int64_t)size);
  pk_key_int(out, "requested_size", (int64_t)size);
  pk_key_str(out, "state", "active_allocated");
  uint64_t stack[WSLA_STACK_MAX];
  size_t depth = rec_stack(r, stack_id, stack, WSLA_STACK_MAX);
  if (depth) pk_stack(out, r, stack, depth);
  else pk_frames(out, r, site);
  pk_dict_end(out);
  pk_list_end(out);
  pk_dict_end(out);
}

/* A VMM mapping the kept events show as still in place at the end. */
struct mapping {
  uint64_t va, size, site;
  int16_t device;
  UT_hash_handle hh;
};

static void mapping_drop(struct mapping **all, struct mapping *m) {
  HASH_DEL(*all, m);
  free(m);
}

/* The mappings in place at the end, as far as the kept events tell: a
   mapping whose cuMemMap left the ring is not known. */
static struct mapping *mappings_at_end(const struct rec *r) {
  struct mapping *all = NULL, *m, *tmp;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->type == WSLA_EV_MAP && e->device >= 0 && e->device < (int)WSLA_DEVICE_MAX) {
      HASH_FIND(hh, all, &e->addr, sizeof e->addr, m);
      if (m) mapping_drop(&all, m);
      if (!(m = calloc(1, sizeof *m))) break;
      *m = (struct mapping){.va = e->addr, .size = e->size, .site = e->site, .device = e->device};
      HASH_ADD(hh, all, va, sizeof m->va, m);
    } else if (e->type == WSLA_EV_UNMAP) {
      HASH_FIND(hh, all, &e->addr, sizeof e->addr, m);
      if (m && m->size <= e->size) {
        mapping_drop(&all, m);
      } else {
        HASH_ITER(hh, all, m, tmp) {
          if (m->va >= e->addr && m->va + m->size <= e->addr + e->size) mapping_drop(&all, m);
        }
      }
    }
  }
  return all;
}

/* Each device allocation is a segment with one block that fills it: what
   cudaMalloc hands out is what the device gives, with no caching allocator
   between.  VMM memory shows where it is mapped, each mapping an
   expandable segment (PyTorch's own kind for memory built this way), since
   a physical handle has no address.  Trace actions follow PyTorch's order
   for a segment's life. */
static void write_memviz(FILE *out, const struct rec *r, const struct export_opts *o) {
  struct export_progress pg = {r->nevents, r->nevents / 10};
  int devices = 1;
  for (uint64_t i = 0; i < r->nevents; i++)
    if (export_device_event(&r->events[i]) && r->events[i].device + 1 > devices)
      devices = r->events[i].device + 1;
  fputc(PK_PROTO, out);
  fputc(4, out);
  pk_dict(out);

  pk_str(out, "segments");
  pk_list(out);
  uint64_t items = 0;
  for (uint64_t i = 0; i < r->live_count; i++) {
    const struct wsla_live *l = &r->live[i];
    if (!l->commit || l->device < 0 || l->device >= (int)WSLA_DEVICE_MAX ||
        (l->flags & (WSLA_F_HOST | WSLA_F_VMM)))
      continue;
    pk_segment(out, r, l->device, l->addr, l->size, l->site, l->stack, false);
    pk_list_next(out, &items);
  }
  struct mapping *mapped = mappings_at_end(r), *m, *tmp;
  HASH_ITER(hh, mapped, m, tmp) {
    pk_segment(out, r, m->device, m->va, m->size, m->site, 0, true);
    pk_list_next(out, &items);
    mapping_drop(&mapped, m);
  }
  pk_list_end(out);

  pk_str(out, "device_traces");
  pk_list(out);
  for (int dev = 0; dev < devices; dev++) {
    pk_list(out);
    items = 0;
    for (uint64_t i = 0; i < r->nevents; i++) {
      if (dev == 0) export_tick(&pg, i);
      const struct wsla_event *e = &r->events[i];
      if (e->time_ns > o->until_ns) break;
      if (e->time_ns < o->from_ns) continue;
      if (e->device != dev || (e->flags & WSLA_F_HOST)) continue;
      bool vmm = e->flags & WSLA_F_VMM;
      if (e->type == WSLA_EV_ALLOC && !vmm && e->addr) {
        pk_trace_entry(out, r, "segment_alloc", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "alloc", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_FREE && !vmm && e->addr && e->size) {
        pk_trace_entry(out, r, "free_requested", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "free_completed", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "segment_free", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_MAP) {
        /* The mapping is in use from here: the client's own allocator
           hands it out, unseen. */
        pk_trace_entry(out, r, "segment_map", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "alloc", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_UNMAP) {
        pk_trace_entry(out, r, "free_requested", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "free_completed", e, e->addr, e->size), pk_list_next(out, &items);
        pk_trace_entry(out, r, "segment_unmap", e, e->addr, e->size), pk_list_next(out, &items);
      } else if (e->type == WSLA_EV_OOM) {
        pk_trace_entry(out, r, "oom", e, 0, e->size), pk_list_next(out, &items);
      }
    }
    pk_list_end(out);
  }
  pk_list_end(out);

  pk_str(out, "allocator_settings");
  pk_dict(out);
  pk_key_str(out, "recorded_by", "libwslalloc (LD_PRELOAD), one segment per device allocation");
  pk_key_str(out, "process", r->exe);
  pk_dict_end(out);
  pk_dict_end(out);
  fputc(PK_STOP, out);
}

const struct exporter export_memviz = {"memviz", write_memviz};
