/* Test client: RTLD_NEXT must mean "after the caller" even when dlsym is interposed. */
#include <stdio.h>

int probe_next(void);
int next_b_loaded(void);

int main(void) {
  printf("next after next_a is %c (next_b loaded: %d)\n", probe_next(),
         next_b_loaded());
  return 0;
}
