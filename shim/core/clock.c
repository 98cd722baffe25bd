/* One clock for every event of a recording: the processor's time-stamp counter where it keeps time as the kernel's clock does, else CLOCK_MONOTONIC; chosen once, when the recording starts. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "shim.h"

/*
 * Why: every event pays for its time twice per allocation and free, and
 * clock_gettime through the vDSO is a call, a loop over the kernel's data
 * page and a conversion (about 30 instructions); a TSC read and one
 * multiply are 8.  Where the kernel keeps CLOCK_MONOTONIC with the TSC, the
 * counter is invariant and synchronised across cores, and times converted
 * from it run at the rate of CLOCK_MONOTONIC (within the calibration's
 * error and NTP's slewing, a few parts per million).
 *
 * One clock per recording: a mix would break the order of events read
 * against each other, so the choice is made before the first event and
 * never changes.  The calibration (ticks to nanoseconds, 32.32 fixed
 * point) is measured once per process image over CALIBRATION_NS and kept in
 * the recording's header (WSLA_FEAT_TSC); a child after fork keeps its
 * parent's rate and takes its own starting point.
 */
#define CALIBRATION_NS 2000000 /* 2 ms, at the first recording's start */

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int64_t monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

#if defined(__x86_64__)
/* CPUID's invariant-TSC bit: the counter runs at one rate in every power
   state (leaf 0x80000007, EDX bit 8). */
static bool tsc_invariant(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007) return false;
  __get_cpuid(0x80000007, &a, &b, &c, &d);
  return d & (1u << 8);
}

/* Whether the kernel itself keeps time with the TSC, so that it has found
   the counter synchronised across cores and stable (it switches away from
   it when not). */
static bool kernel_uses_tsc(void) {
  char buf[32] = "";
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strncmp(buf, "tsc\n", 4) == 0;
}

/* A (counter, monotonic ns) pair read as close together as the machine
   allows: of a few tries, the one whose clock read took fewest ticks, the
   counter taken at its middle. */
static void pair_now(uint64_t *tsc, int64_t *ns) {
  uint64_t best = UINT64_MAX;
  *tsc = 0;
  *ns = 0;
  for (int i = 0; i < 5; i++) {
    uint64_t before = __rdtsc();
    int64_t t = monotonic_ns();
    uint64_t after = __rdtsc();
    if (after - before < best) {
      best = after - before;
      *tsc = before + (after - before) / 2;
      *ns = t;
    }
  }
}

/* Ticks to nanoseconds, 32.32, measured once per process image. */
static uint64_t calibrated_mult;

static uint64_t calibrate(void) {
  if (calibrated_mult) return calibrated_mult;
  uint64_t t0 = 0, t1 = 0;
  int64_t n0 = 0, n1 = 0;
  pair_now(&t0, &n0);
  do pair_now(&t1, &n1);
  while (n1 - n0 < CALIBRATION_NS);
  if (t1 <= t0) return 0;
  calibrated_mult = (uint64_t)(((unsigned __int128)(uint64_t)(n1 - n0) << 32) / (t1 - t0));
  return calibrated_mult;
}
#endif

void wsla_clock_start(struct wsla_proc *p, struct wsla_header *h) {
  p->tsc_mult = 0;
#if defined(__x86_64__)
  uint64_t choice = wsla_opts.clock.num;
  bool usable = choice != WSLA_CLOCK_MONOTONIC && tsc_invariant() &&
                (choice == WSLA_CLOCK_TSC || kernel_uses_tsc());
  uint64_t mult = usable ? calibrate() : 0;
  if (choice == WSLA_CLOCK_TSC && !mult) {
    static int warned;
    wsla_warn_once(&warned, "WSLALLOC_CLOCK=tsc: this processor's time-stamp counter is not "
                            "invariant; the recording's times come from CLOCK_MONOTONIC");
  }
#else
  uint64_t mult = 0;
  if (wsla_opts.clock.num == WSLA_CLOCK_TSC) {
    static int warned;
    wsla_warn_once(&warned, "WSLALLOC_CLOCK=tsc: no time-stamp counter on this processor; "
                            "the recording's times come from CLOCK_MONOTONIC");
  }
#endif
  h->start_realtime_ns = clock_ns(CLOCK_REALTIME);
  p->start_mono_ns = monotonic_ns();
  h->start_monotonic_ns = p->start_mono_ns;
#if defined(__x86_64__)
  if (!mult) return;
  /* The starting point: the counter at the moment the recording's times
     count from, so that its time 0 is start_monotonic_ns. */
  uint64_t tsc;
  int64_t ns;
  pair_now(&tsc, &ns);
  p->start_mono_ns = ns;
  p->tsc_base = tsc;
  p->tsc_mult = mult;
  h->start_monotonic_ns = ns;
  h->tsc_base = tsc;
  h->tsc_mult = mult;
  h->tsc_hz = (uint64_t)(((unsigned __int128)1000000000 << 32) / mult);
  h->tsc_calibration_ns = CALIBRATION_NS;
  h->features |= WSLA_FEAT_TSC;
#endif
}
