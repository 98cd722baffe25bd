/* wslalloc replay: a recording's (or RMM log's) allocations, re-run against this machine's CUDA runtime. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "tool.h"
#include "wslalloc/options.h"

static const char *const usage =
    "usage: wslalloc replay FILE [--json] [--limit SIZE] [--recover]\n"
    "                       [--failures reproduce|skip] [--speed N|max]\n"
    "\n"
    "Re-runs the allocations of FILE, a wslalloc recording or a RAPIDS RMM\n"
    "log (CSV), against the CUDA runtime this machine loads: a real GPU, or\n"
    "the simulated one through LD_LIBRARY_PATH.  Events run in the order they\n"
    "were recorded, which keeps each thread's own order; pointers are mapped\n"
    "to the new allocations; device memory with cudaMalloc, pinned memory\n"
    "with cudaMallocHost.  It reports whether and where memory ran out, the\n"
    "time per call by API and size, and the peak per device.  Stream-ordered\n"
    "allocations are replayed with cudaMallocAsync; an RMM log's streams each\n"
    "get a stream of their own.  A request that failed when recorded is part\n"
    "of the workload and is tried again; if it succeeds now it is counted in\n"
    "the peak and given back at once, since the recording has no free for it.\n"
    "\n"
    "  --limit SIZE        replay under WSLALLOC_LIMIT=SIZE (\"does it fit on\n"
    "                      16 GiB?\"): the library is preloaded for the replay,\n"
    "                      recording into a temporary folder of its own\n"
    "  --recover           replay with WSLALLOC_RECOVER=1, the recovery ladder\n"
    "  --failures reproduce  recorded failed allocations are tried again (default)\n"
    "  --failures skip     they are left out, and the summary says so\n"
    "  --speed max         no waiting between calls (default)\n"
    "  --speed N           the recorded gaps between calls, N times faster\n"
    "  --runtime cuda|hip  the runtime to replay on (default: CUDA's if it\n"
    "                      loads, else HIP's)\n"
    "  --json              machine-readable output\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 if every allocation succeeded, 3 if memory ran out, 1 if\n"
    "the replay could not run or the recording is not the whole workload\n"
    "(events lost, a file cut short: no verdict), 2 for bad arguments.\n";

/* cudaErrorMemoryAllocation: the runtime's out-of-memory code. */
#define CUDA_ERROR_MEMORY_ALLOCATION 2


/* One call to make: from the recording's events or an RMM log's rows. */
struct step {
  uint64_t time_ns;
  uint64_t addr; /* the recorded pointer, the key of the mapping */
  uint64_t size;
  uint32_t tid;
  int16_t device;
  bool is_alloc, host, recorded_failure;
  bool async;      /* stream-ordered: replayed with cudaMallocAsync */
  uint64_t stream; /* the recorded stream (RMM logs); 0 the default */
  uint16_t api;
  uint64_t index; /* in the recording's kept events, or the log's row */
  uint64_t aux;   /* the event's: a stack id (ALLOC) or an OOM record's index (OOM) */
};

struct mapping {
  uint64_t recorded;
  void *now;
  uint64_t size;
  int16_t device;
  bool host, async;
  void *stream;
  UT_hash_handle hh;
};

#define SIZE_CLASSES 4
static const char *const size_class_names[SIZE_CLASSES] = {"< 1 MiB", "1-64 MiB", "64 MiB-1 GiB",
                                                           ">= 1 GiB"};
static int size_class(uint64_t size) {
  return size < (1u << 20) ? 0 : size < (64u << 20) ? 1 : size < (1u << 30) ? 2 : 3;
}

/* The recorded streams, each given a stream of its own here. */
struct stream_map {
  uint64_t recorded;
  void *now;
  UT_hash_handle hh;
};

struct timing {
  uint64_t calls, ns;
};

struct replay_oom {
  struct step step;
  uint64_t free_bytes, total_bytes;
  int error;
};

static bool host_api(uint16_t api) {
  switch (api) {
  case WSLA_API_cudaMallocHost: case WSLA_API_cudaHostAlloc: case WSLA_API_cudaFreeHost:
  case WSLA_API_hipHostMalloc: case WSLA_API_hipHostFree: case WSLA_API_hipMallocHost:
  case WSLA_API_hipFreeHost: case WSLA_API_cuMemAllocHost_v2: case WSLA_API_cuMemHostAlloc:
  case WSLA_API_cuMemFreeHost:
    return true;
  default:
    return false;
  }
}

static bool async_api(uint16_t api) {
  switch (api) {
  case WSLA_API_cudaMallocAsync: case WSLA_API_cudaFreeAsync: case WSLA_API_cudaMallocFromPoolAsync:
  case WSLA_API_hipMallocAsync: case WSLA_API_hipFreeAsync: case WSLA_API_hipMallocFromPoolAsync:
  case WSLA_API_cuMemAllocAsync: case WSLA_API_cuMemFreeAsync: case WSLA_API_cuMemAllocFromPoolAsync:
    return true;
  default:
    return false;
  }
}

