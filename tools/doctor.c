/* wslalloc doctor: checks the machine for what makes GPU memory run out under WSL2, each with a verdict and a fix. */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "others.h"
#include "tool.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc doctor [--target PROGRAM] [--pinned]\n"
    "\n"
    "Checks, each with a verdict (ok, warn, fail or skip) and what to do:\n"
    "WSL2 and /dev/dxg, where libcuda comes from, the VM's memory and\n"
    ".wslconfig, each GPU's total and free memory, room for recordings\n"
    "(tmpfs by default), and whether LD_PRELOAD can reach PROGRAM; pinned\n"
    "host memory only with --pinned, since probing it allocates.  What it\n"
    "cannot check it says so.\n"
    "\n"
    "  --target PROGRAM  check that LD_PRELOAD=libwslalloc.so can reach it\n"
    "  --pinned          probe how much pinned host memory can be had (it\n"
    "                    allocates, up to 16 GiB, and gives it back)\n"
    "  -h, --help        this text\n";

static int fails;

static void verdict(const char *level, const char *what, const char *detail,
                    const char *fix) {
  printf("[%-4s] %s%s%s\n", level, what, detail && *detail ? ": " : "", detail ? detail : "");
  if (fix && *fix)
    printf("       %s: %s\n", !strcmp(level, "warn") || !strcmp(level, "fail") ? "fix" : "note", fix);
  if (!strcmp(level, "fail")) fails++;
}

static bool read_text(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0) return false;
  buf[n] = '\0';
  return true;
}

static bool check_wsl(void) {
  struct utsname u;
  char version[512] = "";
  uname(&u);
  read_text("/proc/version", version, sizeof version);
  bool wsl = strstr(u.release, "microsoft") || strstr(u.release, "WSL") ||
             strstr(version, "icrosoft");
  struct stat st;
  bool dxg = stat("/dev/dxg", &st) == 0;
  char detail[600];
  snprintf(detail, sizeof detail, "kernel %s%s", u.release, dxg ? ", /dev/dxg present" : "");
  if (wsl && dxg) verdict("ok", "WSL2 with GPU paravirtualisation", detail, NULL);
  else if (wsl)
    verdict("fail", "WSL2 without /dev/dxg", detail,
            "update the Windows GPU driver and WSL (wsl --update), then restart WSL (wsl --shutdown)");
  else verdict("skip", "not WSL2", detail, "the WSL2 checks below do not apply");
  return wsl;
}

static void check_libcuda(bool wsl) {
  void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    verdict(wsl ? "fail" : "skip", "libcuda.so.1", "not found by the loader",
            wsl ? "it belongs in /usr/lib/wsl/lib, from the Windows driver: reinstall "
                  "the NVIDIA driver on Windows; do not install a Linux driver in WSL"
                : "no NVIDIA driver on this machine (GPU checks below are skipped)");
    return;
  }
  char where[4096] = "?";
  void *sym = dlsym(h, "cuInit");
  Dl_info info;
  if (sym && dladdr(sym, &info) && info.dli_fname) snprintf(where, sizeof where, "%s", info.dli_fname);
  bool from_wsl = strstr(where, "/usr/lib/wsl/") != NULL;
  if (wsl && !from_wsl)
    verdict("warn", "libcuda.so.1 does not come from /usr/lib/wsl/lib", where,
            "a Linux libcuda inside WSL2 shadows the Windows driver's: remove the "
            "Linux NVIDIA driver packages from the distribution");
  else verdict("ok", "libcuda.so.1", where, NULL);
  dlclose(h);
}

static void check_memory(bool wsl) {
  char meminfo[4096] = "";
  unsigned long long total_kb = 0;
  if (read_text("/proc/meminfo", meminfo, sizeof meminfo)) {
    char *t = strstr(meminfo, "MemTotal:");
    if (t) total_kb = strtoull(t + 9, NULL, 10);
  }
  char detail[128], size[32];
  snprintf(detail, sizeof detail, "%s", fmt_size(total_kb * 1024, size, sizeof size));
  verdict("ok", wsl ? "memory of the WSL2 VM" : "memory", detail, NULL);
  if (!wsl) return;
  glob_t g;
  bool found = false;
  if (glob("/mnt/c/Users/*/.wslconfig", 0, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      char text[8192];
      if (!read_text(g.gl_pathv[i], text, sizeof text)) continue;
      found = true;
      char *m = strstr(text, "memory");
      char line[256] = "no memory= line (WSL gives the VM half the host's memory)";
      if (m) snprintf(line, sizeof line, "%.*s", (int)strcspn(m, "\r\n"), m);
      verdict("ok", g.gl_pathv[i], line, NULL);
    }
    globfree(&g);
  }
  if (!found)
    verdict("skip", ".wslconfig", "none readable under /mnt/c/Users/*/",
            "to cap the VM's memory, set memory= under [wsl2] in %UserProfile%\\.wslconfig");
}

