/* Recording: creates the mapped file, keeps its module map, and marks how the process ended. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "budget.h"
#include "shim.h"
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
#include "ballast.h"
#include "vmm.h"
#endif

struct wsla_proc wsla_g;
struct wsla_options wsla_opts;
int wsla_g_ready;
int wsla_budget_active;
__thread struct wsla_tls wsla_tls __attribute__((tls_model("initial-exec")));

#define MODULE_CAP 1024u
#define OOM_CAP 1024u
#define STACK_CAP 2048u /* distinct stacks of large allocations: 512 KiB */
#define MIN_EVENTS 1024u
#define MIN_LIVE 1024u
#define ANON_EVENTS 4096u
#define ANON_LIVE 4096u

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t disabled_pid; /* this process gave up recording altogether */

static int warned_dir, warned_file, warned_space, warned_anon;

pid_t wsla_tid_slow(void) {
  pid_t t = (pid_t)syscall(SYS_gettid);
  wsla_tls.tid = t;
  return t;
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
  uint64_t counters_off, module_off, oom_off, oom_stack_off, stack_off, live_off, ring_off, size;
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
  l->live_off = off;
  off += round_page(live_cap * sizeof(struct wsla_live));
  l->ring_off = off;
  off += ring_cap * sizeof(struct wsla_event);
  l->size = off;
}

/* wsla_options_load reports each bad variable once per process image. */
static void warn_line(const char *msg) { wsla_warn_once(NULL, "%s", msg); }

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

/* Opens the recording directory without following a planted link, and only
   if it belongs to us; the default directory is kept private. */
static int open_dir(const char *dir, bool chosen) {
  make_dirs(dir);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    wsla_warn_once(&warned_dir, "cannot open %s (%s); recording in memory only",
                   dir, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
    wsla_warn_once(&warned_dir,
                   "%s is not owned by this user; recording in memory only",
                   dir);
    close(fd);
    return -1;
  }
  if (!chosen && (st.st_mode & 077)) fchmod(fd, 0700);
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

/* The start time (clock ticks since boot, /proc/<pid>/stat field 22) of
   pid, or 0 if it is gone or unreadable. */
static uint64_t start_ticks_of(pid_t pid);

/* True if the recording's process may still be running: it never wrote its
   end, and a process with its pid and start time exists. */
static bool still_running(const struct wsla_header *h) {
  if (h->end_state != WSLA_END_RUNNING || h->pid <= 0) return false;
  if (kill(h->pid, 0) != 0 && errno != EPERM) return false;
  uint64_t ticks = start_ticks_of(h->pid);
  return !ticks || !h->proc_start_ticks || ticks == h->proc_start_ticks;
}

struct kept {
  int64_t started_ns;
  char name[256];
};

static int older_first(const void *a, const void *b) {
  const struct kept *x = a, *y = b;
  return (x->started_ns > y->started_ns) - (x->started_ns < y->started_ns);
}

/*
 * WSLALLOC_KEEP: deletes the oldest recordings of ended processes in the
 * directory beyond the number kept, once, when this process's own is made:
 * the default directory is tmpfs, where each recording holds its size in
 * memory.  Only regular files of this user's, named *.wsla, whose header is
 * a recording's and whose process has ended or is gone; own is never
 * considered.  Two processes pruning at once may both unlink a file: the
 * second finds it gone, which is the same outcome.
 */
static void prune_recordings(int dfd, const char *own) {
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
                    !memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) && !still_running(&h);
    close(rfd);
    if (!is_ended) continue;
    if (used == cap) {
      size_t more = cap ? cap * 2 : 32;
      struct kept *grown = realloc(ended, more * sizeof *ended);
      if (!grown) break;
      ended = grown, cap = more;
    }
    ended[used].started_ns = h.start_realtime_ns;
    memcpy(ended[used].name, e->d_name, len + 1);
    used++;
  }
  closedir(d);
  if (used > keep) {
    qsort(ended, used, sizeof *ended, older_first);
    for (size_t i = 0; i < used - keep; i++) unlinkat(dfd, ended[i].name, 0);
  }
  free(ended);
}

