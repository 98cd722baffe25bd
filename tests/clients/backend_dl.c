/* Test client: loads a CUDA backend with dlopen(RTLD_LOCAL), as GGML_BACKEND_DL builds and Ollama do. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  void *h = dlopen(BACKEND_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  int (*run)(void) = (int (*)(void))dlsym(h, "backend_run");
  if (!run) return 2;
  int rc = run();
  printf("backend_run=%d\n", rc);
  return rc;
}