/* The steps of a recording: allocations and frees of memory this runtime
   can allocate (device and pinned; registrations are left out).  VMM
   physical memory (llama.cpp's compute pool, PyTorch's expandable segments)
   is replayed as ordinary device memory of its size: what it takes from
   the device, which is what a limit is about. */
static size_t steps_of_recording(const struct rec *r, struct step *out) {
  size_t n = 0;
  for (uint64_t i = 0; i < r->nevents; i++) {
    const struct wsla_event *e = &r->events[i];
    if (e->flags & (WSLA_F_REGISTER | WSLA_F_UNTRACKED)) continue;
    bool alloc = e->type == WSLA_EV_ALLOC, oom = e->type == WSLA_EV_OOM;
    if (!alloc && !oom && e->type != WSLA_EV_FREE) continue;
    if (e->type == WSLA_EV_FREE && !e->addr) continue;
    bool host = (e->flags & WSLA_F_HOST) || host_api(e->api);
    bool async = (e->flags & WSLA_F_ASYNC) || async_api(e->api);
    out[n++] = (struct step){.async = async && !host,.time_ns = e->time_ns, .addr = e->addr, .size = e->size,
                             .tid = e->tid, .device = host ? -1 : e->device,
                             .is_alloc = alloc || oom, .host = host,
                             .recorded_failure = oom, .api = e->api, .index = i,
                             .aux = e->aux};
  }
  return n;
}

/* An RMM log: Thread,Time,Action,Pointer,Size,Stream; NULL and a message if
   it is not one. */
static struct step *steps_of_csv(const char *path, size_t *count, char *err, size_t len) {
  FILE *f = tool_fopen_regular(path, err, len); /* a FIFO must not block */
  if (!f) return NULL;
  char line[512];
  if (!fgets(line, sizeof line, f) || strncmp(line, "Thread,Time,Action,Pointer,Size,Stream", 38)) {
    fclose(f);
    snprintf(err, len, "%s: not a wslalloc recording nor an RMM log (its first line is not "
             "Thread,Time,Action,Pointer,Size,Stream)", path);
    return NULL;
  }
  size_t cap = 1024, n = 0;
  struct step *steps = malloc(cap * sizeof *steps);
  uint64_t row = 0, first_ns = 0;
  while (steps && fgets(line, sizeof line, f)) {
    row++;
    unsigned tid, hh, mm;
    double sec;
    char action[32], pointer[40];
    unsigned long long size, stream = 0;
    /* scanf's %llu takes "-5" as a huge size: a sign anywhere in the size
       or stream fields, or a time that is none, makes the row not RMM's. */
    const char *fields = line;
    for (int commas = 0; *fields && commas < 4; fields++) commas += *fields == ',';
    bool signed_field = strchr(fields, '-') != NULL;
    if (signed_field ||
        sscanf(line, "%u,%u:%u:%lf,%31[^,],%39[^,],%llu,%llx", &tid, &hh, &mm, &sec, action,
               pointer, &size, &stream) < 7 ||
        mm > 59 || !(sec >= 0 && sec < 61)) {
      snprintf(err, len, "%s: row %" PRIu64 " is not Thread,Time,Action,Pointer,Size,Stream: %.60s",
               path, row + 1, line);
      free(steps);
      fclose(f);
      return NULL;
    }
    if (n == cap) {
      struct step *more = realloc(steps, (cap *= 2) * sizeof *steps);
      if (!more) break;
      steps = more;
    }
    uint64_t t = (uint64_t)((hh * 3600.0 + mm * 60.0 + sec) * 1e9);
    if (n == 0) first_ns = t;
    bool alloc = !strcmp(action, "allocate"), failed = !strcmp(action, "allocate failure");
    if (!alloc && !failed && strcmp(action, "free")) continue;
    steps[n++] = (struct step){.time_ns = t >= first_ns ? t - first_ns : 0,
                               .addr = strtoull(pointer, NULL, 16), .size = size, .tid = tid,
                               .device = 0, .is_alloc = alloc || failed,
                               .recorded_failure = failed,
                               .async = stream != 0, .stream = stream,
                               .api = alloc || failed ? (stream ? WSLA_API_cudaMallocAsync
                                                                : WSLA_API_cudaMalloc)
                                                      : (stream ? WSLA_API_cudaFreeAsync
                                                                : WSLA_API_cudaFree),
                               .index = row};
  }
  fclose(f);
  if (!steps) return snprintf(err, len, "out of memory reading %s", path), NULL;
  *count = n;
  return steps;
}

/* What a failed request was for, from the recording's stacks: the purpose
   its allocation stack or its OOM record's stack tells ("llama.cpp:
   compute buffers"); NULL where no stack was kept or none tells. */
