/* libFuzzer target: any bytes, after a selector byte, as a recording or an RMM log, through every other command that reads one: the exports, the plot, replay, ls, top and metrics. */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* Each command as a person would run it, on the input written to a file
   in a folder of its own (the recordings folder of ls, top and metrics);
   what they print goes to /dev/null.  Contract: no crash, no undefined
   behaviour (ASan and UBSan watch), no hang. */
enum { CSV, PERFETTO, PERFETTO_WINDOW, MEMVIZ, SVG, HTML, REPLAY, REPLAY_RMM, LS, LS_JSON, TOP,
       METRICS, SELECTORS };

static char dir[64], rec_path[128], csv_path[128], svg_path[128], html_path[128];

/* The folder and what the commands wrote there go when the run ends. */
static void clean_up(void) {
  const char *const files[] = {rec_path, csv_path, svg_path, html_path};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(files[i]);
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/wsla-fuzz-XXXXXX");
  if (!mkdtemp(dir)) abort();
  snprintf(rec_path, sizeof rec_path, "%s/fuzz.wsla", dir);
  snprintf(csv_path, sizeof csv_path, "%s/fuzz.csv", dir);
  snprintf(svg_path, sizeof svg_path, "%s/out.svg", dir);
  snprintf(html_path, sizeof html_path, "%s/out.html", dir);
  atexit(clean_up);
  setenv("WSLALLOC_DIR", dir, 1);
  if (!freopen("/dev/null", "w", stdout)) abort();
  /* replay's runtime: the fake one built beside this program, loaded
     first so that replay's dlopen("libcudart.so.13") finds it. */
  char self[PATH_MAX], lib[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) abort();
  self[n] = '\0';
  snprintf(lib, sizeof lib, "%s/libcudart.so.13", dirname(self));
  if (!dlopen(lib, RTLD_NOW | RTLD_GLOBAL)) {
    fprintf(stderr, "fuzz_tools: %s\n", dlerror());
    abort();
  }
}

static int run(int (*cmd)(int, char **), const char *const *args) {
  char *argv[16];
  int argc = 0;
  while (args[argc] && argc < 15) argv[argc] = (char *)args[argc], argc++;
  argv[argc] = NULL;
  int rc = cmd(argc, argv);
  fflush(stdout);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  static bool ready;
  if (!ready) setup(), ready = true;
  if (size < 1) return 0;
  unsigned sel = bytes[0] % SELECTORS;
  const char *path = sel == REPLAY_RMM ? csv_path : rec_path;
  unlink(rec_path), unlink(csv_path);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0) abort();
  switch (sel) {
  case CSV: run(cmd_export, (const char *[]){"export", "--format", "csv", path, "-o", "/dev/null", NULL}); break;
  case PERFETTO: run(cmd_export, (const char *[]){"export", "--format", "perfetto", path, "-o", "/dev/null", NULL}); break;
  case PERFETTO_WINDOW:
    run(cmd_export, (const char *[]){"export", "--format", "perfetto", "--all-points", "--from", "0.001",
                                     "--to", "2", path, "-o", "/dev/null", NULL});
    break;
  case MEMVIZ: run(cmd_export, (const char *[]){"export", "--format", "memviz", path, "-o", "/dev/null", NULL}); break;
  case SVG: run(cmd_plot, (const char *[]){"plot", path, "-o", svg_path, NULL}); break;
  case HTML: run(cmd_plot, (const char *[]){"plot", path, "-o", html_path, "--from", "0.001", NULL}); break;
  case REPLAY: run(cmd_replay, (const char *[]){"replay", "--json", path, NULL}); break;
  case REPLAY_RMM: run(cmd_replay, (const char *[]){"replay", "--failures", "reproduce", path, NULL}); break;
  case LS: run(cmd_ls, (const char *[]){"ls", NULL}); break;
  case LS_JSON: run(cmd_ls, (const char *[]){"ls", "--json", NULL}); break;
  case TOP: run(cmd_top, (const char *[]){"top", "-n", "1", NULL}); break;
  case METRICS: run(cmd_metrics, (const char *[]){"metrics", "--all", NULL}); break;
  }
  sym_close_all();
  return 0;
}
