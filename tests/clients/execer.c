/* Test client: allocates, tries an exec that fails, then replaces itself by another program the way argv[1] says. */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "execv";
  void *a;
  cudaMalloc(&a, 8 << 20);
  /* A failed exec returns, and the process goes on. */
  char *const none[] = {"missing", NULL};
  int rc = execv("/nonexistent/program", none);
  printf("failed exec: %d errno %s\n", rc, strerror(errno));
  fflush(stdout);
  char *const args[] = {"true", NULL};
  if (!strcmp(how, "execv")) execv("/bin/true", args);
  else if (!strcmp(how, "execvp")) execvp("true", args);
  else if (!strcmp(how, "execl")) execl("/bin/true", "true", (char *)NULL);
  else if (!strcmp(how, "execlp")) execlp("true", "true", (char *)NULL);
  else if (!strcmp(how, "execle")) execle("/bin/true", "true", (char *)NULL, (char *const[]){NULL});
  else if (!strcmp(how, "execve")) execve("/bin/true", args, (char *const[]){NULL});
  else if (!strcmp(how, "execvpe")) execvpe("true", args, (char *const[]){"PATH=/bin:/usr/bin", NULL});
  else if (!strcmp(how, "fexecve")) fexecve(open("/bin/true", O_RDONLY | O_CLOEXEC), args, (char *const[]){NULL});
  else if (!strcmp(how, "none")) return 4;
  printf("exec returned: %s\n", strerror(errno));
  return 5;
}
