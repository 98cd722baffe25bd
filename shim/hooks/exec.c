/* exec: a process that replaces itself by another program marks its recording ended by exec, and takes the mark back if the exec fails. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "shim.h"

/*
 * Within glibc every exec function reaches the kernel through its internal
 * __execve, which no preloaded library can interpose, so each public entry
 * point is hooked.  posix_spawn, system and popen start another process and
 * leave this one running: nothing to mark.  The real function is glibc's
 * (or the next interposer's), found once: libc is never unloaded.
 */
typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

static void *next_of(void **slot, const char *name) {
  void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (WSLA_LIKELY(fn != NULL)) return fn;
  void *(*libc_dlsym)(void *, const char *) = wsla_libc_dlsym();
  fn = libc_dlsym ? libc_dlsym(RTLD_NEXT, name) : NULL;
  __atomic_store_n(slot, fn, __ATOMIC_RELEASE); /* pairs: the load above */
  return fn;
}
#define NEXT(type, name)                                                       \
  static void *name##_slot;                                                    \
  type real = (type)next_of(&name##_slot, #name);                              \
  if (!real) {                                                                 \
    errno = ENOSYS;                                                            \
    return -1;                                                                 \
  }

/* The mark around the real call: errno as the exec left it. */
#define AROUND(what, call)                                                     \
  do {                                                                         \
    bool marked = wsla_exec_begin(what);                                       \
    int rc = (call);                                                           \
    int saved = errno;                                                         \
    if (marked) wsla_exec_failed();                                            \
    errno = saved;                                                             \
    return rc;                                                                 \
  } while (0)

WSLA_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  NEXT(execve_fn, execve);
  AROUND(path, real(path, argv, envp));
}

WSLA_EXPORT int execv(const char *path, char *const argv[]) {
  NEXT(execv_fn, execv);
  AROUND(path, real(path, argv));
}

WSLA_EXPORT int execvp(const char *file, char *const argv[]) {
  NEXT(execv_fn, execvp);
  AROUND(file, real(file, argv));
}

WSLA_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  NEXT(execve_fn, execvpe);
  AROUND(file, real(file, argv, envp));
}

WSLA_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  NEXT(fexecve_fn, fexecve);
  char what[32];
  snprintf(what, sizeof what, "descriptor %d", fd);
  AROUND(what, real(fd, argv, envp));
}

WSLA_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
                         char *const envp[], int flags) {
  NEXT(execveat_fn, execveat);
  AROUND(path, real(dirfd, path, argv, envp, flags));
}

/* The list forms: their arguments gathered into a vector (on the stack, as
   glibc does), then the vector form's real function. */
static size_t count_args(const char *arg, va_list ap) {
  size_t n = 1;
  while (arg && va_arg(ap, const char *)) n++;
  return arg ? n + 1 : 1;
}

/* Declares argv, the list's arguments from arg to its NULL, and leaves ap
   open just past that NULL (execle's envp follows it); va_end(ap) is the
   caller's. */
#define GATHER(arg, argv, ap)                                                  \
  va_list ap;                                                                  \
  va_start(ap, arg);                                                           \
  size_t n_ = count_args(arg, ap);                                             \
  va_end(ap);                                                                  \
  char *argv[n_];                                                              \
  va_start(ap, arg);                                                           \
  argv[0] = (char *)(arg);                                                     \
  for (size_t i_ = 1; i_ < n_; i_++) argv[i_] = va_arg(ap, char *)

WSLA_EXPORT int execl(const char *path, const char *arg, ...) {
  NEXT(execv_fn, execv);
  GATHER(arg, argv, ap);
  va_end(ap);
  AROUND(path, real(path, argv));
}

WSLA_EXPORT int execlp(const char *file, const char *arg, ...) {
  NEXT(execv_fn, execvp);
  GATHER(arg, argv, ap);
  va_end(ap);
  AROUND(file, real(file, argv));
}

WSLA_EXPORT int execle(const char *path, const char *arg, ...) {
  NEXT(execve_fn, execve);
  GATHER(arg, argv, ap);
  char *const *envp = va_arg(ap, char *const *);
  va_end(ap);
  AROUND(path, real(path, argv, envp));
}
