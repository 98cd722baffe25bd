/* Unit test of option parsing (shim/options.c): every type, its bounds, bad values and the profile. */
#include <stdlib.h>

#include "unit.h"
#include "wslalloc/options.h"

/* What wsla_options_load said about bad values. */
static int warned;
static char last_warning[400];
static void warn(const char *msg) {
  warned++;
  snprintf(last_warning, sizeof last_warning, "%s", msg);
}

static void clear_env(void) {
  for (size_t i = 0; i < wsla_option_count; i++) unsetenv(wsla_option_table[i].name);
}

static struct wsla_options opts;

/* Loads with only NAME=value set; how many warnings. */
static int load_one(const char *name, const char *value) {
  clear_env();
  if (name) setenv(name, value, 1);
  warned = 0;
  last_warning[0] = '\0';
  wsla_options_load(&opts, warn);
  return warned;
}

/* NAME=value is read as want, without a warning. */
#define GOOD(name, value, field, want)                                         \
  do {                                                                         \
    CHECK_U64(load_one(name, value), 0);                                       \
    CHECK(opts.field.num == (uint64_t)(want), "%s=%s read as %" PRIu64 ", want %" PRIu64, name, \
          value, opts.field.num, (uint64_t)(want));                            \
  } while (0)

/* NAME=value is refused: one warning, naming it, and the default kept. */
#define BAD(name, value, field, def)                                           \
  do {                                                                         \
    CHECK_U64(load_one(name, value), 1);                                       \
    CHECK_HAS(last_warning, name "=\"");                                       \
    CHECK_HAS(last_warning, "keeping the default");                            \
    CHECK(opts.field.num == (uint64_t)(def), "%s=%s keeps %" PRIu64 ", want %" PRIu64, name, \
          value, opts.field.num, (uint64_t)(def));                             \
  } while (0)

static void test_defaults(void) {
  CHECK_U64(load_one(NULL, NULL), 0);
  CHECK_U64(opts.keep.num, 10);
  CHECK_U64(opts.record.num, 1);
  CHECK_U64(opts.events.num, 262144);
  CHECK_U64(opts.live_slots.num, 65536);
  CHECK_U64(opts.sample_ms.num, 100);
  CHECK_U64(opts.stacks.num, 16 << 20);
  CHECK_U64(opts.quiet.num, 0);
  CHECK_U64(opts.limit.num, 0);
  CHECK_U64(opts.retry_ms.num, 2000);
  CHECK_U64(opts.stitch.num, WSLA_STITCH_ON);
  CHECK_U64(opts.stitch_min.num, 64 << 20);
  CHECK_U64(opts.probe.num, 1);
  CHECK_U64(opts.vmm.num, WSLA_VMM_ON);
  CHECK_U64(opts.others.num, WSLA_OTHERS_MODE_AUTO);
  CHECK_U64(opts.profile.num, WSLA_PROFILE_NONE);
  CHECK_STR(opts.dir.str, "");
}

static void test_bool(void) {
  const char *on[] = {"1", "on", "yes", "true", "ON", "Yes", "TRUE"};
  const char *off[] = {"0", "off", "no", "false", "OFF", "No"};
  for (size_t i = 0; i < sizeof on / sizeof *on; i++) GOOD("WSLALLOC_QUIET", on[i], quiet, 1);
  for (size_t i = 0; i < sizeof off / sizeof *off; i++) GOOD("WSLALLOC_RECORD", off[i], record, 0);
  BAD("WSLALLOC_RECORD", "2", record, 1);
  BAD("WSLALLOC_RECORD", "", record, 1);
  BAD("WSLALLOC_RECORD", "onn", record, 1);
  BAD("WSLALLOC_QUIET", " 1", quiet, 0);
  CHECK_HAS(last_warning, "is not 0 or 1 (off or on)");
}

