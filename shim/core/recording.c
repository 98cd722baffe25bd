/* Recording: the file's layout, its creation and mapping, its header, and the marks of how the process ended. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alive.h"
#include "shim.h"

#define MODULE_CAP 1024u
#define OOM_CAP 1024u
/* The first OOMs' other programs: a burst beyond these adds little, and
   the file's blocks are reserved (128 KiB). */
#define OTHERS_CAP 256u
#define STACK_CAP 2048u /* distinct stacks of large allocations: 512 KiB */
#define MIN_EVENTS 1024u
#define MIN_LIVE 1024u
#define ANON_EVENTS 4096u
#define ANON_LIVE 4096u

static int warned_dir, warned_file, warned_space, warned_anon;
/* A chosen directory that is set-group-ID and group-readable (what
   `wslalloc service` makes for a service) shares its recordings with that
   group: files are made 0640 instead of 0600. */
static bool share_with_group;
/* This process's pid namespace (stat of /proc/self/ns/pid), 0 if unknown.
   Read before the recording's creation, by one thread. */
static uint64_t own_pidns_ino, own_pidns_dev;

static void read_own_pidns(void) {
  struct stat ns;
  if (!own_pidns_ino && stat("/proc/self/ns/pid", &ns) == 0) {
    own_pidns_ino = (uint64_t)ns.st_ino;
    own_pidns_dev = (uint64_t)ns.st_dev;
  }
}

static uint64_t round_page(uint64_t n) {
  return (n + WSLA_PAGE - 1) & ~(uint64_t)(WSLA_PAGE - 1);
}

static uint64_t pow2_ceil(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

struct layout {
  uint64_t counters_off, module_off, oom_off, oom_stack_off, stack_off, others_off, live_off,
      ring_off, size;
  uint64_t ring_cap, live_cap;
};

static void layout_for(struct layout *l, uint64_t ring_cap, uint64_t live_cap) {
  uint64_t off = WSLA_PAGE;
  l->ring_cap = ring_cap;
  l->live_cap = live_cap;
  l->counters_off = off;
  off += round_page(sizeof(struct wsla_counters));
  l->module_off = off;
  off += round_page((uint64_t)MODULE_CAP * sizeof(struct wsla_module));
  l->oom_off = off;
  off += round_page((uint64_t)OOM_CAP * sizeof(struct wsla_oom));
  l->oom_stack_off = off;
  off += round_page((uint64_t)OOM_CAP * sizeof(struct wsla_stack));
  l->stack_off = off;
  off += round_page((uint64_t)STACK_CAP * sizeof(struct wsla_stack));
  l->others_off = off;
  off += round_page((uint64_t)OTHERS_CAP * sizeof(struct wsla_others));
  l->live_off = off;
  off += round_page(live_cap * sizeof(struct wsla_live));
  l->ring_off = off;
  off += ring_cap * sizeof(struct wsla_event);
  l->size = off;
}

/* Creates dir and its missing parents, the last one 0700. */
static void make_dirs(const char *dir) {
  char buf[WSLA_OPT_PATH_MAX];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *s = buf + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    mkdir(buf, 0755);
    *s = '/';
  }
  mkdir(buf, 0700);
}

/* Opens the recording directory, only if it belongs to us; the default
   directory is kept private.  A link is followed only where the user chose
   the directory (WSLALLOC_DIR) and the link is the user's own: in a shared
   place (the default /tmp/wslalloc-<uid>) a link may have been planted. */
static int open_dir(const char *dir, bool chosen) {
  make_dirs(dir);
  struct stat link;
  bool own_link = chosen && lstat(dir, &link) == 0 && S_ISLNK(link.st_mode) &&
                  link.st_uid == geteuid();
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (own_link ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    int err = errno;
    if ((err == ENOTDIR || err == ELOOP) && lstat(dir, &link) == 0 && S_ISLNK(link.st_mode))
      wsla_warn_once(&warned_dir,
                     chosen ? "%s is a symbolic link of another user's; recording in memory only"
                            : "%s is a symbolic link, refused in a shared place; set "
                              "WSLALLOC_DIR to choose a directory; recording in memory only",
                     dir);
    else
      wsla_warn_once(&warned_dir, "cannot open %s (%s); recording in memory only",
                     dir, strerror(err));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
    wsla_warn_once(&warned_dir,
                   own_link ? "%s leads to a directory not owned by this user; "
                              "recording in memory only"
                            : "%s is not owned by this user; recording in memory only",
                   dir);
    close(fd);
    return -1;
  }
  if (!chosen && (st.st_mode & 077)) fchmod(fd, 0700);
  share_with_group = chosen && (st.st_mode & (S_ISGID | S_IRGRP)) == (S_ISGID | S_IRGRP);
  return fd;
}

