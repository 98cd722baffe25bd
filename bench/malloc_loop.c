/* Benchmark client: N malloc+free pairs of 4 KiB, the loop heaptrack traces for the comparison, shaped as pair_bench's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long pairs;

/* The loop runs in a thread of its own, as pair_bench's does, so that the
   two tracers are compared on the same shape: one thread, a pair at a time. */
static void *work(void *arg) {
  (void)arg;
  for (long i = 0; i < pairs; i++) {
    /* volatile: the compiler may not fold the pair away */
    void *volatile p = malloc(4096);
    if (!p) {
      fprintf(stderr, "malloc_loop: allocation failed\n");
      exit(1);
    }
    free(p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: malloc_loop PAIRS\n");
    return 2;
  }
  pairs = atol(argv[1]);
  pthread_t th;
  if (pthread_create(&th, NULL, work, NULL) != 0) return 1;
  pthread_join(th, NULL);
  return 0;
}
