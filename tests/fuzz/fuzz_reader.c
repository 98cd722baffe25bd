/* libFuzzer target: any bytes as a recording, through the reader and the whole report, text and JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* Contract: never crashes, never reads out of bounds (ASan and UBSan watch),
   and either refuses with a message or reports what it can read. */
int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  static FILE *sink;
  if (!sink && !(sink = fopen("/dev/null", "w"))) abort();
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, bytes, size);
  struct rec r;
  char err[4400];
  if (rec_open_bytes("fuzz.wsla", copy, size, &r, err, sizeof err) != 0) {
    if (!err[0]) abort(); /* a refusal always says why */
    return 0;
  }
  report_rec(sink, &r, false);
  report_rec(sink, &r, true);
  rec_close(&r);
  return 0;
}
