/* Pruning: WSLALLOC_KEEP's deletion of ended processes' recordings when a new one is made. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"
#include "alive.h"

struct kept {
  int64_t started_ns;
  bool failed; /* an OOM, a failing status, a signal, or killed */
  char name[256];
};

/* Clean exits before failures, each oldest first: the order of deletion. */
static int prune_order(const void *a, const void *b) {
  const struct kept *x = a, *y = b;
  if (x->failed != y->failed) return x->failed - y->failed;
  return (x->started_ns > y->started_ns) - (x->started_ns < y->started_ns);
}

/*
 * WSLALLOC_KEEP: deletes recordings of ended processes in the directory
 * beyond the number kept, once, when this process's own is made: the
 * default directory is tmpfs, where each recording holds its size in
 * memory.  Clean exits go first, oldest first; a recording of a failure
 * (an OOM, a failing status, a fatal signal, killed) only once no clean one
 * is left to delete, since those are the ones a person comes back to.  Only
 * regular files of this user's, named *.wsla, whose header is a recording's
 * and whose process has ended (its lock is gone: common/alive.h); own is
 * never considered.  Two processes pruning at once may both unlink a file:
 * the second finds it gone, which is the same outcome.  Counts what it
 * deleted into pruned[0] (clean) and pruned[1] (failures).
 */
void wsla_prune_recordings(int dfd, const char *own, uint64_t pruned[2]) {
  uint64_t keep = wsla_opts.keep.num;
  if (!keep) return;
  int fd = dup(dfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return;
  }
  size_t used = 0, cap = 0;
  struct kept *ended = NULL;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 6 || len >= sizeof ended->name || strcmp(e->d_name + len - 5, ".wsla") ||
        !strcmp(e->d_name, own))
      continue;
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != getuid() || (uint64_t)st.st_size < sizeof(struct wsla_header))
      continue;
    int rfd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (rfd < 0) continue;
    static struct wsla_header h; /* a page: not on the client's stack */
    bool is_ended = pread(rfd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
                    !memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) &&
                    !wsla_recording_alive(rfd, &h);
    uint64_t ooms = 0;
    uint64_t at = h.counters_off + offsetof(struct wsla_counters, ooms_claimed);
    if (is_ended && h.counters_off < (uint64_t)st.st_size &&
        at + sizeof ooms <= (uint64_t)st.st_size &&
        pread(rfd, &ooms, sizeof ooms, (off_t)at) != (ssize_t)sizeof ooms)
      ooms = 0;
    close(rfd);
    if (!is_ended) continue;
    if (used == cap) {
      size_t more = cap ? cap * 2 : 32;
      struct kept *grown = realloc(ended, more * sizeof *ended);
      if (!grown) break;
      ended = grown, cap = more;
    }
    ended[used].started_ns = h.start_realtime_ns;
    /* Killed (no end recorded), a fatal signal, a failing status, or an
       OOM on the way; any other end (an exit of 0, an exec) is clean. */
    ended[used].failed = h.end_state == WSLA_END_RUNNING || h.end_state == WSLA_END_SIGNAL ||
                         (h.end_state == WSLA_END_EXIT && h.exit_code != 0) || ooms != 0;
    memcpy(ended[used].name, e->d_name, len + 1);
    used++;
  }
  closedir(d);
  if (used > keep) {
    qsort(ended, used, sizeof *ended, prune_order);
    for (size_t i = 0; i < used - keep; i++) {
      if (unlinkat(dfd, ended[i].name, 0) != 0) continue;
      pruned[ended[i].failed]++;
      /* The other programs that `wslalloc run` saw beside it go with it. */
      char sidecar[sizeof ended->name + 8];
      snprintf(sidecar, sizeof sidecar, "%s.others", ended[i].name);
      unlinkat(dfd, sidecar, 0);
    }
  }
  free(ended);
}
