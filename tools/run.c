/* wslalloc run: runs a command with the library preloaded, then says what its recording holds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "others.h"
#include "tool.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc run [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with libwslalloc.so preloaded (ahead of any LD_PRELOAD\n"
    "already set).  When it ends, prints where its recording is and a short\n"
    "summary, or the whole report if it ran out of memory, on stderr; then\n"
    "exits with the command's own status (128 + N if signal N ended it).\n"
    "\n"
    "  --limit SIZE         WSLALLOC_LIMIT: cap device memory per device,\n"
    "                       as a card of that size would (e.g. 16G)\n"
    "  --headroom SIZE      WSLALLOC_HEADROOM: report that much less free memory\n"
    "  --pinned-limit SIZE  WSLALLOC_PINNED_LIMIT: cap pinned host memory\n"
    "  --wsl                WSLALLOC_PROFILE=wsl: the WSL2 workarounds together\n"
    "  --recover            WSLALLOC_RECOVER: trim and wait on out-of-memory\n"
    "  --retry-ms MS        WSLALLOC_RETRY_MS: how long to wait for memory\n"
    "  --vmm on|off|auto    WSLALLOC_VMM: off hides VMM support (WSL2 workaround)\n"
    "  --reserve SIZE       WSLALLOC_RESERVE: hold a ballast for the program\n"
    "  --spill host         WSLALLOC_SPILL: serve from host memory as a last step\n"
    "  --stitch on|off|force  WSLALLOC_STITCH\n"
    "  --events N           WSLALLOC_EVENTS: event ring capacity\n"
    "  --dir PATH           WSLALLOC_DIR: where recordings go\n"
    "  --quiet              WSLALLOC_QUIET: no messages from the library\n"
    "  --lib PATH           the libwslalloc.so to preload (default: beside\n"
    "                       this wslalloc, as built or installed)\n"
    "  -h, --help           this text\n"
    "SIZE takes K/M/G/T suffixes (powers of 1024).\n";

/* Flags that are options of the library, by the variable they set. */
static const struct {
  const char *flag;
  const char *var;
} flag_vars[] = {
    {"limit", "WSLALLOC_LIMIT"},   {"headroom", "WSLALLOC_HEADROOM"},
    {"pinned-limit", "WSLALLOC_PINNED_LIMIT"}, {"vmm", "WSLALLOC_VMM"},
    {"events", "WSLALLOC_EVENTS"}, {"dir", "WSLALLOC_DIR"},
    {"retry-ms", "WSLALLOC_RETRY_MS"}, {"reserve", "WSLALLOC_RESERVE"},
    {"spill", "WSLALLOC_SPILL"},       {"stitch", "WSLALLOC_STITCH"},
};

/* The library beside this program: the build tree's shim/, or the install
   tree's library directory. */
int tool_find_library(char *out, size_t len) {
  char exe[2048];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  const char *const candidates[] = {"../shim/libwslalloc.so",
                                    WSLALLOC_LIBDIR_REL "/libwslalloc.so",
                                    "../lib/libwslalloc.so"};
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    snprintf(out, len, "%s/%s", exe, candidates[i]);
    char *real = realpath(out, NULL);
    if (real) {
      snprintf(out, len, "%s", real);
      free(real);
      return 0;
    }
  }
  return -1;
}

/* Puts lib first in LD_PRELOAD, ahead of what is there, except a sanitizer
   runtime, which refuses to start anywhere but first. */
void tool_set_preload(const char *lib) {
  const char *old = getenv("LD_PRELOAD");
  char preload[8192];
  if (!old || !*old) {
    snprintf(preload, sizeof preload, "%s", lib);
  } else {
    size_t first = strcspn(old, ": ");
    char head[4096];
    snprintf(head, sizeof head, "%.*s", (int)first, old);
    const char *base = strrchr(head, '/');
    base = base ? base + 1 : head;
    static const char *const runtimes[] = {"libasan", "libtsan", "libhwasan",
                                           "libmsan", "liblsan", "libubsan"};
    bool sanitizer = false;
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
      sanitizer |= !strncmp(base, runtimes[i], strlen(runtimes[i]));
    if (sanitizer)
      snprintf(preload, sizeof preload, "%s:%s%s", head, lib, old + first);
    else
      snprintf(preload, sizeof preload, "%s:%s", lib, old);
  }
  setenv("LD_PRELOAD", preload, 1);
}