static const char *purpose_of_step(const struct rec *r, const struct step *s) {
  uint64_t frames[WSLA_STACK_MAX];
  size_t depth = 0;
  if (s->recorded_failure) {
    if (s->aux < r->oom_count && r->ooms[s->aux].commit == s->aux + 1)
      depth = rec_oom_stack(r, s->aux, frames, WSLA_STACK_MAX);
  } else if (s->aux) {
    depth = rec_stack(r, s->aux, frames, WSLA_STACK_MAX);
  }
  const struct wsla_phase *phase = depth ? rec_frames_phase(r, frames, depth, NULL, 0) : NULL;
  return phase ? wsla_purpose_label(phase) : NULL;
}

/* Removes the replay's private recordings folder and what the library
   wrote into it (files only: it makes no folders there). */
static void remove_private_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)))
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
        unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
  }
  rmdir(dir);
}

static volatile sig_atomic_t replay_child;

/* Passed on to the replay, so that the waiting parent lives to clean up. */
static void forward_signal(int sig) {
  if (replay_child > 0) kill((pid_t)replay_child, sig);
}

/*
 * Runs this replay again with the library preloaded, its own recording in
 * a private temporary folder: the user's recordings directory is never
 * written (a replay's recording there would count toward WSLALLOC_KEEP and
 * prune the very crash being looked into).  The parent waits and removes
 * the folder however the replay ends; the replay's status is returned.
 */
static int run_preloaded(char **argv, const char *limit, bool recover) {
  char lib[4096];
  if (tool_find_library(lib, sizeof lib) != 0)
    return fprintf(stderr, "wslalloc replay: libwslalloc.so not found beside wslalloc\n"), 1;
  /* From the folder's making to the handlers' forwarding, a signal waits:
     it must not leave the folder behind. */
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  sigset_t block, old;
  sigemptyset(&block);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&block, sigs[i]);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct sigaction sa = {.sa_handler = forward_signal}, dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&sa.sa_mask);
  sigemptyset(&dfl.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  const char *tmp = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/wslalloc-replay-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    return fprintf(stderr, "wslalloc replay: cannot make a temporary folder %s: %s\n", dir,
                   strerror(errno)), 1;
  }
  tool_set_preload(lib);
  if (limit) setenv("WSLALLOC_LIMIT", limit, 1);
  if (recover) setenv("WSLALLOC_RECOVER", "1", 1);
  setenv("WSLALLOC_QUIET", "1", 0);
  setenv("WSLALLOC_DIR", dir, 1);
  setenv("WSLA_REPLAY_PRELOADED", "1", 1);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "wslalloc replay: cannot start the replay: %s\n", strerror(errno));
    remove_private_dir(dir);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 1;
  }
  if (pid == 0) { /* the replay takes signals as any program does */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &dfl, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    execv("/proc/self/exe", argv - 1);
    fprintf(stderr, "wslalloc replay: cannot run again with the library: %s\n", strerror(errno));
    _exit(1);
  }
  replay_child = pid;
  sigprocmask(SIG_SETMASK, &old, NULL); /* a signal that waited goes to the replay now */
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  remove_private_dir(dir);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "wslalloc replay: the replay was killed by signal %d\n", WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return 1;
}

/* What the command line asked for. */
struct replay_opts {
  bool as_json, recover, reproduce;
  const char *limit, *runtime_wanted, *path;
  double speed; /* 0: as fast as it goes */
};

/* The replay as it runs: the runtime, the blocks held now, the figures. */
struct replay {
  struct runtime rt;
  struct mapping *live;
  struct stream_map *streams;
  struct timing timing[WSLA_API_MAX][SIZE_CLASSES];
  uint64_t live_bytes[WSLA_DEVICE_MAX], peak[WSLA_DEVICE_MAX];
  uint64_t host_live, host_peak, calls, failed, skipped, unmatched;
  uint64_t recorded_failures;
  struct replay_oom *ooms;
  size_t nooms;
  int current_device;
  uint64_t wall_ns;
  size_t streams_used;
  /* Whether the steps are the whole workload (every event kept, the file
     whole, something to replay): a verdict holds only then; why not. */
  bool incomplete;
  char incomplete_why[512];
};

