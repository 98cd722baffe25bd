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
    "  top [-d SECONDS]         live per-process GPU memory, refreshing\n"
    "  doctor [--target PROG]   check WSL2, the driver, GPU and pinned memory\n"
    "  metrics [-o FILE.prom]   live counters in Prometheus' text format\n"
    "  export --format csv|perfetto|memviz [FILE] -o OUT\n"
    "                           for RMM's replay, ui.perfetto.dev, or\n"
    "                           PyTorch's memory_viz\n"
    "  replay FILE [--limit SIZE] [--recover]\n"
    "                           re-run a recording's allocations here\n"
    "  bench [--pinned]         this GPU's allocation latency with and without\n"
    "                           the library, largest block, fragmentation\n"
    "  service [UNIT] [--remove] preload the library into a systemd service\n"
    "                           (ollama, llama-server, vllm)\n"
    "  help options [--markdown] every WSLALLOC_* variable of the library\n"
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

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    fputs(usage, stdout);
    return 0;
  }
  if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "ls")) return cmd_ls(argc - 1, argv + 1);
  if (!strcmp(cmd, "metrics")) return cmd_metrics(argc - 1, argv + 1);
  if (!strcmp(cmd, "top")) return cmd_top(argc - 1, argv + 1);
  if (!strcmp(cmd, "replay")) return cmd_replay(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "export")) return cmd_export(argc - 1, argv + 1);
  if (!strcmp(cmd, "plot")) return cmd_plot(argc - 1, argv + 1);
  if (!strcmp(cmd, "doctor")) return cmd_doctor(argc - 1, argv + 1);
  if (!strcmp(cmd, "service")) return cmd_service(argc - 1, argv + 1);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("wslalloc %s, recording format %u\n", WSLALLOC_VERSION,
           WSLA_FORMAT_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help")) {
    if (argc >= 3 && !strcmp(argv[2], "options"))
      return help_options(argc >= 4 && !strcmp(argv[3], "--markdown"));
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "wslalloc: unknown command '%s'\n%s", cmd, usage);
  return 2;
}