static void test_size(void) {
  GOOD("WSLALLOC_LIMIT", "0", limit, 0);
  GOOD("WSLALLOC_LIMIT", "1000", limit, 1000);
  GOOD("WSLALLOC_LIMIT", "1K", limit, 1024);
  GOOD("WSLALLOC_LIMIT", "3k", limit, 3072);
  GOOD("WSLALLOC_LIMIT", "2M", limit, 2 << 20);
  GOOD("WSLALLOC_LIMIT", "3G", limit, 3ull << 30);
  GOOD("WSLALLOC_LIMIT", "4GiB", limit, 4ull << 30);
  GOOD("WSLALLOC_LIMIT", "5gb", limit, 5ull << 30);
  GOOD("WSLALLOC_LIMIT", "1T", limit, 1ull << 40);
  GOOD("WSLALLOC_LIMIT", "1024T", limit, 1ull << 50); /* the bound itself */
  BAD("WSLALLOC_LIMIT", "1025T", limit, 0);           /* past it */
  BAD("WSLALLOC_LIMIT", "1125899906842625", limit, 0);
  GOOD("WSLALLOC_LIMIT", "1125899906842624", limit, 1ull << 50);
  BAD("WSLALLOC_LIMIT", "16777216T", limit, 0);       /* 2^64: overflows the shift */
  BAD("WSLALLOC_LIMIT", "18446744073709551616", limit, 0); /* overflows strtoull */
  BAD("WSLALLOC_LIMIT", "1.5G", limit, 0);
  BAD("WSLALLOC_LIMIT", "-1", limit, 0);
  BAD("WSLALLOC_LIMIT", "12X", limit, 0);
  BAD("WSLALLOC_LIMIT", "1GG", limit, 0);
  BAD("WSLALLOC_LIMIT", "G", limit, 0);
  BAD("WSLALLOC_LIMIT", "", limit, 0);
  CHECK_HAS(last_warning, "is not a size (bytes, or with K/M/G/T, powers of 1024)");
  BAD("WSLALLOC_STACKS", "lots", stacks, 16 << 20); /* a non-zero default kept */
  CHECK_HAS(last_warning, "keeping the default, 16M");
  BAD("WSLALLOC_STITCH_MIN", "0", stitch_min, 64 << 20); /* its minimum is 1 */
  GOOD("WSLALLOC_STITCH_MIN", "1", stitch_min, 1);
}

static void test_count(void) {
  GOOD("WSLALLOC_EVENTS", "1024", events, 1024); /* the minimum */
  BAD("WSLALLOC_EVENTS", "1023", events, 262144);
  GOOD("WSLALLOC_EVENTS", "2K", events, 2048);
  GOOD("WSLALLOC_EVENTS", "64M", events, 64 << 20); /* the maximum */
  BAD("WSLALLOC_EVENTS", "67108865", events, 262144);
  BAD("WSLALLOC_EVENTS", "1G", events, 262144); /* a count takes K and M only */
  CHECK_HAS(last_warning, "is not a count from 1024 to 67108864 (K and M allowed)");
  GOOD("WSLALLOC_KEEP", "0", keep, 0);
  GOOD("WSLALLOC_LIVE_SLOTS", "16", live_slots, 16);
  BAD("WSLALLOC_LIVE_SLOTS", "15", live_slots, 65536);
}

static void test_ms(void) {
  GOOD("WSLALLOC_SAMPLE_MS", "0", sample_ms, 0);
  GOOD("WSLALLOC_SAMPLE_MS", "3600000", sample_ms, 3600000);
  BAD("WSLALLOC_SAMPLE_MS", "3600001", sample_ms, 100);
  BAD("WSLALLOC_SAMPLE_MS", "5K", sample_ms, 100); /* no suffixes */
  BAD("WSLALLOC_RETRY_MS", "10s", retry_ms, 2000);
  CHECK_HAS(last_warning, "is not a number of milliseconds up to 600000");
}

static void test_choice(void) {
  GOOD("WSLALLOC_VMM", "off", vmm, WSLA_VMM_OFF);
  GOOD("WSLALLOC_VMM", "AUTO", vmm, WSLA_VMM_AUTO);
  GOOD("WSLALLOC_OTHERS", "windows", others, WSLA_OTHERS_MODE_WINDOWS);
  GOOD("WSLALLOC_OTHERS", "off", others, WSLA_OTHERS_MODE_OFF);
  GOOD("WSLALLOC_STITCH", "force", stitch, WSLA_STITCH_FORCE);
  GOOD("WSLALLOC_SPILL", "host", spill, WSLA_SPILL_HOST);
  BAD("WSLALLOC_VMM", "maybe", vmm, WSLA_VMM_ON);
  CHECK_HAS(last_warning, "is not one of on|off|auto");
  BAD("WSLALLOC_VMM", "of", vmm, WSLA_VMM_ON);   /* a prefix of a word */
  BAD("WSLALLOC_VMM", "on|off", vmm, WSLA_VMM_ON);
  BAD("WSLALLOC_VMM", "", vmm, WSLA_VMM_ON);
}