/* The options into o: -1 to go on, else the status to exit with. */
static int replay_options(int argc, char **argv, struct replay_opts *o) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},          {"limit", required_argument, NULL, 'l'},
      {"recover", no_argument, NULL, 'r'},       {"failures", required_argument, NULL, 'f'},
      {"speed", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
      {"runtime", required_argument, NULL, 'R'},
      {0}};
  *o = (struct replay_opts){.reproduce = true};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
    if (c == 'j') o->as_json = true;
    else if (c == 'l') o->limit = optarg;
    else if (c == 'r') o->recover = true;
    else if (c == 'R') {
      if (strcmp(optarg, "cuda") && strcmp(optarg, "hip"))
        return tool_usage_error("replay", "--runtime cuda or hip, not %s", optarg);
      o->runtime_wanted = optarg;
    }
    else if (c == 'f') {
      if (!strcmp(optarg, "skip")) o->reproduce = false;
      else if (strcmp(optarg, "reproduce"))
        return tool_usage_error("replay", "--failures skip or reproduce, not %s", optarg);
    } else if (c == 's') {
      char *end;
      if (!strcmp(optarg, "max")) o->speed = 0;
      /* A factor that can be waited for: nan, infinities and gaps
         stretched past a day each are refused. */
      else if (!((o->speed = strtod(optarg, &end)) >= 1e-3 && o->speed <= 1e6) || *end ||
               end == optarg)
        return tool_usage_error("replay", "--speed wants max or a factor from 0.001 to 1000000, "
                                "not %s", optarg);
    } else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("replay", c, argc, argv);
  }
  if (argc - optind > 1)
    return tool_usage_error("replay", "one FILE, not '%s' too", argv[optind + 1]);
  if (argc - optind < 1)
    return tool_usage_error("replay", "one FILE is needed, the recording to replay");
  o->path = argv[optind];
  if (o->limit) {
    struct wsla_options probe;
    const struct wsla_option_desc *d = NULL;
    for (size_t i = 0; i < wsla_option_count; i++)
      if (!strcmp(wsla_option_table[i].name, "WSLALLOC_LIMIT")) d = &wsla_option_table[i];
    if (!d || wsla_option_parse(d, o->limit, &probe) != 0)
      return tool_usage_error("replay", "--limit %s: not a size (such as 16G or 512M)", o->limit);
    /* WSLALLOC_LIMIT=0 is no limit: say so rather than "under 0". */
    if (probe.limit.num == 0) o->limit = NULL;
  }
  return -1;
}

/* The steps of path, an RMM log (.csv) or a recording (then *r is open and
   *have_rec set); NULL after one line on stderr. */
static struct step *replay_steps(const char *path, size_t *nsteps, struct rec *r, bool *have_rec) {
  char err[4400];
  struct step *steps;
  size_t l = strlen(path);
  if (l > 4 && !strcmp(path + l - 4, ".csv")) {
    if (!(steps = steps_of_csv(path, nsteps, err, sizeof err)))
      return fprintf(stderr, "wslalloc replay: %s\n", err), NULL;
    return steps;
  }
  if (rec_open(path, r, err, sizeof err) != 0)
    return fprintf(stderr, "wslalloc replay: %s\n", err), NULL;
  *have_rec = true;
  steps = malloc((r->nevents ? r->nevents : 1) * sizeof *steps);
  if (!steps) {
    rec_close(r);
    *have_rec = false;
    return fprintf(stderr, "wslalloc replay: out of memory\n"), NULL;
  }
  *nsteps = steps_of_recording(r, steps);
  if (r->events_lost)
    fprintf(stderr, "wslalloc replay: the ring lost the first %" PRIu64 " events; frees of "
            "what they allocated are skipped\n", r->events_lost);
  return steps;
}

/* Whether the steps are the whole workload: r is the recording (NULL for
   an RMM log), nsteps how many steps it gave. */
static void replay_completeness(struct replay *p, const struct rec *r, size_t nsteps) {
  if (r && r->events_lost) {
    p->incomplete = true;
    snprintf(p->incomplete_why, sizeof p->incomplete_why,
             "the recording lost %" PRIu64 " of its %" PRIu64 " events (its ring holds %" PRIu64
             "), so the replay is not the whole workload; record again with a larger "
             "WSLALLOC_EVENTS", r->events_lost, r->events_claimed, r->hdr->ring_cap);
  } else if (r && r->partial) {
    p->incomplete = true;
    snprintf(p->incomplete_why, sizeof p->incomplete_why,
             "the recording is incomplete (%s), so the replay is not the whole workload",
             r->partial_why);
  } else if (!nsteps) {
    p->incomplete = true;
    snprintf(p->incomplete_why, sizeof p->incomplete_why, "there was nothing to replay");
  }
}

/* The stream here that stands for the step's recorded one (NULL: the default). */
static void *replay_stream(struct replay *p, const struct step *s) {
  if (!s->async || !s->stream || !p->rt.stream_create) return NULL;
  struct stream_map *sm;
  HASH_FIND(hh, p->streams, &s->stream, sizeof s->stream, sm);
  if (!sm && (sm = calloc(1, sizeof *sm))) {
    sm->recorded = s->stream;
    if (p->rt.stream_create(&sm->now) != 0) p->rt.last_error(), sm->now = NULL;
    HASH_ADD(hh, p->streams, recorded, sizeof sm->recorded, sm);
  }
  return sm ? sm->now : NULL;
}

