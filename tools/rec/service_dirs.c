/* Where services' recordings lie: the directories `wslalloc service` set up, searched by ls, report and top. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rec.h"
#include "wslalloc/options.h"

/* --- the recordings of services, for ls, report and top --- */

/* The root the service directories lie under: "" (/) unless
   WSLALLOC_SERVICE_ROOT names another, absolute, as `wslalloc service
   --root` writes under one. */
static const char *service_root(void) {
  static struct wsla_options o;
  wsla_options_load(&o, NULL);
  return o.service_root.str[0] == '/' ? o.service_root.str : "";
}

/* Whether a directory may hold a service's recordings: a real directory (no
   link), writable by its owner only, in a parent that only root can change
   (so that whoever owns it was given it by root). */
static bool trusted_dir(const char *path, struct stat *st) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  if (!slash || slash == parent) return false;
  *slash = '\0';
  struct stat ps;
  if (lstat(parent, &ps) != 0 || !S_ISDIR(ps.st_mode) || (ps.st_mode & 022) ||
      (ps.st_uid != 0 && ps.st_uid != geteuid()))
    return false;
  return lstat(path, st) == 0 && S_ISDIR(st->st_mode) && !(st->st_mode & 022);
}

static void add_dir(char (*dirs)[WSLA_OPT_PATH_MAX], size_t *n, size_t max, const char *d) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(dirs[i], d)) return;
  if (*n < max) snprintf(dirs[(*n)++], WSLA_OPT_PATH_MAX, "%s", d);
}

size_t service_recording_dirs(char (*dirs)[WSLA_OPT_PATH_MAX], size_t max) {
  const char *root = service_root();
  size_t n = 0;
  char path[4096];
  /* The directories the drop-ins name (a root-owned file each). */
  snprintf(path, sizeof path, "%s/etc/systemd/system", root);
  DIR *d = opendir(path);
  struct dirent *de;
  while (d && (de = readdir(d)) && n < max) {
    size_t l = strlen(de->d_name);
    if (l < 11 || strcmp(de->d_name + l - 10, ".service.d")) continue;
    char conf[4400];
    snprintf(conf, sizeof conf, "%s/%s/wslalloc.conf", path, de->d_name);
    int fd = open(conf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
        !(st.st_mode & 022) && st.st_size < 65536)
      f = fdopen(fd, "re");
    if (!f) {
      close(fd);
      continue;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
      static const char key[] = "Environment=\"WSLALLOC_DIR=";
      if (strncmp(line, key, sizeof key - 1)) continue;
      char *v = line + sizeof key - 1;
      v[strcspn(v, "\"\r\n")] = '\0';
      char full[4096];
      snprintf(full, sizeof full, "%s%s", root, v);
      if (v[0] == '/' && strlen(full) < WSLA_OPT_PATH_MAX) add_dir(dirs, &n, max, full);
    }
    fclose(f);
  }
  if (d) closedir(d);
  /* And every directory under /var/lib/wslalloc, the default. */
  snprintf(path, sizeof path, "%s/var/lib/wslalloc", root);
  d = opendir(path);
  while (d && (de = readdir(d)) && n < max) {
    if (de->d_name[0] == '.') continue;
    char full[4400];
    snprintf(full, sizeof full, "%s/%s", path, de->d_name);
    if (strlen(full) < WSLA_OPT_PATH_MAX) add_dir(dirs, &n, max, full);
  }
  if (d) closedir(d);
  return n;
}

/* Calls fn on each recording in a service directory (open as dfd, owned
   by owner) that is one: a regular file (no link, no FIFO, never blocking),
   owned by the directory's owner or root, mode 0600 or 0640 at most;
   notes each other *.wsla on stderr unless quiet. */
static void each_service_file(int dfd, const char *dir, uid_t owner, bool quiet,
                              void (*fn)(int fd, const char *path, void *arg), void *arg) {
  int fd2 = dup(dfd);
  DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
  if (!d) {
    if (fd2 >= 0) close(fd2);
    return;
  }
  struct dirent *de;
  size_t seen = 0;
  while ((de = readdir(d)) && seen++ < 100000) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".wsla")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_uid != owner && st.st_uid != 0) || (st.st_mode & 07137)) {
      if (!quiet)
        fprintf(stderr, "wslalloc: skipping %s: not a recording of this service (owner, mode "
                        "or type)\n", path);
      if (fd >= 0) close(fd);
      continue;
    }
    fn(fd, path, arg);
    close(fd);
  }
  closedir(d);
}