static void exe_base(char *out, size_t len) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  path[n > 0 ? n : 0] = '\0';
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : (n > 0 ? path : "process");
  size_t i = 0;
  for (; base[i] && i + 1 < len && i < 64; i++) {
    char c = base[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out[i] = ok ? c : '_';
  }
  out[i] = '\0';
}

/* Sizes the file within RLIMIT_FSIZE (exceeding it raises SIGXFSZ, which
   would kill the client) and reserves its blocks, so that a full disk can
   never turn a store into the mapping into SIGBUS.  Halves the ring and the
   live slots until the space is had.  0 on success. */
static int reserve_space(int fd, struct layout *l) {
  struct rlimit rl;
  uint64_t limit = UINT64_MAX;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    limit = rl.rlim_cur;
  for (;;) {
    if (l->size <= limit) {
      int rc = posix_fallocate(fd, 0, (off_t)l->size);
      if (rc == 0) return 0;
      if (rc != ENOSPC && rc != EFBIG && rc != EDQUOT) {
        wsla_warn_once(&warned_space, "cannot reserve the recording (%s)",
                       strerror(rc));
        return -1;
      }
    }
    if (l->ring_cap <= MIN_EVENTS && l->live_cap <= MIN_LIVE) break;
    layout_for(l, l->ring_cap > MIN_EVENTS ? l->ring_cap / 2 : l->ring_cap,
               l->live_cap > MIN_LIVE ? l->live_cap / 2 : l->live_cap);
  }
  wsla_warn_once(&warned_space, "no room for a recording; recording in memory only");
  return -1;
}

/* The recording this process writes, kept open for its life so that its
   read lock (WSLA_FEAT_LIFE_LOCK) lasts as long as the process; and the
   process that opened it.  A traditional record lock belongs to the
   process: a child after fork does not inherit it (it makes a recording of
   its own), and exec closes the descriptor (O_CLOEXEC), which ends it with
   the process image that wrote the recording. */
static int life_fd = -1;
static pid_t life_pid;

/* Holds *fd's read lock from now on; false where locks do not work here.
   The descriptor moves out of the way first, above the low numbers a
   program may expect its own opens to get (closing the old number before
   the lock is taken: a record lock goes with any close of its file). */
static bool hold_for_life(int *fd) {
  /* A child's copy of its parent's descriptor: closing it drops only the
     child's own locks, of which it has none on that file. */
  if (life_fd >= 0 && life_pid != getpid()) close(life_fd);
  life_fd = -1;
  int high = fcntl(*fd, F_DUPFD_CLOEXEC, 256);
  if (high >= 0) {
    close(*fd);
    *fd = high;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(*fd, F_SETLK, &fl) != 0) return false;
  life_fd = *fd;
  life_pid = getpid();
  return true;
}

static void *map_file(struct layout *l, char *path_out, size_t path_len) {
  char dir[WSLA_OPT_PATH_MAX];
  /* A folder named but refused (wsla_options_load said why): never the
     default one instead. */
  if (wsla_dir_refused(&wsla_opts, NULL)) return NULL;
  wsla_recording_dir(&wsla_opts, dir, sizeof dir);
  int dfd = open_dir(dir, wsla_opts.dir.str[0] != '\0');
  if (dfd < 0) return NULL;
  char exe[72], name[128];
  exe_base(exe, sizeof exe);
  int fd = -1;
  for (int n = 0; n < 100 && fd < 0; n++) {
    if (n == 0)
      snprintf(name, sizeof name, "%s.%d.wsla", exe, (int)getpid());
    else
      snprintf(name, sizeof name, "%s.%d.%d.wsla", exe, (int)getpid(), n);
    fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd >= 0 && share_with_group) fchmod(fd, 0640); /* the umask may have cut it */
  if (fd < 0) {
    wsla_warn_once(&warned_file, "cannot create a recording in %s (%s); "
                   "recording in memory only", dir, strerror(errno));
    close(dfd);
    return NULL;
  }
  void *map = NULL;
  if (reserve_space(fd, l) == 0) {
    map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) map = NULL;
  }
  if (!map) unlinkat(dfd, name, 0);
  else snprintf(path_out, path_len, "%s/%s", dir, name);
  /* Locked before fill_header publishes the magic: a pruner never sees
     this recording as a recording without its lock. */
  bool locked = map && hold_for_life(&fd);
  if (!locked) close(fd);
  uint64_t pruned[2] = {0, 0};
  wsla_prune_recordings(dfd, name, pruned);
  close(dfd);
  if (locked) {
    struct wsla_header *h = map;
    h->pruned_clean = pruned[0];
    h->pruned_failed = pruned[1];
    h->features |= WSLA_FEAT_LIFE_LOCK;
  }
  return map;
}