static struct timing *replay_timing(struct replay *p, bool host, bool async, bool alloc,
                                    uint64_t size) {
  unsigned api = alloc ? (host ? WSLA_API_cudaMallocHost
                          : async ? WSLA_API_cudaMallocAsync : WSLA_API_cudaMalloc)
                       : (host ? WSLA_API_cudaFreeHost
                          : async ? WSLA_API_cudaFreeAsync : WSLA_API_cudaFree);
  return &p->timing[api][size_class(size)];
}

/* The very first call refused for another reason than memory: no GPU here.
   The names and meanings come from the runtime's own headers. */
static void replay_no_gpu(const struct replay *p, int rc) {
  unsigned api = strcmp(p->rt.name, "HIP") ? WSLA_API_cudaMalloc : WSLA_API_hipMalloc;
  char what[96];
  api_error_text(api, rc, what, sizeof what);
  const char *meaning = api_error_meaning(api, rc);
  fprintf(stderr, "wslalloc replay: the %s runtime cannot allocate here (%s%s%s); "
          "no GPU, or point LD_LIBRARY_PATH at the simulated runtime\n", p->rt.name, what,
          meaning ? ": " : "", meaning ? meaning : "");
}

/* An allocation that failed here: kept with the device's state. */
static void replay_failed(struct replay *p, const struct step *s, int rc) {
  p->failed++;
  p->rt.last_error();
  struct replay_oom *more = realloc(p->ooms, (p->nooms + 1) * sizeof *p->ooms);
  if (!more) return;
  p->ooms = more;
  struct replay_oom *o = &p->ooms[p->nooms++];
  memset(o, 0, sizeof *o);
  o->step = *s;
  o->error = rc;
  size_t fr = 0, tot = 0;
  if (!s->host && p->rt.mem_info(&fr, &tot) == 0) o->free_bytes = fr, o->total_bytes = tot;
  p->rt.last_error();
}

/* A block allocated here, now held in place of the recorded one. */
static void replay_hold(struct replay *p, const struct step *s, int dev, void *ptr, bool async,
                        void *stream) {
  struct mapping *m = malloc(sizeof *m), *tmp;
  if (!m) return;
  *m = (struct mapping){.recorded = s->addr, .now = ptr, .size = s->size,
                        .device = (int16_t)dev, .host = s->host, .async = async,
                        .stream = stream};
  HASH_FIND(hh, p->live, &s->addr, sizeof s->addr, tmp);
  if (tmp) { /* its free was lost */
    HASH_DEL(p->live, tmp);
    free(tmp);
  }
  HASH_ADD(hh, p->live, recorded, sizeof m->recorded, m);
  if (s->host) {
    if ((p->host_live += s->size) > p->host_peak) p->host_peak = p->host_live;
  } else if ((p->live_bytes[dev] += s->size) > p->peak[dev]) {
    p->peak[dev] = p->live_bytes[dev];
  }
}

/* One allocation step; false when the runtime cannot allocate at all. */
static bool replay_alloc(struct replay *p, const struct step *s, int dev) {
  void *ptr = NULL, *stream = replay_stream(p, s);
  uint64_t t0 = tool_now_ns();
  bool async = s->async && p->rt.malloc_async;
  int rc = s->host ? p->rt.malloc_host(&ptr, s->size)
           : async ? p->rt.malloc_async(&ptr, s->size, stream)
                   : p->rt.malloc_device(&ptr, s->size);
  uint64_t took = tool_now_ns() - t0;
  p->calls++;
  struct timing *tm = replay_timing(p, s->host, async, true, s->size);
  tm->calls++, tm->ns += took;
  if (rc != 0 && rc != CUDA_ERROR_MEMORY_ALLOCATION && p->calls == 1) {
    replay_no_gpu(p, rc);
    return false;
  }
  if (rc != 0) {
    replay_failed(p, s, rc);
    return true;
  }
  if (s->recorded_failure) {
    /* It fits now; the recording has no free for it (the program never
       held it), so it counts in the peak and goes back at once. */
    uint64_t *lv = s->host ? &p->host_live : &p->live_bytes[dev];
    uint64_t *pk = s->host ? &p->host_peak : &p->peak[dev];
    if (*lv + s->size > *pk) *pk = *lv + s->size;
    t0 = tool_now_ns();
    if (s->host) p->rt.free_host(ptr);
    else if (async) p->rt.free_async(ptr, stream);
    else p->rt.free_device(ptr);
    struct timing *ft = replay_timing(p, s->host, async, false, s->size);
    ft->calls++, ft->ns += tool_now_ns() - t0;
    p->calls++;
    return true;
  }
  replay_hold(p, s, dev, ptr, async, stream);
  return true;
}

