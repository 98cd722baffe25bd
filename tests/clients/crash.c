/* Test client: allocates known amounts, then ends the way argv[1] says (abort, segv, kill, exit, oom, oom-wait). */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_segv(int sig) { handled = sig; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "exit";
  void *a, *b, *c, *h, *big;
  /* Dispositions set before the first CUDA call, when the shim installs its
     own handlers and keeps these to hand signals on to. */
  if (!strcmp(mode, "ignored")) signal(SIGFPE, SIG_IGN);
  if (!strcmp(mode, "handled")) signal(SIGSEGV, on_segv);
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
  printf("ready\n");
  fflush(stdout);
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "segv")) raise(SIGSEGV);
  if (!strcmp(mode, "kill") || !strcmp(mode, "oom-wait")) for (;;) pause();
  if (!strcmp(mode, "ignored")) {
    raise(SIGFPE);
    printf("survived an ignored SIGFPE\n");
    return 0;
  }
  if (!strcmp(mode, "handled")) {
    raise(SIGSEGV);
    printf("handler saw signal %d\n", (int)handled);
    return 0;
  }
  return 3;
}