/* What the report needs to know of the machine, taken while it can be:
   the kernel, WSL2 and its GPU device, the VM's memory. */
static void environment_start(struct wsla_header *h) {
  struct utsname u;
  char version[512] = "", meminfo[2048] = "";
  uname(&u);
  wsla_proc_read("/proc/version", version, sizeof version);
  wsla_proc_read("/proc/meminfo", meminfo, sizeof meminfo);
  char *total = strstr(meminfo, "MemTotal:");
  struct stat st;
  bool wsl = strstr(u.release, "microsoft") || strstr(u.release, "WSL") ||
             strstr(version, "icrosoft");
  snprintf(h->environment, sizeof h->environment,
           "kernel=%.128s\nwsl=%s\ndxg=%s\nvm_memory_bytes=%llu\n", u.release,
           wsl ? "yes" : "no", stat("/dev/dxg", &st) == 0 ? "yes" : "no",
           total ? strtoull(total + 9, NULL, 10) * 1024 : 0ull);
  h->features |= WSLA_FEAT_ENVIRONMENT;
}

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

void wsla_environment_add(struct wsla_proc *p, const char *lines) {
  pthread_mutex_lock(&env_lock);
  char *env = p->hdr->environment;
  size_t used = strnlen(env, sizeof p->hdr->environment);
  snprintf(env + used, sizeof p->hdr->environment - used, "%s", lines);
  pthread_mutex_unlock(&env_lock);
}

static void fill_header(struct wsla_header *h, const struct layout *l,
                        size_t file_size) {
  h->version = WSLA_FORMAT_VERSION;
  h->header_size = sizeof *h;
  h->file_size = file_size;
  h->counters_off = l->counters_off;
  h->module_off = l->module_off;
  h->oom_off = l->oom_off;
  h->live_off = l->live_off;
  h->ring_off = l->ring_off;
  h->counters_size = sizeof(struct wsla_counters);
  h->module_size = sizeof(struct wsla_module);
  h->module_cap = MODULE_CAP;
  h->oom_size = sizeof(struct wsla_oom);
  h->oom_cap = OOM_CAP;
  h->oom_stack_off = l->oom_stack_off;
  h->oom_stack_size = sizeof(struct wsla_stack);
  h->features |= WSLA_FEAT_OOM_STACKS;
  h->stack_off = l->stack_off;
  h->stack_cap = STACK_CAP;
  h->features |= WSLA_FEAT_STACKS;
  h->others_off = l->others_off;
  h->others_size = sizeof(struct wsla_others);
  h->others_cap = OTHERS_CAP;
  h->features |= WSLA_FEAT_OTHERS;
  h->features |= WSLA_FEAT_VIEW_OWN; /* wsla_sample_store fills it */
  h->live_size = sizeof(struct wsla_live);
  h->live_cap = l->live_cap;
  h->event_size = sizeof(struct wsla_event);
  h->api_max = WSLA_API_MAX;
  h->ring_cap = l->ring_cap;
  h->device_max = WSLA_DEVICE_MAX;
  h->pid = (int32_t)getpid();
  h->ppid = (int32_t)getppid();
  h->uid = (uint32_t)getuid();
  h->proc_start_ticks = wsla_pid_start_ticks(0);
  /* Which pid namespace `pid` is in: a reader outside the container the
     process ran in must not take it for one of its own. */
  read_own_pidns();
  if (own_pidns_ino) {
    h->pidns_ino = own_pidns_ino;
    h->pidns_dev = own_pidns_dev;
    h->features |= WSLA_FEAT_PIDNS;
  }
  h->sample_ms = (uint32_t)wsla_opts.sample_ms.num;
  ssize_t n = readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
  h->exe[n > 0 ? n : 0] = '\0';
  h->cmdline_len = (uint32_t)wsla_proc_read("/proc/self/cmdline", h->cmdline, sizeof h->cmdline);
  wsla_options_format(&wsla_opts, h->options, sizeof h->options);
  environment_start(h);
  /* Readers take a file as a recording once its magic is there; the
     release store publishes every field above with it. */
  uint64_t magic;
  memcpy(&magic, WSLA_MAGIC, sizeof magic);
  __atomic_store_n((uint64_t *)(void *)h->magic, magic, __ATOMIC_RELEASE);
}

/* --- how the process ended (init.c and exec.c mark it) --- */

/* Records how the process ends; false if nothing was recorded (no
   recording, or an end already marked).  Async-signal-safe. */