static void replay_free(struct replay *p, const struct step *s) {
  struct mapping *m;
  HASH_FIND(hh, p->live, &s->addr, sizeof s->addr, m);
  if (!m) { /* allocated before the recording's window, or failed here */
    p->unmatched++;
    return;
  }
  uint64_t t0 = tool_now_ns();
  if (m->host) p->rt.free_host(m->now);
  else if (m->async) p->rt.free_async(m->now, m->stream);
  else p->rt.free_device(m->now);
  struct timing *tm = replay_timing(p, m->host, m->async, false, m->size);
  tm->calls++, tm->ns += tool_now_ns() - t0;
  p->calls++;
  if (m->host) p->host_live -= m->size;
  else p->live_bytes[m->device] -= m->size;
  HASH_DEL(p->live, m);
  free(m);
}

/* Every step in order; false when the runtime cannot allocate at all. */
static bool replay_run(struct replay *p, const struct replay_opts *o, const struct step *steps,
                       size_t nsteps) {
  uint64_t start = tool_now_ns(), progress_at = nsteps / 10;
  for (size_t i = 0; i < nsteps; i++) {
    const struct step *s = &steps[i];
    if (nsteps >= 1000000 && i >= progress_at && !o->as_json) {
      fprintf(stderr, "wslalloc replay: %zu%% of %zu calls\n", i * 100 / nsteps, nsteps);
      progress_at += nsteps / 10;
    }
    p->recorded_failures += s->recorded_failure;
    if (s->recorded_failure && !o->reproduce) {
      p->skipped++;
      continue;
    }
    if (o->speed > 0) { /* wait for the recorded moment, scaled */
      uint64_t due = start + (uint64_t)(s->time_ns / o->speed), t = tool_now_ns();
      if (due > t) {
        struct timespec ts = {(time_t)((due - t) / 1000000000u), (long)((due - t) % 1000000000u)};
        nanosleep(&ts, NULL);
      }
    }
    if (!s->host && s->device >= 0 && s->device != p->current_device) {
      p->rt.set_device(s->device);
      p->current_device = s->device;
    }
    int dev = s->device >= 0 && s->device < (int)WSLA_DEVICE_MAX ? s->device : 0;
    if (s->is_alloc) {
      if (!replay_alloc(p, s, dev)) return false;
    } else {
      replay_free(p, s);
    }
  }
  p->wall_ns = tool_now_ns() - start;
  return true;
}

/* Under the library, its own recording of this process says what the
   ladder did for each failure: opened into self, if so. */
static bool replay_open_self(struct rec *self) {
  if (!getenv("WSLA_REPLAY_PRELOADED")) return false;
  char err[4400];
  struct wsla_options o;
  wsla_options_load(&o, NULL);
  char dir[WSLA_OPT_PATH_MAX], self_path[WSLA_OPT_PATH_MAX + 64];
  wsla_recording_dir(&o, dir, sizeof dir);
  snprintf(self_path, sizeof self_path, "%s/wslalloc.%d.wsla", dir, (int)getpid());
  return rec_open(self_path, self, err, sizeof err) == 0;
}

/* Gives back what is still held and the streams made. */
static void replay_release(struct replay *p) {
  struct mapping *m, *tmp;
  HASH_ITER(hh, p->live, m, tmp) {
    if (m->host) p->rt.free_host(m->now);
    else if (m->async) p->rt.free_async(m->now, m->stream);
    else p->rt.free_device(m->now);
    HASH_DEL(p->live, m);
    free(m);
  }
  p->streams_used = HASH_COUNT(p->streams);
  struct stream_map *sm, *stmp;
  HASH_ITER(hh, p->streams, sm, stmp) {
    if (sm->now && p->rt.stream_destroy) p->rt.stream_destroy(sm->now);
    HASH_DEL(p->streams, sm);
    free(sm);
  }
}

static void replay_json_ooms(struct json *j, const struct replay *p, const struct rec *r) {
  json_arr(j, "ooms");
  for (size_t i = 0; i < p->nooms; i++) {
    const struct replay_oom *o = &p->ooms[i];
    json_obj(j, NULL);
    json_u64(j, "index", o->step.index);
    json_fixed(j, "time", (int64_t)o->step.time_ns, 9);
    json_u64(j, "tid", o->step.tid);
    const char *n = wsla_api_name(o->step.api);
    json_str(j, "api", n ? n : "unknown");
    json_u64(j, "size", o->step.size);
    json_i64(j, "device", o->step.device);
    json_i64(j, "error", o->error);
    json_u64(j, "free_bytes", o->free_bytes);
    json_u64(j, "total_bytes", o->total_bytes);
    json_bool(j, "failed_when_recorded", o->step.recorded_failure);
    const char *what = r ? purpose_of_step(r, &o->step) : NULL;
    if (what) json_str(j, "purpose", what);
    else json_null(j, "purpose");
    json_end_obj(j);
  }
  json_end_arr(j);
}