static void *map_file(struct layout *l, char *path_out, size_t path_len) {
  char dir[WSLA_OPT_PATH_MAX];
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
  close(fd);
  prune_recordings(dfd, name);
  close(dfd);
  return map;
}

static void read_proc(const char *path, char *buf, size_t len, size_t *got) {
  *got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n;
  while (*got < len && (n = read(fd, buf + *got, len - *got)) > 0)
    *got += (size_t)n;
  close(fd);
}

static uint64_t proc_start_ticks(void) { return start_ticks_of(0); }

static uint64_t start_ticks_of(pid_t pid) {
  char buf[1024], path[64];
  size_t n;
  if (pid) snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  else snprintf(path, sizeof path, "/proc/self/stat");
  read_proc(path, buf, sizeof buf - 1, &n);
  buf[n] = '\0';
  char *s = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!s) return 0;
  /* After ")": field 3 (state) ... field 22 (starttime). */
  int field = 2;
  for (; *s && field < 22; s++)
    if (*s == ' ') field++;
  return strtoull(s, NULL, 10);
}

/* What the report needs to know of the machine, taken while it can be:
   the kernel, WSL2 and its GPU device, the VM's memory. */
static void environment_start(struct wsla_header *h) {
  struct utsname u;
  char version[512] = "", meminfo[2048] = "";
  size_t got;
  uname(&u);
  read_proc("/proc/version", version, sizeof version - 1, &got);
  version[got] = '\0';
  read_proc("/proc/meminfo", meminfo, sizeof meminfo - 1, &got);
  meminfo[got] = '\0';
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

void wsla_environment_add(struct wsla_proc *p, const char *lines) {
  static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&env_lock);
  char *env = p->hdr->environment;
  size_t used = strnlen(env, sizeof p->hdr->environment);
  snprintf(env + used, sizeof p->hdr->environment - used, "%s", lines);
  pthread_mutex_unlock(&env_lock);
}

static void fill_header(struct wsla_header *h, const struct layout *l,
                        size_t file_size) {
  struct timespec rt, mono;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
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
  h->live_size = sizeof(struct wsla_live);
  h->live_cap = l->live_cap;
  h->event_size = sizeof(struct wsla_event);
  h->api_max = WSLA_API_MAX;
  h->ring_cap = l->ring_cap;
  h->device_max = WSLA_DEVICE_MAX;
  h->pid = (int32_t)getpid();
  h->ppid = (int32_t)getppid();
  h->uid = (uint32_t)getuid();
  h->proc_start_ticks = proc_start_ticks();
  h->start_realtime_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
  h->start_monotonic_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
  h->sample_ms = (uint32_t)wsla_opts.sample_ms.num;
  ssize_t n = readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
  h->exe[n > 0 ? n : 0] = '\0';
  size_t got;
  read_proc("/proc/self/cmdline", h->cmdline, sizeof h->cmdline - 1, &got);
  h->cmdline_len = (uint32_t)got;
  wsla_options_format(&wsla_opts, h->options, sizeof h->options);
  environment_start(h);
  /* Readers take a file as a recording once its magic is there; the
     release store publishes every field above with it. */
  uint64_t magic;
  memcpy(&magic, WSLA_MAGIC, sizeof magic);
  __atomic_store_n((uint64_t *)(void *)h->magic, magic, __ATOMIC_RELEASE);
}

/* --- modules --- */

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long module_adds_seen;

static int read_adds(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long long *)data = info->dlpi_adds;
  return 1; /* one callback is enough to read the counter */
}

/* True if [a, a + n) lies inside one of the module's loaded segments. */
static bool loaded(const struct dl_phdr_info *info, uint64_t a, uint64_t n) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uint64_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && a >= lo && n <= ph->p_memsz && a - lo <= ph->p_memsz - n)
      return true;
  }
  return false;
}

/* Copies the module's GNU build-id, read from its notes as loaded (no file
   is opened), into out; its length, or 0 where it has none.  Only notes
   inside a loaded segment are read, so a malformed object cannot fault. */
