/* Function names and source lines for call sites, from each module's ELF symbols and DWARF (elfutils libdwfl). */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uthash.h>

#include "rec.h"
#include "utf8.h"

/* One libdwfl session per module file, opened on first use and kept for
   the tool's life: a report asks about the same few modules many times. */
struct sym_module {
  char path[sizeof ((struct wsla_module *)0)->path * 3 + 1]; /* cleaned: U+FFFDs */
  Dwfl *dwfl;
  Dwfl_Module *mod; /* NULL when the file could not be read */
  const unsigned char *build_id; /* the file's, as it is now */
  int build_id_len;              /* 0: none; -1: could not be read */
  bool changed;                  /* a recording's build-id differed */
};

static struct sym_module modules[SYM_MODULES_MAX];
static size_t modules_used;

static const Dwfl_Callbacks callbacks = {
    /* Separate debug info where the distribution installs it
       (/usr/lib/debug, by build-id or .gnu_debuglink). */
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/*
 * What one recording's symbols cost is bounded, whatever the file holds: a
 * hostile one may list 65,536 modules and 65,535 stacks of 30 frames, two
 * million call sites.  Modules are found by address in a sorted index, each
 * distinct site is named once and remembered, and at most SYM_SITES_MAX
 * sites and SYM_MODULES_MAX module files are looked at; what is left over
 * is counted, and the report says so (sym_limits).
 */
/* One range of the index: [lo, hi) lies in module idx. */
struct module_range {
  uint64_t lo, hi, idx;
};

/* A site as named; sym NULL when nothing names it. */
struct site_name {
  uint64_t site;
  struct site_symbol *sym;
  UT_hash_handle hh;
};

/* The recording the index and the names are for: they are made again
   when another one is asked about (ls asks about many in turn). */
static struct {
  const struct rec *r;
  const void *data, *modules;
  uint64_t module_count;
  int32_t pid;
  int64_t start;
} owner;
static struct module_range *ranges;
static size_t nranges;
static struct site_name *names;
static size_t nnames;
static uint64_t sites_unresolved;  /* lookups past SYM_SITES_MAX */
static uint64_t modules_unread;    /* lookups of a file past SYM_MODULES_MAX */

static int range_lo_cmp(const void *pa, const void *pb) {
  const struct module_range *a = pa, *b = pb;
  if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void forget_recording(void) {
  struct site_name *n, *tmp;
  HASH_ITER(hh, names, n, tmp) {
    HASH_DEL(names, n);
    free(n->sym);
    free(n);
  }
  free(ranges);
  ranges = NULL;
  nranges = nnames = 0;
  sites_unresolved = modules_unread = 0;
  memset(&owner, 0, sizeof owner);
}

/* The index of r's written modules by address.  Real modules never
   overlap; where a hostile file's do, an address belongs to the module
   that starts lowest (the later one keeps only what lies past it), so that
   each address has one answer and the ranges stay sorted and apart. */
static void index_recording(const struct rec *r) {
  if (owner.r == r && owner.data == r->data && owner.modules == r->modules &&
      owner.module_count == r->module_count && owner.pid == r->hdr->pid &&
      owner.start == r->hdr->start_realtime_ns)
    return;
  forget_recording();
  owner.r = r, owner.data = r->data, owner.modules = r->modules;
  owner.module_count = r->module_count, owner.pid = r->hdr->pid;
  owner.start = r->hdr->start_realtime_ns;
  if (!r->module_count || !(ranges = malloc(r->module_count * sizeof *ranges))) return;
  for (uint64_t i = 0; i < r->module_count; i++) {
    const struct wsla_module *m = &r->modules[i];
    if (m->commit == i + 1 && m->lo < m->hi)
      ranges[nranges++] = (struct module_range){m->lo, m->hi, i};
  }
  qsort(ranges, nranges, sizeof *ranges, range_lo_cmp);
  size_t kept = 0;
  uint64_t end = 0;
  for (size_t i = 0; i < nranges; i++) {
    struct module_range m = ranges[i];
    if (kept && m.lo < end) m.lo = end;
    if (m.lo >= m.hi) continue;
    ranges[kept++] = m;
    end = m.hi;
  }
  nranges = kept;
}

const struct wsla_module *rec_module_of(const struct rec *r, uint64_t site, char *path,
                                        size_t len) {
  index_recording(r);
  /* The last range that starts at or below the site. */
  size_t lo = 0, hi = nranges;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ranges[mid].lo <= site) lo = mid + 1;
    else hi = mid;
  }
  if (!lo || site >= ranges[lo - 1].hi) return NULL;
  const struct wsla_module *m = &r->modules[ranges[lo - 1].idx];
  utf8_clean(path, len, m->path, sizeof m->path, false);
  return m;
}

void rec_site_name(const struct rec *r, uint64_t site, char *buf, size_t len) {
  char path[sizeof r->modules->path * 3 + 1];
  const struct wsla_module *m = rec_module_of(r, site, path, sizeof path);
  if (!m) {
    snprintf(buf, len, "0x%" PRIx64, site);
    return;
  }
  const char *base = strrchr(path, '/');
  snprintf(buf, len, "%s+0x%" PRIx64, base ? base + 1 : path, site - m->bias);
}

void sym_limits(uint64_t *sites, uint64_t *module_files) {
  *sites = sites_unresolved;
  *module_files = modules_unread;
}

