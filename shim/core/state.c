/* State: the process-wide globals every part of the library shares, defined in one place. */
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* The recording (valid once wsla_g_ready is 1), the options in force, the
   allocation path's gate word and the per-thread state: shim.h says what
   each holds.  Set up by init.c, reset there in a child after fork. */
struct wsla_proc wsla_g;
struct wsla_options wsla_opts;
int wsla_g_ready;
int wsla_gate_word = WSLA_GATE_UNREADY;
__thread struct wsla_tls wsla_tls __attribute__((tls_model("initial-exec")));

pid_t wsla_tid_slow(void) {
  pid_t t = (pid_t)syscall(SYS_gettid);
  wsla_tls.tid = t;
  return t;
}