/* Each GPU's total and free memory, through the driver (no runtime). */
static void check_gpus(bool pinned) {
  void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    verdict("skip", "GPU memory", "no CUDA driver to ask", NULL);
    return;
  }
  int (*init)(unsigned) = (int (*)(unsigned))dlsym(h, "cuInit");
  int (*count)(int *) = (int (*)(int *))dlsym(h, "cuDeviceGetCount");
  int (*get)(int *, int) = (int (*)(int *, int))dlsym(h, "cuDeviceGet");
  int (*retain)(void **, int) = (int (*)(void **, int))dlsym(h, "cuDevicePrimaryCtxRetain");
  int (*set)(void *) = (int (*)(void *))dlsym(h, "cuCtxSetCurrent");
  int (*info)(size_t *, size_t *) = (int (*)(size_t *, size_t *))dlsym(h, "cuMemGetInfo_v2");
  int (*host_alloc)(void **, size_t, unsigned) =
      (int (*)(void **, size_t, unsigned))dlsym(h, "cuMemHostAlloc");
  int (*host_free)(void *) = (int (*)(void *))dlsym(h, "cuMemFreeHost");
  int n = 0, rc = -1;
  if (!init || !count || (rc = init(0)) != 0 || count(&n) != 0) {
    char d[64];
    snprintf(d, sizeof d, "the driver would not start (cuInit: %d)", rc);
    verdict("skip", "GPU memory", d, "no usable GPU here: check nvidia-smi.exe on Windows");
    dlclose(h);
    return;
  }
  for (int i = 0; i < n; i++) {
    int dev;
    void *ctx;
    size_t f = 0, t = 0;
    char d[160], a[32], b[32];
    if (!get || !retain || !set || !info || get(&dev, i) || retain(&ctx, dev) || set(ctx) ||
        info(&f, &t)) {
      snprintf(d, sizeof d, "device %d could not be asked", i);
      verdict("warn", "GPU memory", d, NULL);
      continue;
    }
    snprintf(d, sizeof d, "device %d: %s free of %s", i, fmt_size(f, a, sizeof a), fmt_size(t, b, sizeof b));
    bool busy = f < t / 10 * 7;
    verdict(busy ? "warn" : "ok", "GPU memory", d,
            busy ? "over 30% is held by others (the desktop, browsers, other models): "
                   "close GPU-heavy apps before loading a model, or set WSLALLOC_HEADROOM"
                 : NULL);
  }
  if (pinned && host_alloc && host_free && n > 0) {
    /* Doubling, then keeping what was had: at most 16 GiB, all given back. */
    void *blocks[64];
    int got = 0;
    size_t held = 0, step = (size_t)256 << 20;
    while (got < 64 && held + step <= ((size_t)16 << 30) && host_alloc(&blocks[got], step, 0) == 0) {
      held += step;
      got++;
    }
    for (int k = 0; k < got; k++) host_free(blocks[k]);
    char d[96], a[32];
    snprintf(d, sizeof d, "%s could be pinned%s", fmt_size(held, a, sizeof a),
             held >= ((size_t)16 << 30) ? " (probe stopped at 16 GiB)" : "");
    verdict(held < ((size_t)1 << 30) ? "warn" : "ok", "pinned host memory", d,
            held < ((size_t)1 << 30) ? "pinned memory is capped here: set WSLALLOC_PINNED_LIMIT "
                                       "below it so programs fall back to pageable memory"
                                     : NULL);
  } else if (!pinned) {
    verdict("skip", "pinned host memory", "not probed", "run with --pinned to measure it");
  }
  dlclose(h);
}

/* Whether LD_PRELOAD can reach program: a dynamic executable, not setuid. */
/* Where recordings go: room for the next one, and what the kept ones
   hold.  The default directory is tmpfs, where a recording's reserved size
   is memory; with no room the library records in memory only, and nothing
   survives a crash. */
