/* Whether a recording's process still runs, told from the file itself: the library and the tools ask the same way. */
#ifndef WSLALLOC_ALIVE_H
#define WSLALLOC_ALIVE_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wslalloc/format.h"

/*
 * A writer with WSLA_FEAT_LIFE_LOCK holds a read lock on its whole recording
 * from before its magic is published until it ends: the kernel drops the
 * lock when the process dies, however it dies, and holds it whatever pid
 * namespace asks.  kill(pid, 0) says nothing across namespaces (the pid is
 * another process's there), so the pid and start time are only the fallback
 * for recordings without the lock, or a lock that cannot be asked about.
 */

/* 1: some process holds a lock on the file open as fd; 0: none; -1: cannot
   tell (fd < 0, or no lock query works here). */
static inline int wsla_recording_locked(int fd) {
  if (fd < 0) return -1;
  struct flock fl;
#ifdef F_OFD_GETLK
  /* An open file description lock query also sees the traditional locks of
     the asking process itself. */
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_GETLK, &fl) == 0) return fl.l_type != F_UNLCK;
#endif
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_GETLK, &fl) == 0) return fl.l_type != F_UNLCK;
  return -1;
}

/* Reads a small /proc file whole into buf, NUL-terminated (its first
   len - 1 bytes; NULs inside, as in cmdline, are kept): how many bytes, 0
   if it cannot be read.  The one reader of /proc for the library and the
   tools. */
static inline size_t wsla_proc_read(const char *path, char *buf, size_t len) {
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0) got += (size_t)n;
    close(fd);
  }
  if (len) buf[got] = '\0';
  return got;
}

/* The start time (clock ticks since boot, /proc/<pid>/stat field 22) of
   pid (0: this process, through /proc/self, right also where /proc is
   another pid namespace's), or 0 if it is gone or unreadable. */
static inline uint64_t wsla_pid_start_ticks(int pid) {
  char path[64], buf[1024];
  if (pid) snprintf(path, sizeof path, "/proc/%d/stat", pid);
  else snprintf(path, sizeof path, "/proc/self/stat");
  if (!wsla_proc_read(path, buf, sizeof buf)) return 0;
  const char *s = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!s) return 0;
  int field = 2; /* after ")": field 3 (state) ... field 22 (starttime) */
  for (; *s && field < 22; s++)
    if (*s == ' ') field++;
  return strtoull(s, NULL, 10);
}

/* True if the process that wrote h, the header of the recording open as fd
   (-1 if not open), may still be running: it recorded no end, and it holds
   its lock, or (no lock to go by) a process with its pid and start time
   exists in this pid namespace. */
static inline bool wsla_recording_alive(int fd, const struct wsla_header *h) {
  if (h->end_state != WSLA_END_RUNNING) return false;
  if ((h->features & WSLA_FEAT_LIFE_LOCK) && wsla_recording_locked(fd) == 1) return true;
  /* Unlocked, or from a library without the lock: the pid decides.  A
     writer that closed every descriptor it did not know of lost its lock,
     so a process with the recorded pid and start time still counts. */
  if (h->pid <= 0) return false;
  if (kill(h->pid, 0) != 0 && errno != EPERM) return false;
  uint64_t ticks = wsla_pid_start_ticks(h->pid);
  return !ticks || !h->proc_start_ticks || ticks == h->proc_start_ticks;
}

#endif