static const struct wsla_option_desc *option_named(const char *var) {
  for (size_t i = 0; i < wsla_option_count; i++)
    if (!strcmp(wsla_option_table[i].name, var)) return &wsla_option_table[i];
  return NULL;
}

/* Recordings in dir of process pid (a name ".<pid>." and that pid inside). */
static int recordings_of(const char *dir, pid_t pid, char paths[][4096], int max) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  char tag[32];
  snprintf(tag, sizeof tag, ".%d.", (int)pid);
  struct dirent *de;
  while ((de = readdir(d)) && found < max) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".wsla") || !strstr(de->d_name, tag))
      continue;
    snprintf(paths[found], 4096, "%s/%s", dir, de->d_name);
    int fd = open(paths[found], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    struct wsla_header h;
    ssize_t got = pread(fd, &h, sizeof h, 0);
    close(fd);
    if (got == (ssize_t)sizeof h && !memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) &&
        h.pid == pid)
      found++;
  }
  closedir(d);
  return found;
}

/* The calls that failed for another reason than memory, each error named
   once with its meaning: a program that aborts on cudaErrorInsufficientDriver
   is told why. */
static void summarise_failures(const struct rec *r) {
  enum { SHOWN = 4 };
  struct seen_error {
    uint16_t api;
    int32_t result;
    uint64_t count;
  } seen[SHOWN];
  size_t nseen = 0;
  uint64_t more = 0;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->type != WSLA_EV_FAIL) continue;
    size_t k = 0;
    while (k < nseen && (seen[k].api != e->api || seen[k].result != e->result)) k++;
    if (k < nseen) seen[k].count++;
    else if (nseen < SHOWN) seen[nseen++] = (struct seen_error){e->api, e->result, 1};
    else more++;
  }
  for (size_t k = 0; k < nseen; k++) {
    char error[128];
    api_error_text(seen[k].api, seen[k].result, error, sizeof error);
    const char *api = wsla_api_name(seen[k].api);
    fprintf(stderr, "  %s failed %" PRIu64 " %s: %s\n", api ? api : "a call", seen[k].count,
            seen[k].count == 1 ? "time" : "times", error);
    const char *meaning = api_error_meaning(seen[k].api, seen[k].result);
    if (meaning) fprintf(stderr, "    %s\n", meaning);
  }
  if (more)
    fprintf(stderr, "  and %" PRIu64 " other failed calls (wslalloc report lists them)\n", more);
}

static void summarise_to_stderr(const char *path) {
  char err[4400];
  struct rec r;
  if (rec_open(path, &r, err, sizeof err) != 0) {
    fprintf(stderr, "wslalloc run: %s\n", err);
    return;
  }
  uint64_t ooms = 0;
  for (unsigned i = 0; i < WSLA_API_MAX; i++) ooms += r.ctr->api[i].ooms;
  if (ooms) {
    rec_close(&r);
    fprintf(stderr, "\n");
    if (report_text(stderr, path, err, sizeof err) != 0)
      fprintf(stderr, "wslalloc run: %s\n", err);
    return;
  }
  char a[32], b[32];
  /* How it ended first: "no out-of-memory" alone would hide a kill. */
  const char *end = rec_end_state(&r);
  if (!strcmp(end, "killed"))
    fprintf(stderr, "\nwslalloc: killed without recording its end (SIGKILL, the OOM killer, "
                    "or _exit), no out-of-memory; recording %s\n", path);
  else if (!strcmp(end, "signal"))
    fprintf(stderr, "\nwslalloc: ended by signal %d (%s), no out-of-memory; recording %s\n",
            r.hdr->end_signal, strsignal(r.hdr->end_signal), path);
  else
    fprintf(stderr, "\nwslalloc: no out-of-memory; recording %s\n", path);
  summarise_failures(&r);
  for (unsigned i = 0; i < WSLA_DEVICE_MAX; i++) {
    const struct wsla_device_counters *d = &r.ctr->dev[i];
    if (!d->peak_bytes && !d->live_allocs) continue;
    fprintf(stderr, "  device %u: peak %s", i, fmt_size(d->peak_bytes, a, sizeof a));
    if (d->total_bytes) fprintf(stderr, " of %s", fmt_size(d->total_bytes, b, sizeof b));
    fprintf(stderr, "\n");
  }
  if (r.ctr->host_peak_bytes)
    fprintf(stderr, "  pinned host memory: peak %s\n",
            fmt_size(r.ctr->host_peak_bytes, a, sizeof a));
  /* What the large allocations were for, at their peaks. */
  struct purposes pu;
  purposes_build(&r, &pu);
  purposes_line(stderr, &pu, PURPOSE_PEAK, "  at their peaks: ");
  purposes_free(&pu);
  rec_close(&r);
  sym_close_all();
}