static struct sym_module *module_for(const char *path) {
  for (size_t i = 0; i < modules_used; i++)
    if (!strcmp(modules[i].path, path)) return &modules[i];
  /* A hostile recording may name a FIFO or a device: only regular files. */
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, R_OK) != 0) return NULL;
  if (modules_used == SYM_MODULES_MAX) {
    modules_unread++;
    return NULL;
  }
  struct sym_module *m = &modules[modules_used++];
  snprintf(m->path, sizeof m->path, "%s", path);
  m->dwfl = dwfl_begin(&callbacks);
  if (!m->dwfl) return m;
  /* Base 0: the module's addresses are the file's own virtual addresses,
     which is what a site less its load bias is. */
  m->mod = dwfl_report_elf(m->dwfl, path, path, -1, 0, false);
  dwfl_report_end(m->dwfl, NULL, NULL);
  GElf_Addr where;
  m->build_id_len = m->mod ? dwfl_module_build_id(m->mod, &m->build_id, &where) : -1;
  return m;
}

/* Whether the file is the one the process ran, as far as build-ids tell:
   a module recorded without one (an old recording, or a module built
   without) cannot be told, and is taken as it is. */
static bool same_build(struct sym_module *sm, const struct wsla_module *m) {
  if (!m->build_id_len) return true;
  int recorded = m->build_id_len < WSLA_BUILD_ID_MAX ? m->build_id_len : WSLA_BUILD_ID_MAX;
  int now = sm->build_id_len < (int)WSLA_BUILD_ID_MAX ? sm->build_id_len : (int)WSLA_BUILD_ID_MAX;
  bool same = now == recorded && !memcmp(sm->build_id, m->build_id, (size_t)recorded);
  if (!same) sm->changed = true;
  return same;
}

size_t sym_changed_modules(const char **paths, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < modules_used && n < max; i++)
    if (modules[i].changed) paths[n++] = modules[i].path;
  return n;
}

void sym_close_all(void) {
  for (size_t i = 0; i < modules_used; i++)
    if (modules[i].dwfl) dwfl_end(modules[i].dwfl);
  modules_used = 0;
  forget_recording();
}

/*
 * C++ names as a person reads them (PyTorch's and llama.cpp's call sites are
 * C++), through the C++ runtime's own demangler, the one elfutils' tools
 * use.  Found at run time, so the tool links no C++ library; where there is
 * none, names stay mangled.
 */
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static demangle_fn demangler(void) {
  static bool tried;
  static demangle_fn fn;
  if (!tried) {
    tried = true;
    void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (h) fn = (demangle_fn)dlsym(h, "__cxa_demangle");
  }
  return fn;
}

static void function_name(const char *name, char *out, size_t len) {
  demangle_fn demangle = name[0] == '_' && name[1] == 'Z' ? demangler() : NULL;
  int status = -1;
  char *plain = demangle ? demangle(name, NULL, NULL, &status) : NULL;
  snprintf(out, len, "%s", plain && status == 0 ? plain : name);
  free(plain);
}

static bool site_symbol(const struct rec *r, uint64_t site, struct site_symbol *out) {
  memset(out, 0, sizeof *out);
  char path[sizeof r->modules->path * 3 + 1];
  const struct wsla_module *m = rec_module_of(r, site, path, sizeof path);
  struct sym_module *sm = m && path[0] == '/' ? module_for(path) : NULL;
  if (!sm || !sm->mod || !same_build(sm, m)) return false;
  Dwfl_Module *mod = sm->mod;
  /* A site is a return address: the call is the byte before it, which
     lies in the caller even when the callee never returns. */
  Dwarf_Addr addr = site - m->bias - 1;
  GElf_Off offset;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(mod, addr, &offset, &sym, NULL, NULL, NULL);
  if (!name) return false;
  /* The module file's names are input too: clean text only. */
  char plain[sizeof out->function];
  function_name(name, plain, sizeof plain);
  utf8_clean(out->function, sizeof out->function, plain, sizeof plain, false);
  out->offset = offset + 1;
  Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
  const char *file = line ? dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL) : NULL;
  if (file && out->line > 0) {
    const char *slash = strrchr(file, '/');
    slash = slash ? slash + 1 : file;
    utf8_clean(out->file, sizeof out->file, slash, strlen(slash), false);
  } else {
    out->line = 0;
  }
  return true;
}

bool rec_site_symbol(const struct rec *r, uint64_t site, struct site_symbol *out) {
  index_recording(r);
  struct site_name *n;
  HASH_FIND(hh, names, &site, sizeof site, n);
  if (!n) {
    if (nnames == SYM_SITES_MAX || !(n = calloc(1, sizeof *n))) {
      sites_unresolved++;
      memset(out, 0, sizeof *out);
      return false;
    }
    n->site = site;
    if (site_symbol(r, site, out) && (n->sym = malloc(sizeof *n->sym))) *n->sym = *out;
    HASH_ADD(hh, names, site, sizeof n->site, n);
    nnames++;
  }
  if (!n->sym) {
    memset(out, 0, sizeof *out);
    return false;
  }
  *out = *n->sym;
  return true;
}

void rec_site_function(const struct rec *r, uint64_t site, char *buf, size_t len) {
  struct site_symbol sym;
  if (!rec_site_symbol(r, site, &sym)) {
    buf[0] = '\0';
    return;
  }
  if (sym.line)
    snprintf(buf, len, "%s+0x%llx at %s:%d", sym.function, sym.offset, sym.file, sym.line);
  else
    snprintf(buf, len, "%s+0x%llx", sym.function, sym.offset);
}
