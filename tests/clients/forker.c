/* Test client: parent and child both allocate after a fork; each must get its own recording ("hold": the parent then waits to be killed). */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  void *a, *b, *c, *d;
  /* argv[1]: small allocations the parent holds from before the fork. */
  for (long i = 0, n = argc > 1 ? atol(argv[1]) : 0; i < n; i++) cudaMalloc(&a, 4096);
  cudaMalloc(&a, 8 << 20);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    cudaMalloc(&b, 2 << 20);
    cudaMalloc(&c, 2 << 20);
    cudaMalloc(&d, 2 << 20);
    cudaFree(c);
    printf("child=%d\n", (int)getpid());
    return 0;
  }
  int st;
  waitpid(pid, &st, 0);
  cudaMalloc(&b, 4 << 20);
  printf("parent=%d child_status=%d\n", (int)getpid(), WEXITSTATUS(st));
  if (argc > 1 && !strcmp(argv[1], "hold")) {
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
  }
  return 0;
}