bool wsla_recording_mark_end(uint32_t state, int code, int sig) {
  if (!__atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE)) return false;
  struct wsla_header *h = wsla_g.hdr;
  if (__atomic_load_n(&h->end_state, __ATOMIC_RELAXED) != WSLA_END_RUNNING)
    return false;
  h->exit_code = code;
  h->end_signal = sig;
  h->end_time_ns = (int64_t)wsla_now(&wsla_g);
  /* Release: readers load end_state with acquire before the fields above. */
  __atomic_store_n(&h->end_state, state, __ATOMIC_RELEASE);
  return true;
}

/* The process survived a signal it was marked as dying of, or an exec
   that returned. */
void wsla_recording_unmark_end(void) {
  struct wsla_header *h = wsla_g.hdr;
  __atomic_store_n(&h->end_state, WSLA_END_RUNNING, __ATOMIC_RELEASE);
  h->end_signal = 0;
}

/* The environment's length before the exec line, for taking it back. */
static size_t exec_env_len;

bool wsla_exec_begin(const char *what) {
  if (!__atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE)) return false;
  /* A vfork child (Python's subprocess, among others) shares this memory
     and this mapping while it execs: the recording is its parent's. */
  if (wsla_g.hdr->pid != (int32_t)getpid() ||
      __atomic_load_n(&wsla_g.hdr->end_state, __ATOMIC_RELAXED) != WSLA_END_RUNNING)
    return false;
  wsla_modules_refresh(&wsla_g);
  char line[WSLA_PATH_MAX + 8];
  snprintf(line, sizeof line, "exec=%s\n", what ? what : "");
  for (char *c = line + 5; c[1]; c++)
    if (*c == '\n' || *c == '\r') *c = '?'; /* one line, whatever the name */
  pthread_mutex_lock(&env_lock);
  exec_env_len = strnlen(wsla_g.hdr->environment, sizeof wsla_g.hdr->environment);
  pthread_mutex_unlock(&env_lock);
  wsla_environment_add(&wsla_g, line);
  return wsla_recording_mark_end(WSLA_END_EXEC, 0, 0);
}

void wsla_exec_failed(void) {
  wsla_recording_unmark_end();
  pthread_mutex_lock(&env_lock);
  char *env = wsla_g.hdr->environment;
  size_t len = strnlen(env, sizeof wsla_g.hdr->environment);
  if (exec_env_len < len) memset(env + exec_env_len, 0, len - exec_env_len);
  pthread_mutex_unlock(&env_lock);
}

/* --- the recording, made on a process's first call (init.c) --- */

bool wsla_recording_open(struct wsla_proc *p) {
  uint64_t events = pow2_ceil(wsla_opts.events.num);
  struct layout l;
  /* The live slots are an open-addressing table: twice the expected live
     count, a power of two, keeps its probes short (table.c). */
  layout_for(&l, events, pow2_ceil(2 * wsla_opts.live_slots.num));
  void *map = NULL;
  p->path[0] = '\0';
  if (wsla_opts.record.num) map = map_file(&l, p->path, sizeof p->path);
  p->file_backed = map != NULL;
  if (!map) {
    /* Counters, OOM records and recent events still serve the process
       itself when no file can be had. */
    layout_for(&l, ANON_EVENTS, ANON_LIVE);
    map = mmap(NULL, l.size, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
      wsla_warn_once(&warned_anon, "cannot map memory for counters; "
                     "passing calls through unrecorded");
      return false;
    }
  }
  p->map = map;
  p->map_len = l.size;
  p->hdr = map;
  p->ctr = (void *)((char *)map + l.counters_off);
  p->modules = (void *)((char *)map + l.module_off);
  p->ooms = (void *)((char *)map + l.oom_off);
  p->oom_stacks = (void *)((char *)map + l.oom_stack_off);
  p->stacks = (void *)((char *)map + l.stack_off);
  p->stack_cap = STACK_CAP;
  p->others = (void *)((char *)map + l.others_off);
  p->others_cap = OTHERS_CAP;
  p->live = (void *)((char *)map + l.live_off);
  p->ring = (void *)((char *)map + l.ring_off);
  p->ring_mask = l.ring_cap - 1;
  p->live_cap = l.live_cap;
  p->oom_cap = OOM_CAP;
  p->module_cap = MODULE_CAP;
  p->sample_ns = wsla_opts.sample_ms.num * 1000000u;
  p->stack_min = wsla_opts.stacks.num ? wsla_opts.stacks.num : UINT64_MAX;
  memset(p->sample_next, 0, sizeof p->sample_next);
  fill_header(p->hdr, &l, l.size);
  /* Before the first event: its clock and time 0 (clock.c). */
  wsla_clock_start(p, p->hdr);
  wsla_modules_refresh(p);
  return true;
}

void wsla_recording_reset_after_fork(void) {
  pthread_mutex_init(&env_lock, NULL);
  own_pidns_ino = own_pidns_dev = 0; /* after unshare(CLONE_NEWPID), a new one */
}
