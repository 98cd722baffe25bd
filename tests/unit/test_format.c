/* Unit test of the figures the tools print: sizes (fmt_size), plural() and JSON's fixed-point numbers. */
#include "tool.h"
#include "unit.h"

static const char *size(uint64_t bytes) {
  static char buf[32];
  return fmt_size(bytes, buf, sizeof buf);
}

static void test_fmt_size(void) {
  /* Bytes below 1 KiB, whole. */
  CHECK_STR(size(0), "0 B");
  CHECK_STR(size(1), "1 B");
  CHECK_STR(size(1023), "1023 B");
  /* KiB with one decimal, from exactly 1024. */
  CHECK_STR(size(1024), "1.0 KiB");
  CHECK_STR(size(1536), "1.5 KiB");
  CHECK_STR(size(10 * 1024 + 51), "10.0 KiB"); /* 10.0498 rounds down */
  CHECK_STR(size(10 * 1024 + 52), "10.1 KiB"); /* 10.0508 rounds up */
  /* A figure that would round to 1024 of a unit is the next unit's. */
  CHECK_STR(size((1 << 20) - 1), "1.0 MiB");
  CHECK_STR(size(1023 * 1024 + 972), "1023.9 KiB"); /* 1023.949 */
  CHECK_STR(size(1023 * 1024 + 973), "1.0 MiB");    /* 1023.950 */
  /* MiB with one decimal, from exactly 1 MiB. */
  CHECK_STR(size(1 << 20), "1.0 MiB");
  CHECK_STR(size(512ull << 20), "512.0 MiB");
  CHECK_STR(size((512ull << 20) + (1 << 19)), "512.5 MiB");
  CHECK_STR(size((1ull << 30) - 1), "1.00 GiB");
  /* GiB with two decimals, from exactly 1 GiB, with no larger unit. */
  CHECK_STR(size(1ull << 30), "1.00 GiB");
  CHECK_STR(size((1ull << 30) + (1ull << 30) / 4), "1.25 GiB");
  CHECK_STR(size(7ull << 30 | 1ull << 29), "7.50 GiB");
  CHECK_STR(size(24ull << 30), "24.00 GiB");
  CHECK_STR(size(1ull << 40), "1024.00 GiB");
  CHECK_STR(size(UINT64_MAX), "17179869184.00 GiB");
  /* A short buffer is cut, still terminated. */
  char tiny[5];
  CHECK_STR(fmt_size(512ull << 20, tiny, sizeof tiny), "512.");
}

static void test_plural(void) {
  CHECK_STR(plural(0, "allocation", "allocations"), "allocations");
  CHECK_STR(plural(1, "allocation", "allocations"), "allocation");
  CHECK_STR(plural(2, "allocation", "allocations"), "allocations");
  CHECK_STR(plural(UINT64_MAX, "free", "frees"), "frees");
}

static const char *fixed(int64_t v, int decimals) {
  static char buf[48];
  json_fixed_text(buf, sizeof buf, v, decimals);
  return buf;
}

static void test_json_fixed(void) {
  CHECK_STR(fixed(0, 3), "0");
  CHECK_STR(fixed(1500, 3), "1.5");
  CHECK_STR(fixed(2000, 3), "2");
  CHECK_STR(fixed(5, 3), "0.005");
  CHECK_STR(fixed(-2500, 3), "-2.5");
  CHECK_STR(fixed(1234567891, 9), "1.234567891");
  CHECK_STR(fixed(1000000000, 9), "1");
  CHECK_STR(fixed(42, 0), "42");
  CHECK_STR(fixed(INT64_MIN, 0), "-9223372036854775808");
  CHECK_STR(fixed(INT64_MAX, 9), "9223372036.854775807");
}

int main(void) {
  test_fmt_size();
  test_plural();
  test_json_fixed();
  return unit_done();
}
