/* Test client: allocates known amounts, then ends the way argv[1] says (abort, segv, kill, exit, oom, oom-wait, freed-since, and faults under one-shot or re-raising handlers). */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_segv(int sig) { handled = sig; }

/* A one-shot handler (SA_RESETHAND) that returns without mending the fault:
   it runs once, and the fault, executed again, kills the process. */
static void once(int sig) {
  (void)sig;
  static const char msg[] = "one-shot handler ran\n";
  (void)!write(STDOUT_FILENO, msg, sizeof msg - 1);
}

/* Python's faulthandler: restore the default and raise again, which the
   kernel delivers at once (SA_NODEFER) or when the handler returns. */
static void reraise(int sig) {
  static const char msg[] = "re-raising\n";
  (void)!write(STDOUT_FILENO, msg, sizeof msg - 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void install(void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "exit";
  void *a, *b, *c, *h, *big;
  /* Dispositions set before the first CUDA call, when the shim installs its
     own handlers and keeps these to hand signals on to. */
  if (!strcmp(mode, "ignored")) signal(SIGFPE, SIG_IGN);
  if (!strcmp(mode, "handled")) signal(SIGSEGV, on_segv);
  if (!strcmp(mode, "oneshot")) install(once, SA_RESETHAND);
  if (!strcmp(mode, "reraise")) install(reraise, SA_NODEFER);
  if (!strcmp(mode, "reraise-deferred")) install(reraise, 0);
  cudaMalloc(&a, 64 << 20);
  cudaMalloc(&b, 32 << 20);
  cudaMalloc(&c, 16 << 20);
  cudaMallocHost(&h, 4 << 20);
  cudaFree(b);
  if (!strcmp(mode, "oom-exit") || !strcmp(mode, "oom-handled")) {
    /* PyTorch's ways: an uncaught OOM error ends the process with status 1;
       a handled one frees, retries smaller and carries on. */
    cudaError_t e = cudaMalloc(&big, (size_t)64 << 30);
    printf("OutOfMemoryError: %s\n", cudaGetErrorString(e));
    if (!strcmp(mode, "oom-handled")) {
      cudaGetLastError();
      cudaMalloc(&big, 1 << 20);
    }
    return 1;
  }
  if (!strcmp(mode, "oom")) {
    /* llama.cpp's way: report the error, then abort. */
    cudaError_t e = cudaMalloc(&big, (size_t)64 << 30);
    fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(e));
    abort();
  }
  if (!strcmp(mode, "oom-wait")) {
    /* A server that survives an OOM and keeps serving. */
    cudaMalloc(&big, (size_t)64 << 30);
    cudaGetLastError();
  }
  if (!strcmp(mode, "freed-since")) {
    /* The last device sample (at the 16 MiB, a sampling period after the
       first) sees 2 GiB that is freed right after: nobody holds it now. */
    void *d;
    cudaMalloc(&big, (size_t)2 << 30);
    usleep(200 * 1000);
    cudaMalloc(&d, 16 << 20);
    cudaFree(big);
  }
  printf("ready\n");
  fflush(stdout);
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "segv")) raise(SIGSEGV);
  if (!strcmp(mode, "kill") || !strcmp(mode, "oom-wait") || !strcmp(mode, "freed-since"))
    for (;;) pause();
  if (!strcmp(mode, "ignored")) {
    raise(SIGFPE);
    printf("survived an ignored SIGFPE\n");
    return 0;
  }
  if (!strcmp(mode, "oneshot") || !strcmp(mode, "reraise") ||
      !strcmp(mode, "reraise-deferred")) {
    /* A real fault: it executes again after a handler that returns.  On a
       page of its own, so that no sanitizer takes the address for a bug. */
    volatile int *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *page = argc;
    printf("survived the fault\n");
    return 0;
  }
  if (!strcmp(mode, "handled")) {
    raise(SIGSEGV);
    printf("handler saw signal %d\n", (int)handled);
    return 0;
  }
  return 3;
}