int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      {"limit", required_argument, NULL, 1},
      {"headroom", required_argument, NULL, 2},
      {"pinned-limit", required_argument, NULL, 3},
      {"vmm", required_argument, NULL, 4},
      {"events", required_argument, NULL, 5},
      {"dir", required_argument, NULL, 6},
      {"retry-ms", required_argument, NULL, 7},
      {"reserve", required_argument, NULL, 8},
      {"spill", required_argument, NULL, 9},
      {"stitch", required_argument, NULL, 10},
      {"recover", no_argument, NULL, 'r'},
      {"wsl", no_argument, NULL, 'w'},
      {"quiet", no_argument, NULL, 'q'},
      {"lib", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {0}};
  char lib[4096] = "";
  int c;
  optind = 1;
  opterr = 0;
  /* "+": stop at the first word that is not an option (the command). */
  while ((c = getopt_long(argc, argv, "+:qh", longopts, NULL)) != -1) {
    if (c == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (c == 'q') {
      setenv("WSLALLOC_QUIET", "1", 1);
    } else if (c == 'l') {
      snprintf(lib, sizeof lib, "%s", optarg);
    } else if (c == 'r') {
      setenv("WSLALLOC_RECOVER", "1", 1);
    } else if (c == 'w') {
      setenv("WSLALLOC_PROFILE", "wsl", 1);
    } else if (c >= 1 && c <= 10) {
      const char *var = flag_vars[c - 1].var;
      const struct wsla_option_desc *opt = option_named(var);
      struct wsla_options scratch;
      if (!opt || wsla_option_parse(opt, optarg, &scratch) != 0) {
        char expects[96] = "a valid value";
        if (opt) wsla_option_expects(opt, expects, sizeof expects);
        return tool_usage_error("run", "--%s %s: not %s", flag_vars[c - 1].flag, optarg,
                                expects);
      }
      setenv(var, optarg, 1);
    } else {
      return tool_bad_option("run", c, argc, argv);
    }
  }
  if (optind >= argc)
    return tool_usage_error("run", "no command given: wslalloc run [OPTIONS] -- CMD [ARGS]");
  if (!lib[0] && tool_find_library(lib, sizeof lib) != 0) {
    fprintf(stderr, "wslalloc run: cannot find libwslalloc.so beside this "
                    "program; name it with --lib PATH\n");
    return 2;
  }
  if (access(lib, R_OK) != 0) return tool_usage_error("run", "--lib %s: %s", lib, strerror(errno));
  tool_set_preload(lib);

  /* Before the command runs: the library would record in memory only. */
  tool_refuse_long_dir();
  struct wsla_options opts;
  wsla_options_load(&opts, NULL);
  char dir[WSLA_OPT_PATH_MAX];
  wsla_recording_dir(&opts, dir, sizeof dir);

  /* As system() does: the terminal's interrupt goes to the command, and
     this process waits for it to decide. */
  struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "wslalloc run: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    execvp(argv[optind], argv + optind);
    /* As shells do: 127 for a program not found, 126 for one found but
       not executable (a directory, no permission). */
    int e = errno;
    fprintf(stderr, "wslalloc run: %s: %s\n", argv[optind], strerror(e));
    _exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
  }
  int status;
  /* Waits; on WSL2 it also samples the Windows side for the OOM records. */
  others_supervise(pid, dir, &status);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

  char paths[8][4096];
  int n = recordings_of(dir, pid, paths, 8);
  if (n == 0 && rc != 127 && rc != 126)
    fprintf(stderr, "\nwslalloc: %s made no recording in %s (it used no GPU "
                    "memory through the CUDA runtime, driver or HIP)\n",
            argv[optind], dir);
  for (int i = 0; i < n; i++) summarise_to_stderr(paths[i]);
  return rc;
}
