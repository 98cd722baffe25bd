/* Test library: asks dlsym(RTLD_NEXT) for a function it defines itself, as every interposer does. */
#include <dlfcn.h>

__attribute__((visibility("default"))) int wsla_probe(void) { return 'A'; }

__attribute__((visibility("default"))) int probe_next(void) {
  int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "wsla_probe");
  return next ? next() : 0;
}
