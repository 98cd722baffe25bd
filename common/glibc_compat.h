/* Force-included before every C source of the library (common/meson.build) so
   that the glibc versions it asks for stay at or below the baseline (2.28):
   the library is preloaded into programs built on Ubuntu 20.04, Debian 11
   and RHEL 8 images, whose glibc lacks anything newer.  Not for the tool. */
#ifndef WSLA_GLIBC_COMPAT_H
#define WSLA_GLIBC_COMPAT_H
#ifndef __ASSEMBLER__ /* meson hands the C arguments to the .S file too */

/* Functions glibc moved or re-versioned after 2.28 keep their old version
   too: glibc_symver.h (generated from this build's libc) binds each to it. */
#include "glibc_symver.h"

#include <features.h>
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 33) && \
    (defined(__x86_64__) || defined(__aarch64__))
/* stat, fstat, lstat and fstatat became functions only at 2.33; before,
   they were inline calls to __xstat and friends, and there is no old
   version to bind to.  On these 64-bit ABIs the kernel's struct stat is
   glibc's, so the system call is what glibc's own function does. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int wsla_compat_fstatat(int dfd, const char *path, struct stat *st,
                                      int flags) {
  return (int)syscall(SYS_newfstatat, dfd, path, st, flags);
}
/* Function-like, so `struct stat` is left alone. */
#define fstatat(dfd, path, st, flags) wsla_compat_fstatat(dfd, path, st, flags)
#define fstat(fd, st) wsla_compat_fstatat(fd, "", st, AT_EMPTY_PATH)
#define stat(path, st) wsla_compat_fstatat(AT_FDCWD, path, st, 0)
#define lstat(path, st) wsla_compat_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW)
#endif

#endif
#endif
