/* Set-up and teardown: once per process image, the recording on first use, fork, exit and fatal signals; the one place that knows every part's reset. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "budget.h"
#include "shim.h"
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
#include "ballast.h"
#include "owned.h"
#include "recover.h"
#include "vmm.h"
#endif
#if WSLA_HAVE_CUDA
#include "cuda_common.h"
#endif

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t disabled_pid; /* this process gave up recording altogether */

/* wsla_options_load reports each bad variable once per process image. */
static void warn_line(const char *msg) { wsla_warn_once(NULL, "%s", msg); }

/* --- the end of the process --- */

#define FATAL_COUNT 5
static const int fatal_signals[FATAL_COUNT] = {SIGSEGV, SIGABRT, SIGBUS,
                                               SIGFPE, SIGILL};
static struct sigaction previous[FATAL_COUNT];

static void on_process_exit(int status, void *arg) {
  (void)arg;
  if (!__atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE)) return;
  wsla_modules_refresh(&wsla_g);
  wsla_recording_mark_end(WSLA_END_EXIT, status, 0);
  /* An uncaught PyTorch OOM error ends the process this way. */
  if (status != 0) wsla_first_aid_print(false);
}

/* Calls the client's handler old as the kernel would have delivered sig to
   it: reset to the default first under SA_RESETHAND (the next delivery then
   reaches the default through this handler), with its sa_mask blocked, and
   sig itself blocked unless SA_NODEFER.  Async-signal-safe. */
static void call_previous(int i, const struct sigaction *old, int sig, siginfo_t *info,
                          void *uc) {
  if (old->sa_flags & SA_RESETHAND) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    previous[i] = dfl;
  }
  sigset_t during, saved;
  during = old->sa_mask;
  sigaddset(&during, sig);
  pthread_sigmask(SIG_BLOCK, &during, &saved);
  if (old->sa_flags & SA_NODEFER) {
    /* A handler that restores the default and raises again (Python's
       faulthandler) dies of that signal inside the call, as it would bare. */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  }
  if (old->sa_flags & SA_SIGINFO) old->sa_sigaction(sig, info, uc);
  else old->sa_handler(sig);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/*
 * Async-signal-safe: marks the recording, then hands the signal on exactly as
 * the disposition before ours would have taken it.  A handler of the client's
 * that returns has dealt with the signal (a JIT's fault handler, say), so the
 * mark is taken back; one that never returns leaves it, and so does one that
 * raised the signal again for delivery once it returns (the default action,
 * restored by the handler, then ends the process).
 */
static void on_fatal_signal(int sig, siginfo_t *info, void *uc) {
  int saved_errno = errno;
  int i = 0;
  while (i < FATAL_COUNT && fatal_signals[i] != sig) i++;
  if (i == FATAL_COUNT) return;
  struct sigaction old = previous[i];
  bool marked = wsla_recording_mark_end(WSLA_END_SIGNAL, 0, sig);
  /* llama.cpp aborts right after a failed allocation: the explanation goes
     out before the signal is handed on. */
  wsla_first_aid_print(true);
  bool handler = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL
                                              : old.sa_handler != SIG_DFL &&
                                                    old.sa_handler != SIG_IGN;
  if (!handler) {
    /* Restore what was there.  Ignored: return as the kernel would have
       (a fault then re-executes, and the kernel kills as it would have).
       Default: deliver it again once this handler returns. */
    sigaction(sig, &old, NULL);
    if (old.sa_handler == SIG_DFL) raise(sig);
    /* An ignored signal someone sent passes; an ignored fault of the
       kernel's (si_code > 0) comes back, and then kills. */
    else if (marked && !(info && info->si_code > 0)) wsla_recording_unmark_end();
    errno = saved_errno;
    return;
  }
  errno = saved_errno;
  call_previous(i, &old, sig, info, uc);
  sigset_t pending;
  if (marked && !(sigpending(&pending) == 0 && sigismember(&pending, sig)))
    wsla_recording_unmark_end();
  errno = saved_errno;
}

static void install_signal_handlers(void) {
  for (int i = 0; i < FATAL_COUNT; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    struct sigaction was;
    /* Never our own handler as the one to hand on to: it would call itself. */
    if (sigaction(fatal_signals[i], &sa, &was) == 0 &&
        !((was.sa_flags & SA_SIGINFO) && was.sa_sigaction == on_fatal_signal))
      previous[i] = was;
  }
}

/* --- fork --- */

static void before_fork(void) {
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
  wsla_owned_fork_prepare();
#endif
}

