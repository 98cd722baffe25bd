/* The unit suite's assertions: a failed check prints where and what, the test goes on, main's exit says. */
#ifndef WSLA_UNIT_H
#define WSLA_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Plain C rather than a framework: each check is one line and its message
   names the known answer it compared against, which is all these tests
   need; nothing more to install. */
static int unit_failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      unit_failures++;                                                         \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                              \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
    }                                                                          \
  } while (0)

/* Two unsigned figures, both printed when they differ. */
#define CHECK_U64(got, want)                                                   \
  do {                                                                         \
    uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);                 \
    CHECK(got_ == want_, "%s is %" PRIu64 ", want %" PRIu64, #got, got_, want_); \
  } while (0)

/* Two strings, both printed when they differ. */
#define CHECK_STR(got, want)                                                   \
  do {                                                                         \
    const char *got_ = (got), *want_ = (want);                                 \
    CHECK(got_ && strcmp(got_, want_) == 0, "%s is \"%s\", want \"%s\"", #got, \
          got_ ? got_ : "(null)", want_);                                      \
  } while (0)

/* got contains want. */
#define CHECK_HAS(got, want)                                                   \
  do {                                                                         \
    const char *got_ = (got), *want_ = (want);                                 \
    CHECK(got_ && strstr(got_, want_), "%s is \"%s\", want it to say \"%s\"", #got, \
          got_ ? got_ : "(null)", want_);                                      \
  } while (0)

/* main's ending: 0 only when every check held. */
static inline int unit_done(void) {
  if (unit_failures) {
    printf("%d failure(s)\n", unit_failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}

#endif
