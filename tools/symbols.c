/* Function names and source lines for call sites, from each module's ELF symbols and DWARF (elfutils libdwfl). */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

/* One libdwfl session per module file, opened on first use and kept for
   the tool's life: a report asks about the same few modules many times. */
struct sym_module {
  char path[sizeof ((struct wsla_module *)0)->path + 1];
  Dwfl *dwfl;
  Dwfl_Module *mod; /* NULL when the file could not be read */
  const unsigned char *build_id; /* the file's, as it is now */
  int build_id_len;              /* 0: none; -1: could not be read */
  bool changed;                  /* a recording's build-id differed */
};

#define SYM_MODULES_MAX 256
static struct sym_module modules[SYM_MODULES_MAX];
static size_t modules_used;

static const Dwfl_Callbacks callbacks = {
    /* Separate debug info where the distribution installs it
       (/usr/lib/debug, by build-id or .gnu_debuglink). */
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static struct sym_module *module_for(const char *path) {
  for (size_t i = 0; i < modules_used; i++)
    if (!strcmp(modules[i].path, path)) return &modules[i];
  /* A hostile recording may name a FIFO or a device: only regular files. */
  struct stat st;
  if (modules_used == SYM_MODULES_MAX || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
      access(path, R_OK) != 0)
    return NULL;
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

bool rec_site_symbol(const struct rec *r, uint64_t site, struct site_symbol *out) {
  memset(out, 0, sizeof *out);
  char path[sizeof r->modules->path + 1];
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
  function_name(name, out->function, sizeof out->function);
  out->offset = offset + 1;
  Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
  const char *file = line ? dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL) : NULL;
  if (file && out->line > 0) {
    const char *slash = strrchr(file, '/');
    snprintf(out->file, sizeof out->file, "%s", slash ? slash + 1 : file);
  } else {
    out->line = 0;
  }
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
