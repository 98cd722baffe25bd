/* wslalloc: the command that reads the recordings libwslalloc writes. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- CMD     run CMD with the library preloaded, then\n"
    "                           summarise its recording\n"
    "  report [--json] [FILE]   explain a recording (default: the newest)\n"
    "  plot [FILE] -o OUT.svg|OUT.html\n"
    "                           device memory over time, OOMs marked\n"
    "  ls [--json]              the recordings, their state, peak and OOMs\n"
    "  top [-d SECONDS] [-n COUNT]\n"
    "                           live per-process GPU memory, refreshing\n"
    "  doctor [--target PROG] [--pinned]\n"
    "                           check WSL2, the driver, the GPUs, room for\n"
    "                           recordings; pinned memory with --pinned\n"
    "  metrics [-o FILE.prom]   live counters in Prometheus' text format\n"
    "  export --format csv|perfetto|memviz [FILE] -o OUT\n"
    "                           for RMM's replay, ui.perfetto.dev, or\n"
    "                           PyTorch's memory_viz\n"
    "  replay FILE [--limit SIZE] [--recover] [--json]\n"
    "                           re-run a recording's allocations here\n"
    "  bench [--pinned]         this GPU's allocation latency with and without\n"
    "                           the library, largest block, fragmentation\n"
    "  service [UNIT] [--remove]\n"
    "                           preload the library into a systemd service\n"
    "                           (ollama, llama-server, vllm)\n"
    "  help options [--markdown]\n"
    "                           every WSLALLOC_* variable of the library\n"
    "  help COMMAND             the same as wslalloc COMMAND --help\n"
    "  version                  the version and recording format\n"
    "\n"
    "Record a program with LD_PRELOAD=libwslalloc.so PROGRAM ...\n"
    "`wslalloc COMMAND --help` describes each command.\n";

static int help_options(bool markdown) {
  if (markdown) {
    printf("| variable | default | unit | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < wsla_option_count; i++) {
      const struct wsla_option_desc *o = &wsla_option_table[i];
      printf("| `%s` | %s | %s | %s |\n", o->name, *o->def ? o->def : "(empty)",
             o->unit, o->doc);
    }
    return 0;
  }
  printf("%-22s %-10s %-12s %s\n", "variable", "default", "unit", "meaning");
  for (size_t i = 0; i < wsla_option_count; i++) {
    const struct wsla_option_desc *o = &wsla_option_table[i];
    printf("%-22s %-10s %-12s %s\n", o->name, *o->def ? o->def : "(empty)",
           o->unit, o->doc);
  }
  return 0;
}

/* The commands, by name: "help CMD" and the dispatch share the list. */
static const struct {
  const char *name;
  int (*fn)(int, char **);
} commands[] = {
    {"report", cmd_report}, {"run", cmd_run},         {"ls", cmd_ls},
    {"metrics", cmd_metrics}, {"top", cmd_top},       {"replay", cmd_replay},
    {"bench", cmd_bench},   {"export", cmd_export},   {"plot", cmd_plot},
    {"doctor", cmd_doctor}, {"service", cmd_service},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

/* help, help CMD, help options [--markdown]. */
static int help(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(usage, stdout);
    return 0;
  }
  if (!strcmp(argv[1], "options")) {
    bool markdown = false;
    for (int i = 2; i < argc; i++) {
      if (!strcmp(argv[i], "--markdown")) markdown = true;
      else return tool_usage_error("help", "options takes only --markdown, not '%s'", argv[i]);
    }
    return help_options(markdown);
  }
  if (argc > 2) return tool_usage_error("help", "one topic, not '%s' too", argv[2]);
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(argv[1], commands[i].name)) {
      char *args[] = {argv[1], "--help", NULL};
      return commands[i].fn(2, args);
    }
  return tool_usage_error("help", "no help on '%s': a command's name or 'options'", argv[1]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "wslalloc: no command given\ntry 'wslalloc --help'\n");
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    fputs(usage, stdout);
    return 0;
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(cmd, commands[i].name)) {
      tool_cmd = commands[i].name;
      return commands[i].fn(argc - 1, argv + 1);
    }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
      printf("usage: wslalloc version\n\nThe version of wslalloc and of the recording format it writes.\n");
      return 0;
    }
    if (argc > 2) return tool_usage_error("version", "takes no arguments, not '%s'", argv[2]);
    printf("wslalloc %s, recording format %u\n", WSLALLOC_VERSION,
           WSLA_FORMAT_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help")) return help(argc - 1, argv + 1);
  fprintf(stderr, "wslalloc: unknown command '%s'\ntry 'wslalloc --help'\n", cmd);
  return 2;
}
