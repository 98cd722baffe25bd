/* Benchmark client: N malloc+free pairs of 4 KiB, the loop heaptrack traces for the comparison. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: malloc_loop PAIRS\n");
    return 2;
  }
  long pairs = atol(argv[1]);
  for (long i = 0; i < pairs; i++) {
    /* volatile: the compiler may not fold the pair away */
    void *volatile p = malloc(4096);
    if (!p) return 1;
    free(p);
  }
  return 0;
}
