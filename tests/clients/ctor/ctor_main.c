/* Test client: a library that works in its constructor, loaded at start-up or with dlopen. */
#include <dlfcn.h>
#include <stdio.h>

#ifdef CTOR_LINKED
const char *ctor_result(void);
#endif

int main(void) {
#ifdef CTOR_LINKED
  printf("linked: %s\n", ctor_result());
#else
  void *h = dlopen(CTOR_LIB, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 2;
  }
  const char *(*get)(void) = (const char *(*)(void))dlsym(h, "ctor_result");
  printf("dlopen: %s\n", get ? get() : "?");
#endif
  return 0;
}