static void check_recordings(void) {
  struct wsla_options o;
  wsla_options_load(&o, NULL);
  size_t long_dir;
  if (wsla_dir_refused(&o, &long_dir)) {
    char d[160];
    snprintf(d, sizeof d, "WSLALLOC_DIR is longer than %d bytes (%zu bytes): the library records in "
             "memory only", WSLA_OPT_PATH_MAX - 1, long_dir);
    verdict("fail", "recordings", d, "set WSLALLOC_DIR to a shorter path");
    return;
  }
  char dir[WSLA_OPT_PATH_MAX], d[WSLA_OPT_PATH_MAX + 256], a[32], b[32], c[32];
  wsla_recording_dir(&o, dir, sizeof dir);
  /* One recording at these options: the ring, the live slots, and about
     2 MiB of header, counters, modules and stacks. */
  uint64_t slots = 1;
  while (slots < 2 * o.live_slots.num) slots <<= 1; /* the table's sizing */
  uint64_t one = o.events.num * sizeof(struct wsla_event) +
                 slots * sizeof(struct wsla_live) + (2u << 20);
  /* Not made yet (the library makes it on first use): the file system of
     the nearest folder above it that exists. */
  struct statvfs vfs;
  char probe[WSLA_OPT_PATH_MAX];
  snprintf(probe, sizeof probe, "%s", dir);
  while (statvfs(probe, &vfs) != 0) {
    char *slash = strrchr(probe, '/');
    if (!slash || slash == probe) {
      snprintf(d, sizeof d, "%s: %s", dir, strerror(errno));
      verdict("warn", "recordings", d, "set WSLALLOC_DIR to a writable directory");
      return;
    }
    *slash = '\0';
  }
  /* A folder that ls and report would refuse is no [ok] here: the same
     checks, the same words (reader.c). */
  char why[WSLA_OPT_PATH_MAX + 400];
  if (rec_dir_trusted(dir, o.dir.str[0] != '\0', why, sizeof why) != 0 && errno != ENOENT) {
    char *fix = strstr(why, "; ");
    if (fix) *fix = '\0', fix += 2;
    verdict("fail", "recordings", why, fix);
    return;
  }
  struct statfs fs;
  bool tmpfs = statfs(probe, &fs) == 0 && fs.f_type == 0x01021994; /* TMPFS_MAGIC */
  uint64_t room = (uint64_t)vfs.f_bavail * vfs.f_frsize, held = 0;
  unsigned count = 0;
  DIR *dd = opendir(dir);
  for (struct dirent *e; dd && (e = readdir(dd)) != NULL;) {
    size_t n = strlen(e->d_name);
    struct stat st;
    if (n > 5 && !strcmp(e->d_name + n - 5, ".wsla") && fstatat(dirfd(dd), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
      count++;
      held += (uint64_t)st.st_blocks * 512;
    }
  }
  bool made = dd != NULL;
  if (dd) closedir(dd);
  snprintf(d, sizeof d, "%s%s%s: %u held, %s; %s free; each new one reserves about %s", dir,
           made ? "" : " (made on first use)", tmpfs ? " (tmpfs: memory)" : "", count,
           fmt_size(held, a, sizeof a), fmt_size(room, b, sizeof b), fmt_size(one, c, sizeof c));
  if (room < one)
    verdict("warn", "recordings", d,
            "no room for the next recording, which would then be kept in memory only: "
            "set WSLALLOC_DIR elsewhere, lower WSLALLOC_KEEP or WSLALLOC_EVENTS, or delete old ones");
  else
    verdict("ok", "recordings", d,
            o.keep.num ? "the newest WSLALLOC_KEEP of ended processes are kept" : "WSLALLOC_KEEP=0: all are kept");
}

static void check_target(const char *program) {
  char path[4096];
  if (strchr(program, '/')) snprintf(path, sizeof path, "%s", program);
  else {
    /* As the shell would find it, along PATH. */
    char dirs[8192], *save;
    snprintf(dirs, sizeof dirs, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    path[0] = '\0';
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      snprintf(path, sizeof path, "%s/%.200s", dir, program);
      if (access(path, X_OK) == 0) break;
      path[0] = '\0';
    }
  }
  struct stat st;
  int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0 || fstat(fd, &st) != 0) {
    verdict("fail", "LD_PRELOAD target", program, "no such program");
    if (fd >= 0) close(fd);
    return;
  }
  Elf64_Ehdr eh;
  bool elf = pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && !memcmp(eh.e_ident, ELFMAG, SELFMAG);
  bool dynamic = false;
  for (int i = 0; elf && i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph) break;
    dynamic |= ph.p_type == PT_INTERP;
  }
  close(fd);
  if (!elf)
    verdict("ok", "LD_PRELOAD target", path,
            "a script: the preload reaches the programs it starts (python, node...)");
  else if (st.st_mode & (S_ISUID | S_ISGID))
    verdict("fail", "LD_PRELOAD target", path, "set-user-ID programs ignore LD_PRELOAD");
  else if (!dynamic)
    verdict("warn", "LD_PRELOAD target", path,
            "statically linked: LD_PRELOAD cannot reach it (a static CUDA runtime inside a "
            "dynamic program is fine)");
  else verdict("ok", "LD_PRELOAD target", path, NULL);
}

int cmd_doctor(int argc, char **argv) {
  static const struct option longopts[] = {
      {"target", required_argument, NULL, 't'}, {"pinned", no_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'}, {0}};
  const char *target = NULL;
  bool pinned = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    if (c == 't') target = optarg;
    else if (c == 'p') pinned = true;
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("doctor", c, argc, argv);
  }
  if (optind < argc)
    return tool_usage_error("doctor", "takes options only, not '%s'", argv[optind]);
  fails = 0;
  bool wsl = check_wsl();
  check_libcuda(wsl);
  check_memory(wsl);
  check_gpus(pinned);
  check_recordings();
  others_doctor(verdict); /* the other programs on the GPU: which backend, what it sees */
  if (target) check_target(target);
  else verdict("skip", "LD_PRELOAD target", "none named", "name one with --target PROGRAM");
  return fails ? 1 : 0;
}