static uint8_t module_build_id(const struct dl_phdr_info *info, uint8_t *out, size_t cap) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uint64_t at = info->dlpi_addr + ph->p_vaddr, end = at + ph->p_memsz;
    if (ph->p_type != PT_NOTE || !loaded(info, at, ph->p_memsz)) continue;
    uint64_t align = ph->p_align == 8 ? 8 : 4; /* notes pad to their segment's alignment */
    while (at < end && end - at >= sizeof(ElfW(Nhdr))) {
      const ElfW(Nhdr) *n = (const void *)(uintptr_t)at;
      uint64_t name = at + sizeof *n;
      uint64_t desc = name + ((n->n_namesz + align - 1) & ~(align - 1));
      if (desc > end || n->n_descsz > end - desc) break;
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
          !memcmp((const void *)(uintptr_t)name, "GNU", 4) && n->n_descsz > 0) {
        size_t len = n->n_descsz < cap ? n->n_descsz : cap;
        memcpy(out, (const void *)(uintptr_t)desc, len);
        return (uint8_t)len;
      }
      at = desc + ((n->n_descsz + align - 1) & ~(align - 1));
    }
  }
  return 0;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct wsla_proc *p = data;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uint64_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < lo) lo = a;
    if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
  }
  if (lo >= hi) return 0;
  uint64_t count = p->ctr->modules_count;
  for (uint64_t i = 0; i < count && i < p->module_cap; i++)
    if (p->modules[i].lo == lo && p->modules[i].hi == hi) return 0;
  if (count >= p->module_cap) {
    __atomic_fetch_add(&p->ctr->modules_lost, 1, __ATOMIC_RELAXED);
    return 0;
  }
  struct wsla_module *m = &p->modules[count];
  m->bias = info->dlpi_addr;
  m->lo = lo;
  m->hi = hi;
  m->build_id_len = module_build_id(info, m->build_id, sizeof m->build_id);
  const char *name = info->dlpi_name;
  if (!name || !*name) name = p->hdr->exe; /* the main program */
  /* A long path keeps its tail: the file name is what a reader needs. */
  size_t len = strlen(name), room = sizeof m->path - 1;
  const char *tail = len > room ? name + (len - room) : name;
  memcpy(m->path, tail, len > room ? room : len);
  m->path[len > room ? room : len] = '\0';
  /* Release: pairs with a reader's acquire load of commit. */
  __atomic_store_n(&m->commit, count + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&p->ctr->modules_count, count + 1, __ATOMIC_RELEASE);
  return 0;
}

