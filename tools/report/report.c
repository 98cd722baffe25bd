/* wslalloc report: what a recording says, for people (text) and programs (JSON). */
#include <getopt.h>
#include <stdio.h>

#include "report.h"

static const char *const usage =
    "usage: wslalloc report [--json] [FILE]\n"
    "\n"
    "Explains a recording: how the process ended, its device and pinned\n"
    "memory, every out-of-memory failure with the device's state at that\n"
    "moment, its callers and what the program was doing (llama.cpp's weights,\n"
    "KV cache or compute buffers; PyTorch's allocator), every other failed\n"
    "call by its error's name and what it means, the busiest call sites\n"
    "(device and pinned memory apart), what the large allocations were for\n"
    "by their stacks, and what was still allocated at the end.\n"
    "FILE defaults to the newest recording in WSLALLOC_DIR.\n"
    "\n"
    "  --json     machine-readable output\n"
    "  -h, --help this text\n";

int cmd_report(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
  bool as_json = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
    if (c == 'j') as_json = true;
    else if (c == 'h') {
      fputs(usage, stdout);
      return 0;
    } else return tool_bad_option("report", c, argc, argv);
  }
  struct rec r;
  int rc = tool_open_recording("report", argc, argv, optind, &r);
  if (rc) return rc;
  struct model m;
  report_model_build(&r, &m);
  if (as_json) report_print_json(stdout, &r, &m);
  else report_print_text(stdout, &r, &m);
  report_model_free(&m);
  rec_close(&r);
  sym_close_all();
  return 0;
}

void report_rec(FILE *out, const struct rec *r, bool as_json) {
  struct model m;
  report_model_build(r, &m);
  if (as_json) report_print_json(out, r, &m);
  else report_print_text(out, r, &m);
  report_model_free(&m);
}

int report_text(FILE *out, const char *path, char *err, size_t errlen) {
  struct rec r;
  if (rec_open(path, &r, err, errlen) != 0) return -1;
  struct model m;
  report_model_build(&r, &m);
  report_print_text(out, &r, &m);
  report_model_free(&m);
  rec_close(&r);
  return 0;
}