static void after_fork_parent(void) {
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
  wsla_owned_fork_parent();
#endif
}

/*
 * The child after fork: only the forking thread goes on, so every lock
 * another thread held at the fork would stay held for ever.  Each of the
 * shim's locks is made anew here or by the part's reset below (init_lock;
 * the recording's env_lock, the modules' lock, the table's shard locks;
 * first aid's, the stacks', VMM's and the ballast's mutexes) or held across
 * the fork (the owned table's, whose contents the child keeps).  This is
 * the one place that calls every part's reset: a part that keeps state a
 * child must not inherit adds its reset here.  process_once needs nothing:
 * glibc restarts a pthread_once that another thread had in progress at the
 * fork.
 */
static void after_fork_child(void) {
  /* The parent's mapping is shared with the parent: never write it again.
     A fork from inside a hook (a runtime starting a helper, a signal
     handler) leaves that hook to finish in the child, still holding
     &wsla_g: the mapping is swapped for private scratch memory at the same
     place instead, which that hook may write, until the child's first
     call makes the child's own recording (the scratch stays mapped, its
     untouched pages costing nothing: the hook may still point into it). */
  bool in_hook = wsla_tls.depth > 0;
  if (wsla_g_ready) {
    if (!in_hook || mmap(wsla_g.map, wsla_g.map_len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != wsla_g.map) {
      munmap(wsla_g.map, wsla_g.map_len);
      memset(&wsla_g, 0, sizeof wsla_g);
    }
  }
  wsla_g_ready = 0;
  wsla_gate_set(WSLA_GATE_UNREADY); /* until the child's own recording */
  /* The child's own calls are its client's, recorded from depth 0 (and
     hook_leave keeps it there if the child returns through that hook). */
  wsla_tls.depth = 0;
  wsla_tls.freeing = 0;
  wsla_tls.tid = 0;
  disabled_pid = 0;
  pthread_mutex_init(&init_lock, NULL);
  wsla_recording_reset_after_fork();
  wsla_modules_reset_after_fork();
  wsla_table_reset_after_fork();
  wsla_budget_reset_after_fork();
  wsla_first_aid_reset_after_fork();
  wsla_others_reset_after_fork();
  wsla_stack_reset_after_fork();
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
  wsla_probe_reset_after_fork();
  wsla_vmm_reset_after_fork();
  wsla_ballast_reset_after_fork();
  wsla_owned_fork_child();
#endif
#if WSLA_HAVE_CUDA
  wsla_cuda_reset_after_fork();
#endif
  /* Nor does the child trust the devices its parent's thread cached, in
     every build (HIP's too). */
  wsla_ctx_changed();
}

/* --- set-up --- */

static void once_per_process_image(void) {
  wsla_options_load(&wsla_opts, warn_line);
  /* Silently: every GPU process under the profile would say it, and a
     server (Ollama) collects each runner's stderr.  The recording's options
     say what was in force. */
  char applied[256];
  wsla_options_apply_profile(&wsla_opts, applied, sizeof applied);
  /* The gate word's flags for what is set from the start (shim.h). */
  if (wsla_opts.limit.num || wsla_opts.pinned_limit.num) wsla_gate_set(WSLA_GATE_BUDGET);
  if (wsla_opts.recover.num) wsla_gate_set(WSLA_GATE_RECOVER);
  if (wsla_opts.stitch.num == WSLA_STITCH_FORCE) wsla_gate_set(WSLA_GATE_STITCH);
  if (wsla_opts.reserve.num) wsla_gate_set(WSLA_GATE_RESERVE);
  /* Once per process, even where a child runs this again (a fork while
     another thread was here): twice, the prepare handler would wait for a
     lock it holds itself. */
  static int registered;
  if (!__atomic_exchange_n(&registered, 1, __ATOMIC_RELAXED)) {
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    on_exit(on_process_exit, NULL);
  }
  install_signal_handlers();
}

struct wsla_proc *wsla_proc_init(void) {
  pthread_once(&process_once, once_per_process_image);
  pthread_mutex_lock(&init_lock);
  if (!wsla_g_ready && disabled_pid != getpid()) {
    if (wsla_recording_open(&wsla_g)) {
      /* Release: pairs with the acquire load in wsla_proc_get. */
      __atomic_store_n(&wsla_g_ready, 1, __ATOMIC_RELEASE);
      wsla_gate_clear(WSLA_GATE_UNREADY);
    } else {
      disabled_pid = getpid();
    }
  }
  pthread_mutex_unlock(&init_lock);
  return wsla_g_ready ? &wsla_g : NULL;
}