static void test_path(void) {
  char longest[WSLA_OPT_PATH_MAX], too_long[WSLA_OPT_PATH_MAX + 1];
  memset(longest, 'd', sizeof longest - 1);
  longest[sizeof longest - 1] = '\0';
  memset(too_long, 'd', sizeof too_long - 1);
  too_long[sizeof too_long - 1] = '\0';
  CHECK_U64(load_one("WSLALLOC_DIR", "/tmp/some dir"), 0);
  CHECK_STR(opts.dir.str, "/tmp/some dir");
  CHECK_U64(load_one("WSLALLOC_DIR", longest), 0);
  CHECK_U64(strlen(opts.dir.str), WSLA_OPT_PATH_MAX - 1);
  CHECK_U64(load_one("WSLALLOC_DIR", too_long), 1);
  CHECK_STR(opts.dir.str, "");
  /* Not the default folder instead (shared by all the user's processes). */
  CHECK_HAS(last_warning, "WSLALLOC_DIR is longer than 511 bytes (512 bytes); recording in memory only");
  CHECK(wsla_dir_refused(&opts, NULL), "a too-long WSLALLOC_DIR is refused");
  /* The value is quoted at most 64 bytes long. */
  CHECK(strlen(last_warning) < 200, "the warning stays short: %zu bytes", strlen(last_warning));
}

static void test_warn_once_each(void) {
  /* Three bad variables, two good: three warnings, one each. */
  clear_env();
  setenv("WSLALLOC_LIMIT", "lots", 1);
  setenv("WSLALLOC_VMM", "maybe", 1);
  setenv("WSLALLOC_EVENTS", "7", 1);
  setenv("WSLALLOC_KEEP", "3", 1);
  setenv("WSLALLOC_QUIET", "yes", 1);
  warned = 0;
  wsla_options_load(&opts, warn);
  CHECK_U64(warned, 3);
  CHECK_U64(opts.keep.num, 3);
  CHECK_U64(opts.quiet.num, 1);
  CHECK_U64(opts.events.num, 262144);
  /* No callback: still the defaults, quietly. */
  wsla_options_load(&opts, NULL);
  CHECK_U64(opts.limit.num, 0);
}

static void test_profile(void) {
  char said[256];
  load_one("WSLALLOC_PROFILE", "wsl");
  CHECK_U64(opts.profile.num, WSLA_PROFILE_WSL);
  CHECK_U64(opts.recover.num, 0); /* loading alone applies nothing */
  wsla_options_apply_profile(&opts, said, sizeof said);
  CHECK_U64(opts.recover.num, 1);
  CHECK_U64(opts.retry_ms.num, 10000);
  CHECK_U64(opts.headroom.num, 1ull << 30);
  CHECK_U64(opts.vmm.num, WSLA_VMM_AUTO);
  CHECK_STR(said, "WSLALLOC_RECOVER=1 WSLALLOC_RETRY_MS=10000 WSLALLOC_HEADROOM=1G WSLALLOC_VMM=auto");
  /* A variable set explicitly wins over the profile. */
  clear_env();
  setenv("WSLALLOC_PROFILE", "WSL", 1);
  setenv("WSLALLOC_RETRY_MS", "500", 1);
  setenv("WSLALLOC_VMM", "off", 1);
  wsla_options_load(&opts, warn);
  wsla_options_apply_profile(&opts, said, sizeof said);
  CHECK_U64(opts.retry_ms.num, 500);
  CHECK_U64(opts.vmm.num, WSLA_VMM_OFF);
  CHECK_U64(opts.recover.num, 1);
  CHECK_U64(opts.headroom.num, 1ull << 30);
  CHECK_STR(said, "WSLALLOC_RECOVER=1 WSLALLOC_HEADROOM=1G");
  /* No profile: nothing changes, nothing said. */
  load_one("WSLALLOC_RETRY_MS", "700");
  wsla_options_apply_profile(&opts, said, sizeof said);
  CHECK_U64(opts.recover.num, 0);
  CHECK_U64(opts.retry_ms.num, 700);
  CHECK_U64(opts.headroom.num, 0);
  CHECK_STR(said, "");
}

static void test_format(void) {
  load_one("WSLALLOC_VMM", "auto");
  char buf[8192];
  size_t n = wsla_options_format(&opts, buf, sizeof buf);
  CHECK_U64(n, strlen(buf));
  CHECK_HAS(buf, "WSLALLOC_DIR=\n");
  CHECK_HAS(buf, "WSLALLOC_VMM=auto\n");
  CHECK_HAS(buf, "WSLALLOC_STACKS=16777216\n");
  CHECK_HAS(buf, "WSLALLOC_OTHERS=auto\n");
  size_t lines = 0;
  for (const char *s = buf; (s = strchr(s, '\n')); s++) lines++;
  CHECK_U64(lines, wsla_option_count);
  /* Too small a buffer: whole lines only, always terminated. */
  char small[40];
  memset(small, 'x', sizeof small);
  n = wsla_options_format(&opts, small, sizeof small);
  CHECK_U64(n, strlen(small));
  CHECK_STR(small, "WSLALLOC_DIR=\nWSLALLOC_KEEP=10\n");
}

int main(void) {
  test_defaults();
  test_bool();
  test_size();
  test_count();
  test_ms();
  test_choice();
  test_path();
  test_warn_once_each();
  test_profile();
  test_format();
  clear_env();
  return unit_done();
}