/* What the library's ladder did, and the time per call, as JSON. */
static void replay_json_ladder_timing(struct json *j, const struct replay *p,
                                      const struct rec *self) {
  if (self) {
    json_obj(j, "ladder");
    json_u64(j, "recovered", self->ctr->recovered);
    json_arr(j, "ooms");
    for (uint64_t i = 0; i < self->oom_count; i++) {
      const struct wsla_oom *o = &self->ooms[i];
      if (o->commit != i + 1) continue;
      char steps[256];
      wsla_steps_text(o, steps, sizeof steps);
      json_obj(j, NULL);
      json_u64(j, "size", o->size);
      json_str(j, "outcome", o->outcome ? "recovered" : "failed");
      json_str(j, "steps", steps);
      json_end_obj(j);
    }
    json_end_arr(j);
    json_end_obj(j);
  }
  json_arr(j, "timing");
  for (unsigned x = 0; x < WSLA_API_MAX; x++)
    for (int k = 0; k < SIZE_CLASSES; k++) {
      if (!p->timing[x][k].calls) continue;
      json_obj(j, NULL);
      json_str(j, "api", wsla_api_name(x));
      json_str(j, "size_class", size_class_names[k]);
      json_u64(j, "calls", p->timing[x][k].calls);
      json_f64(j, "mean_us", p->timing[x][k].ns / 1e3 / p->timing[x][k].calls);
      json_end_obj(j);
    }
  json_end_arr(j);
}

/* r: the recording replayed (NULL for an RMM log); self: the library's own
   recording of this replay (NULL when not preloaded). */
static void replay_json(const struct replay *p, const struct replay_opts *o, size_t nsteps,
                        const struct rec *r, const struct rec *self) {
  struct json j;
  json_begin(&j, stdout);
  json_obj(&j, NULL);
  json_str(&j, "file", o->path);
  json_str(&j, "runtime", p->rt.name);
  json_u64(&j, "events", nsteps);
  json_u64(&j, "calls", p->calls);
  /* A verdict holds only for the whole workload (see replay_completeness). */
  json_bool(&j, "complete", !p->incomplete);
  json_u64(&j, "events_lost", r ? r->events_lost : 0);
  json_u64(&j, "failed", p->failed);
  json_str(&j, "failures", o->reproduce ? "replayed" : "skipped");
  json_u64(&j, "recorded_failures", p->recorded_failures);
  json_u64(&j, "skipped_recorded_failures", p->skipped);
  json_u64(&j, "frees_without_allocation", p->unmatched);
  json_u64(&j, "streams", p->streams_used);
  json_fixed(&j, "seconds", (int64_t)p->wall_ns, 9);
  json_arr(&j, "devices");
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    if (!p->peak[d]) continue;
    json_obj(&j, NULL);
    json_i64(&j, "device", d);
    json_u64(&j, "peak_bytes", p->peak[d]);
    json_end_obj(&j);
  }
  json_end_arr(&j);
  json_u64(&j, "host_pinned_peak_bytes", p->host_peak);
  replay_json_ooms(&j, p, r);
  replay_json_ladder_timing(&j, p, self);
  json_end_obj(&j);
  json_finish(&j);
}

static void replay_text_ooms(const struct replay *p, const struct rec *r) {
  char a[32], b[32], d2[32], api[64];
  if (!p->nooms && p->incomplete) {
    printf("Every allocation replayed succeeded, but this is no verdict: %s\n",
           p->incomplete_why);
    return;
  }
  if (!p->nooms) {
    printf("Every allocation succeeded.\n");
    return;
  }
  printf("Out of memory: %zu allocation%s failed\n", p->nooms, p->nooms == 1 ? "" : "s");
  for (size_t i = 0; i < p->nooms && i < 10; i++) {
    const struct replay_oom *o = &p->ooms[i];
    const char *n = wsla_api_name(o->step.api);
    snprintf(api, sizeof api, "%s", n ? n : "allocation");
    printf("  event %" PRIu64 " at %.3f s, thread %u: %s of %s", o->step.index,
           o->step.time_ns / 1e9, o->step.tid, api, fmt_size(o->step.size, a, sizeof a));
    if (o->step.device >= 0) printf(" on device %d", o->step.device);
    if (o->total_bytes)
      printf(" (%s free of %s)", fmt_size(o->free_bytes, b, sizeof b),
             fmt_size(o->total_bytes, d2, sizeof d2));
    printf(", error %d\n", o->error);
    const char *what = r ? purpose_of_step(r, &o->step) : NULL;
    if (what || o->step.recorded_failure)
      printf("    %s%s%s\n", what ? "for " : "", what ? what : "",
             o->step.recorded_failure ? (what ? "; it failed when recorded too"
                                              : "it failed when recorded too")
                                      : "");
  }
}