void wsla_modules_refresh(struct wsla_proc *p) {
  unsigned long long counted = 0;
  dl_iterate_phdr(read_adds, &counted);
  /* A copy whose address was never given out: GCC 12 at -O3 takes the
     store of an address-taken local for a dangling pointer. */
  const unsigned long long adds = counted;
  if (adds == __atomic_load_n(&module_adds_seen, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&module_lock);
  if (adds != __atomic_load_n(&module_adds_seen, __ATOMIC_RELAXED)) {
    dl_iterate_phdr(add_module, p);
    __atomic_store_n(&module_adds_seen, adds, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&module_lock);
}

/* --- the end of the process --- */

#define FATAL_COUNT 5
static const int fatal_signals[FATAL_COUNT] = {SIGSEGV, SIGABRT, SIGBUS,
                                               SIGFPE, SIGILL};
static struct sigaction previous[FATAL_COUNT];

/* Records how the process ends; false if nothing was recorded (no
   recording, or an end already marked).  Async-signal-safe. */
static bool mark_end(uint32_t state, int code, int sig) {
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

/* The process survived a signal it was marked as dying of. */
static void unmark_end(void) {
  struct wsla_header *h = wsla_g.hdr;
  __atomic_store_n(&h->end_state, WSLA_END_RUNNING, __ATOMIC_RELEASE);
  h->end_signal = 0;
}

static void on_process_exit(int status, void *arg) {
  (void)arg;
  if (!__atomic_load_n(&wsla_g_ready, __ATOMIC_ACQUIRE)) return;
  wsla_modules_refresh(&wsla_g);
  mark_end(WSLA_END_EXIT, status, 0);
  /* An uncaught PyTorch OOM error ends the process this way. */
  if (status != 0) wsla_first_aid_print(false);
}

/*
 * Async-signal-safe: marks the recording, then hands the signal on exactly as
 * the disposition before ours would have taken it.  A handler of the client's
 * that returns has dealt with the signal (a JIT's fault handler, say), so the
 * mark is taken back; one that never returns leaves it.
 */
static void on_fatal_signal(int sig, siginfo_t *info, void *uc) {
  int saved_errno = errno;
  int i = 0;
  while (i < FATAL_COUNT && fatal_signals[i] != sig) i++;
  if (i == FATAL_COUNT) return;
  struct sigaction *old = &previous[i];
  bool marked = mark_end(WSLA_END_SIGNAL, 0, sig);
  /* llama.cpp aborts right after a failed allocation: the explanation goes
     out before the signal is handed on. */
  wsla_first_aid_print(true);
  if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
    errno = saved_errno;
    old->sa_sigaction(sig, info, uc);
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    errno = saved_errno;
    old->sa_handler(sig);
  } else {
    /* Restore what was there.  Ignored: return as the kernel would have
       (a fault then re-executes, and the kernel kills as it would have).
       Default: deliver it again once this handler returns. */
    sigaction(sig, old, NULL);
    if (old->sa_handler == SIG_DFL) {
      raise(sig);
      errno = saved_errno;
      return;
    }
  }
  if (marked) unmark_end();
  errno = saved_errno;
}

static void install_signal_handlers(void) {
  for (int i = 0; i < FATAL_COUNT; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(fatal_signals[i], &sa, &previous[i]);
  }
}

static void after_fork_child(void) {
  /* The parent's mapping is shared with the parent: never write it again. */
  if (wsla_g_ready) munmap(wsla_g.map, wsla_g.map_len);
  memset(&wsla_g, 0, sizeof wsla_g);
  wsla_g_ready = 0;
  wsla_tls.tid = 0;
  disabled_pid = 0;
  module_adds_seen = 0;
  pthread_mutex_init(&init_lock, NULL);
  pthread_mutex_init(&module_lock, NULL);
  wsla_table_reset_after_fork();
  wsla_budget_reset_after_fork();
  wsla_first_aid_reset_after_fork();
  wsla_stack_reset_after_fork();
#if WSLA_HAVE_CUDA || WSLA_HAVE_HIP
  wsla_vmm_reset_after_fork();
  wsla_ballast_reset_after_fork();
#endif
}

static void once_per_process_image(void) {
  wsla_options_load(&wsla_opts, warn_line);
  char applied[256];
  wsla_options_apply_profile(&wsla_opts, applied, sizeof applied);
  if (applied[0])
    wsla_warn_once(NULL, "WSLALLOC_PROFILE=wsl set %s", applied);
  wsla_budget_active = wsla_opts.limit.num || wsla_opts.pinned_limit.num;
  pthread_atfork(NULL, NULL, after_fork_child);
  on_exit(on_process_exit, NULL);
  install_signal_handlers();
}

static bool open_recording(struct wsla_proc *p) {
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
  p->live = (void *)((char *)map + l.live_off);
  p->ring = (void *)((char *)map + l.ring_off);
  p->ring_mask = l.ring_cap - 1;
  p->live_cap = l.live_cap;
  p->oom_cap = OOM_CAP;
  p->module_cap = MODULE_CAP;
  p->sample_ns = wsla_opts.sample_ms.num * 1000000u;
  fill_header(p->hdr, &l, l.size);
  p->start_mono_ns = p->hdr->start_monotonic_ns;
  wsla_modules_refresh(p);
  return true;
}

struct wsla_proc *wsla_proc_init(void) {
  pthread_once(&process_once, once_per_process_image);
  pthread_mutex_lock(&init_lock);
  if (!wsla_g_ready && disabled_pid != getpid()) {
    if (open_recording(&wsla_g))
      /* Release: pairs with the acquire load in wsla_proc_get. */
      __atomic_store_n(&wsla_g_ready, 1, __ATOMIC_RELEASE);
    else
      disabled_pid = getpid();
  }
  pthread_mutex_unlock(&init_lock);
  return wsla_g_ready ? &wsla_g : NULL;
}