/* Calls fn on each readable service directory (fd open, its owner); notes
   each unreadable one on stderr with the fix, once per run of cmd. */
static void each_service_dir(const char *cmd, bool quiet,
                             void (*fn)(int dfd, const char *dir, uid_t owner, void *arg),
                             void *arg) {
  char own[WSLA_OPT_PATH_MAX];
  struct wsla_options o;
  wsla_options_load(&o, NULL);
  wsla_recording_dir(&o, own, sizeof own);
  static char dirs[64][WSLA_OPT_PATH_MAX];
  size_t n = service_recording_dirs(dirs, 64);
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(dirs[i], own)) continue;
    struct stat st;
    if (!trusted_dir(dirs[i], &st)) continue;
    int dfd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
      if (!quiet && (errno == EACCES || errno == EPERM)) {
        struct group *g = getgrgid(st.st_gid);
        const char *gname = g ? g->gr_name : "its group";
        fprintf(stderr, "wslalloc%s%s: cannot read the service recordings in %s: join group "
                        "%s (`sudo usermod -aG %s $USER`, then log in again)\n",
                cmd ? " " : "", cmd ? cmd : "", dirs[i], gname, gname);
      }
      continue;
    }
    fn(dfd, dirs[i], st.st_uid, arg);
    close(dfd);
  }
}

struct collect {
  struct rec ***all;
  size_t *n, cap;
  bool quiet;
  bool full; /* the heap refused more */
};

/* Reads one service recording as the user's own are read: mapped, within
   what its header claims, the header, counters, OOM records and live slots
   that ls and top show, never the events. */
static void collect_file(int fd, const char *path, void *arg) {
  struct collect *c = arg;
  struct rec *r = c->full ? NULL : malloc(sizeof *r);
  char why[4400];
  if (!r) {
    c->full = true;
    return;
  }
  if (rec_open_fd(fd, path, REC_SLOTS, r, why, sizeof why) != 0) {
    if (!c->quiet) fprintf(stderr, "wslalloc: skipping %s\n", why);
    free(r);
    return;
  }
  if (*c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    struct rec **more = realloc(*c->all, cap * sizeof **c->all);
    if (!more) {
      rec_close(r);
      free(r);
      c->full = true;
      return;
    }
    *c->all = more;
    c->cap = cap;
  }
  (*c->all)[(*c->n)++] = r;
}

static void collect_dir(int dfd, const char *dir, uid_t owner, void *arg) {
  struct collect *c = arg;
  each_service_file(dfd, dir, owner, c->quiet, collect_file, c);
}

void service_recordings_add(const char *cmd, struct rec ***all, size_t *n, bool quiet) {
  struct collect c = {all, n, *n, quiet, false};
  each_service_dir(cmd, quiet, collect_dir, &c);
  for (size_t i = 1; i < *n; i++) /* oldest first, as the user's own */
    for (size_t k = i; k > 0 && (*all)[k - 1]->hdr->start_realtime_ns >
                                    (*all)[k]->hdr->start_realtime_ns; k--) {
      struct rec *t = (*all)[k];
      (*all)[k] = (*all)[k - 1];
      (*all)[k - 1] = t;
    }
}

struct newest {
  int64_t *best;
  char *path;
  size_t len;
};

static void newest_file(int fd, const char *path, void *arg) {
  struct newest *nw = arg;
  struct wsla_header h;
  if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
      !memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) && h.start_realtime_ns > *nw->best) {
    *nw->best = h.start_realtime_ns;
    snprintf(nw->path, nw->len, "%s", path);
  }
}

static void newest_in_dir(int dfd, const char *dir, uid_t owner, void *arg) {
  each_service_file(dfd, dir, owner, true, newest_file, arg);
}

void service_find_newest(int64_t *best, char *path, size_t len) {
  struct newest nw = {best, path, len};
  /* report, plot, export: the note names no command. */
  each_service_dir(NULL, false, newest_in_dir, &nw);
}