/* What the library's ladder did, and the time per call. */
static void replay_text_ladder_timing(const struct replay *p, const struct rec *self) {
  char a[32];
  if (self && self->oom_count) {
    printf("What the library did\n");
    for (uint64_t i = 0; i < self->oom_count && i < 10; i++) {
      const struct wsla_oom *o = &self->ooms[i];
      if (o->commit != i + 1) continue;
      char steps[256];
      wsla_steps_text(o, steps, sizeof steps);
      printf("  %s at %.3f s: %s%s%s\n", fmt_size(o->size, a, sizeof a), o->time_ns / 1e9,
             o->outcome ? "recovered" : "failed", steps[0] ? " after " : "", steps);
    }
  }
  printf("Time per call\n  %-18s %-14s %10s %12s\n", "api", "size", "calls", "mean");
  for (unsigned x = 0; x < WSLA_API_MAX; x++)
    for (int k = 0; k < SIZE_CLASSES; k++)
      if (p->timing[x][k].calls && wsla_api_name(x))
        printf("  %-18s %-14s %10" PRIu64 " %9.2f us\n", wsla_api_name(x), size_class_names[k],
               p->timing[x][k].calls, p->timing[x][k].ns / 1e3 / p->timing[x][k].calls);
}

static void replay_text(const struct replay *p, const struct replay_opts *o, size_t nsteps,
                        const struct rec *r, const struct rec *self) {
  char a[32];
  printf("Replayed %s on the %s runtime: %zu %s, %" PRIu64 " %s in %.3f s", o->path,
         p->rt.name, nsteps, plural(nsteps, "event", "events"), p->calls,
         plural(p->calls, "call", "calls"), p->wall_ns / 1e9);
  if (o->limit) printf(" under WSLALLOC_LIMIT=%s", o->limit);
  if (o->recover) printf(" with WSLALLOC_RECOVER=1");
  printf("\n");
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++)
    if (p->peak[d]) printf("  device %u: peak %s\n", d, fmt_size(p->peak[d], a, sizeof a));
  if (p->host_peak) printf("  pinned host memory: peak %s\n", fmt_size(p->host_peak, a, sizeof a));
  uint64_t skipped = p->skipped, recorded = p->recorded_failures;
  if (skipped)
    printf("  --failures skip: %" PRIu64 " allocation%s that failed when recorded %s left "
           "out, so this is not the whole workload\n", skipped, skipped == 1 ? "" : "s",
           skipped == 1 ? "was" : "were");
  else if (recorded)
    printf("  %" PRIu64 " allocation%s that failed when recorded %s replayed as part of the "
           "workload (--failures skip leaves %s out)\n", recorded,
           recorded == 1 ? "" : "s", recorded == 1 ? "was" : "were",
           recorded == 1 ? "it" : "them");
  replay_text_ooms(p, r);
  replay_text_ladder_timing(p, self);
}

int cmd_replay(int argc, char **argv) {
  struct replay_opts o;
  int rc = replay_options(argc, argv, &o);
  if (rc >= 0) return rc;

  /* The limit and the ladder are the library's: run again with it preloaded. */
  if ((o.limit || o.recover) && !getenv("WSLA_REPLAY_PRELOADED"))
    return run_preloaded(argv, o.limit, o.recover);

  char err[4400];
  size_t nsteps = 0;
  struct rec r;
  bool have_rec = false;
  struct step *steps = replay_steps(o.path, &nsteps, &r, &have_rec);
  if (!steps) return 1;
  struct replay *p = calloc(1, sizeof *p);
  if (!p || tool_load_runtime(&p->rt, o.runtime_wanted, err, sizeof err) != 0) {
    free(steps);
    if (have_rec) rec_close(&r);
    if (!p) return fprintf(stderr, "wslalloc replay: out of memory\n"), 1;
    free(p);
    return fprintf(stderr, "wslalloc replay: %s\n", err), 1;
  }
  p->current_device = -1;
  replay_completeness(p, have_rec ? &r : NULL, nsteps);
  if (!replay_run(p, &o, steps, nsteps)) {
    free(p->ooms);
    free(p);
    free(steps);
    if (have_rec) rec_close(&r);
    return 1;
  }

  struct rec self;
  bool have_self = replay_open_self(&self);
  replay_release(p);
  if (o.as_json) replay_json(p, &o, nsteps, have_rec ? &r : NULL, have_self ? &self : NULL);
  else replay_text(p, &o, nsteps, have_rec ? &r : NULL, have_self ? &self : NULL);
  size_t nooms = p->nooms;
  bool incomplete = p->incomplete;
  free(p->ooms);
  free(p);
  free(steps);
  if (have_rec) rec_close(&r);
  if (have_self) rec_close(&self);
  /* Out of memory with part of the workload: the whole would not fit
     either.  Fitting with part of it says nothing of the whole. */
  return nooms ? 3 : incomplete ? 1 : 0;
}
