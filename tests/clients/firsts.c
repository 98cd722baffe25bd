/* Firsts client: orders of first calls that once fooled the shim: a memory query before any allocation, and a child forked after the parent's out-of-memory failure. */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  void *p;
  if (!strcmp(mode, "meminfo-first")) {
    /* As llama.cpp sizes itself: ask, then allocate within one sampling
       period. */
    size_t f, t;
    if (cudaMemGetInfo(&f, &t) != cudaSuccess) return 1;
    if (cudaMalloc(&p, 1 << 20) != cudaSuccess || cudaFree(p) != cudaSuccess) return 1;
    printf("ok\n");
    return 0;
  }
  if (!strcmp(mode, "fork-after-oom")) {
    /* The parent runs out of memory and deals with it; a child forked then
       never touches the GPU and dies of abort. */
    if (cudaMalloc(&p, (size_t)1 << 45) == cudaSuccess) return 1;
    cudaGetLastError();
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) abort();
    int status;
    waitpid(child, &status, 0);
    if (cudaMalloc(&p, 256) != cudaSuccess) return 1;
    printf("child signal=%d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
  }
  fprintf(stderr, "usage: firsts meminfo-first|fork-after-oom\n");
  return 2;
}
