/* Test client: a signal handler runs while a cudaMalloc is in progress (the simulated device is slow) and frees a block, or forks a child that allocates. */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void *victim;
static const char *mode;
static volatile sig_atomic_t child_pid;

static void on_alarm(int sig) {
  (void)sig;
  if (!strcmp(mode, "free")) {
    cudaFree(victim);
    return;
  }
  /* fork: the child never returns into the interrupted call. */
  pid_t pid = fork();
  if (pid == 0) {
    void *a, *b;
    int rc = cudaMalloc(&a, 2 << 20) | cudaMalloc(&b, 3 << 20) | cudaFree(a);
    _exit(rc ? 1 : 0);
  }
  child_pid = pid;
}

int main(int argc, char **argv) {
  mode = argc > 1 ? argv[1] : "free";
  cudaMalloc(&victim, 4 << 20);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  /* WSLSIM_ALLOC_DELAY_MS makes this allocation take longer than the timer. */
  struct itimerval t = {{0, 0}, {0, 200000}};
  setitimer(ITIMER_REAL, &t, NULL);
  void *slow;
  cudaError_t rc = cudaMalloc(&slow, 8 << 20);
  printf("slow cudaMalloc=%d\n", (int)rc);
  if (child_pid) {
    int st = 0;
    waitpid(child_pid, &st, 0);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fprintf(stderr, "child=%d\n", (int)child_pid);
  }
  return 0;
}
