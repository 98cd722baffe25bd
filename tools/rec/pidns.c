/* Pid namespaces: whether a recording's pid is one of the reader's own, and whether a container's process still runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"
#include "alive.h"

/* The reader's own pid namespace, read once. */
static bool own_pidns(uint64_t *ino, uint64_t *dev) {
  static int known = -1;
  static uint64_t own_ino, own_dev;
  if (known < 0) {
    struct stat st;
    known = stat("/proc/self/ns/pid", &st) == 0;
    own_ino = (uint64_t)st.st_ino;
    own_dev = (uint64_t)st.st_dev;
  }
  *ino = own_ino;
  *dev = own_dev;
  return known == 1;
}

enum pidns_relation rec_pidns(const struct wsla_header *h) {
  uint64_t ino, dev;
  if (!(h->features & WSLA_FEAT_PIDNS) || !own_pidns(&ino, &dev)) return PIDNS_UNKNOWN;
  return h->pidns_ino == ino && h->pidns_dev == dev ? PIDNS_SAME : PIDNS_OTHER;
}

/* The NSpid line of /proc/<p>/status: the process's pid in each namespace
   from /proc's down to its own.  The last one, and how many; 0 if unreadable. */
static int nspid(const char *p, long *last) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%.32s/status", p);
  if (!wsla_proc_read(path, buf, sizeof buf)) return 0;
  char *line = strstr(buf, "\nNSpid:");
  if (!line) return 0;
  line += 7;
  int count = 0;
  char *end;
  for (;;) {
    long v = strtol(line, &end, 10);
    if (end == line) break;
    *last = v;
    count++;
    line = end;
  }
  return count;
}

/* kill(pid, 0) would ask about whatever process has that number here,
   unrelated to the container's.  Instead: a process in a namespace below
   this one (NSpid lists two pids or more) whose pid there is the recording's
   and which started when the recording says; its namespace the recording's
   where this user may look (stat of /proc/<p>/ns/pid needs ptrace rights). */
bool pidns_process_alive(const struct wsla_header *h) {
  DIR *d = opendir("/proc");
  if (!d) return true;
  bool alive = false;
  struct dirent *de;
  while (!alive && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    long inner = 0;
    if (nspid(de->d_name, &inner) < 2 || inner != h->pid) continue;
    uint64_t ticks = wsla_pid_start_ticks(atoi(de->d_name));
    if (h->proc_start_ticks && ticks != h->proc_start_ticks) continue;
    char path[64];
    snprintf(path, sizeof path, "/proc/%.32s/ns/pid", de->d_name);
    struct stat st;
    if (stat(path, &st) == 0)
      alive = (uint64_t)st.st_ino == h->pidns_ino && (uint64_t)st.st_dev == h->pidns_dev;
    else
      alive = errno == EACCES || errno == EPERM; /* the start time must do */
  }
  closedir(d);
  return alive;
}

const char *pidns_word(const struct wsla_header *h) {
  switch (rec_pidns(h)) {
  case PIDNS_SAME: return "same";
  case PIDNS_OTHER: return "other";
  default: return "unknown";
  }
}
