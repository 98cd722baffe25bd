/* Function names and source lines for call sites, from each module's ELF symbols and DWARF (elfutils libdwfl). */
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

static Dwfl_Module *module_for(const char *path) {
  for (size_t i = 0; i < modules_used; i++)
    if (!strcmp(modules[i].path, path)) return modules[i].mod;
  /* A hostile recording may name a FIFO or a device: only regular files. */
  struct stat st;
  if (modules_used == SYM_MODULES_MAX || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
      access(path, R_OK) != 0)
    return NULL;
  struct sym_module *m = &modules[modules_used++];
  snprintf(m->path, sizeof m->path, "%s", path);
  m->dwfl = dwfl_begin(&callbacks);
  if (!m->dwfl) return NULL;
  /* Base 0: the module's addresses are the file's own virtual addresses,
     which is what a site less its load bias is. */
  m->mod = dwfl_report_elf(m->dwfl, path, path, -1, 0, false);
  dwfl_report_end(m->dwfl, NULL, NULL);
  return m->mod;
}

void sym_close_all(void) {
  for (size_t i = 0; i < modules_used; i++)
    if (modules[i].dwfl) dwfl_end(modules[i].dwfl);
  modules_used = 0;
}

void rec_site_function(const struct rec *r, uint64_t site, char *buf, size_t len) {
  buf[0] = '\0';
  for (uint64_t i = 0; i < r->module_count; i++) {
    const struct wsla_module *m = &r->modules[i];
    if (m->commit != i + 1 || site < m->lo || site >= m->hi) continue;
    char path[sizeof m->path + 1];
    memcpy(path, m->path, sizeof m->path);
    path[sizeof m->path] = '\0';
    Dwfl_Module *mod = path[0] == '/' ? module_for(path) : NULL;
    if (!mod) return;
    /* A site is a return address: the call is the byte before it, which
       lies in the caller even when the callee never returns. */
    Dwarf_Addr addr = site - m->bias - 1;
    GElf_Off offset;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, addr, &offset, &sym, NULL, NULL, NULL);
    if (!name) return;
    int used = snprintf(buf, len, "%s+0x%llx", name, (unsigned long long)(offset + 1));
    Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
    int lineno = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file && lineno > 0 && used > 0 && (size_t)used < len) {
      const char *slash = strrchr(file, '/');
      snprintf(buf + used, len - (size_t)used, " at %s:%d", slash ? slash + 1 : file, lineno);
    }
    return;
  }
}
