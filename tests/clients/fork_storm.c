/* Test client: threads allocate and free (stitched blocks live) while the main thread forks; no child may hang. */
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int stop;

static void *work(void *arg) {
  size_t size = (size_t)(2 + (long)arg % 3) << 20;
  void *kept = NULL;
  /* One block stays live the whole time: the shim's own table is never empty. */
  cudaMalloc(&kept, size);
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    void *p;
    if (cudaMalloc(&p, size) == cudaSuccess) cudaFree(p);
  }
  cudaFree(kept);
  return NULL;
}

/* True if pid ended within seconds; a child still there then is killed. */
static bool reaped(pid_t pid, int seconds, int *status) {
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < seconds * 1000; i++) {
    if (waitpid(pid, status, WNOHANG) == pid) return true;
    nanosleep(&ms, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, status, 0);
  return false;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 8;
  int forks = argc > 2 ? atoi(argv[2]) : 300;
  pthread_t th[64];
  if (threads > 64) threads = 64;
  /* The runtime starts up before the threads, as a real program's does. */
  void *first;
  if (cudaMalloc(&first, 1 << 20) == cudaSuccess) cudaFree(first);
  for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, work, (void *)(long)t);
  int hung = 0, failed = 0;
  for (int i = 0; i < forks; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      cudaError_t rc = cudaFree(NULL);
      exit(rc == cudaSuccess ? 0 : 1);
    }
    int status = 0;
    if (pid < 0) failed++;
    else if (!reaped(pid, 10, &status)) hung++;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  printf("forks=%d hung=%d failed=%d\n", forks, hung, failed);
  return hung || failed;
}
