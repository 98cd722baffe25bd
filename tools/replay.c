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
    "\n"
    "Exit status: 0 if every allocation succeeded, 3 if memory ran out, 1 if\n"
    "the replay could not run, 2 for bad arguments.\n";

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
    if (sscanf(line, "%u,%u:%u:%lf,%31[^,],%39[^,],%llu,%lli", &tid, &hh, &mm, &sec, action,
               pointer, &size, &stream) < 7) {
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

int cmd_replay(int argc, char **argv) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},          {"limit", required_argument, NULL, 'l'},
      {"recover", no_argument, NULL, 'r'},       {"failures", required_argument, NULL, 'f'},
      {"speed", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
      {"runtime", required_argument, NULL, 'R'},
      {0}};
  bool as_json = false, recover = false, reproduce = true;
  const char *limit = NULL, *runtime_wanted = NULL;
  double speed = 0; /* 0: as fast as it goes */
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
    if (c == 'j') as_json = true;
    else if (c == 'l') limit = optarg;
    else if (c == 'r') recover = true;
    else if (c == 'R') {
      if (strcmp(optarg, "cuda") && strcmp(optarg, "hip"))
        return tool_usage_error("replay", "--runtime cuda or hip, not %s", optarg);
      runtime_wanted = optarg;
    }
    else if (c == 'f') {
      if (!strcmp(optarg, "skip")) reproduce = false;
      else if (strcmp(optarg, "reproduce"))
        return tool_usage_error("replay", "--failures skip or reproduce, not %s", optarg);
    } else if (c == 's') {
      char *end;
      if (!strcmp(optarg, "max")) speed = 0;
      else if ((speed = strtod(optarg, &end)) <= 0 || *end || end == optarg)
        return tool_usage_error("replay", "--speed wants max or a factor above 0, not %s",
                                optarg);
    } else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("replay", c, argc, argv);
  }
  if (argc - optind > 1)
    return tool_usage_error("replay", "one FILE, not '%s' too", argv[optind + 1]);
  if (argc - optind < 1)
    return tool_usage_error("replay", "one FILE is needed, the recording to replay");
  const char *path = argv[optind];
  if (limit) {
    struct wsla_options probe;
    const struct wsla_option_desc *o = NULL;
    for (size_t i = 0; i < wsla_option_count; i++)
      if (!strcmp(wsla_option_table[i].name, "WSLALLOC_LIMIT")) o = &wsla_option_table[i];
    if (!o || wsla_option_parse(o, limit, &probe) != 0)
      return tool_usage_error("replay", "--limit %s: not a size (such as 16G or 512M)", limit);
  }

  /* The limit and the ladder are the library's: run again with it preloaded. */
  if ((limit || recover) && !getenv("WSLA_REPLAY_PRELOADED"))
    return run_preloaded(argv, limit, recover);

  char err[4400];
  struct step *steps = NULL;
  size_t nsteps = 0;
  struct rec r;
  bool have_rec = false;
  size_t l = strlen(path);
  if (l > 4 && !strcmp(path + l - 4, ".csv")) {
    if (!(steps = steps_of_csv(path, &nsteps, err, sizeof err)))
      return fprintf(stderr, "wslalloc replay: %s\n", err), 1;
  } else {
    if (rec_open(path, &r, err, sizeof err) != 0)
      return fprintf(stderr, "wslalloc replay: %s\n", err), 1;
    have_rec = true;
    steps = malloc((r.nevents ? r.nevents : 1) * sizeof *steps);
    if (!steps) return rec_close(&r), fprintf(stderr, "wslalloc replay: out of memory\n"), 1;
    nsteps = steps_of_recording(&r, steps);
    if (r.events_lost)
      fprintf(stderr, "wslalloc replay: the ring lost the first %" PRIu64 " events; frees of "
              "what they allocated are skipped\n", r.events_lost);
  }
  struct runtime rt = {0};
  if (tool_load_runtime(&rt, runtime_wanted, err, sizeof err) != 0) {
    free(steps);
    if (have_rec) rec_close(&r);
    return fprintf(stderr, "wslalloc replay: %s\n", err), 1;
  }

  struct mapping *live = NULL, *m, *tmp;
  struct stream_map *streams = NULL;
  struct timing timing[WSLA_API_MAX][SIZE_CLASSES] = {{{0}}};
  uint64_t live_bytes[WSLA_DEVICE_MAX] = {0}, peak[WSLA_DEVICE_MAX] = {0};
  uint64_t host_live = 0, host_peak = 0, calls = 0, failed = 0, skipped = 0, unmatched = 0;
  uint64_t recorded_failures = 0;
  struct replay_oom *ooms = NULL;
  size_t nooms = 0;
  int current_device = -1;
  uint64_t start = tool_now_ns(), progress_at = nsteps / 10;
  for (size_t i = 0; i < nsteps; i++) {
    const struct step *s = &steps[i];
    if (nsteps >= 1000000 && i >= progress_at && !as_json) {
      fprintf(stderr, "wslalloc replay: %zu%% of %zu calls\n", i * 100 / nsteps, nsteps);
      progress_at += nsteps / 10;
    }
    recorded_failures += s->recorded_failure;
    if (s->recorded_failure && !reproduce) {
      skipped++;
      continue;
    }
    if (speed > 0) { /* wait for the recorded moment, scaled */
      uint64_t due = start + (uint64_t)(s->time_ns / speed), t = tool_now_ns();
      if (due > t) {
        struct timespec ts = {(time_t)((due - t) / 1000000000u), (long)((due - t) % 1000000000u)};
        nanosleep(&ts, NULL);
      }
    }
    if (!s->host && s->device >= 0 && s->device != current_device) {
      rt.set_device(s->device);
      current_device = s->device;
    }
    int dev = s->device >= 0 && s->device < (int)WSLA_DEVICE_MAX ? s->device : 0;
    uint64_t t0 = tool_now_ns();
    if (s->is_alloc) {
      void *p = NULL, *stream = NULL;
      if (s->async && s->stream && rt.stream_create) {
        struct stream_map *sm;
        HASH_FIND(hh, streams, &s->stream, sizeof s->stream, sm);
        if (!sm && (sm = calloc(1, sizeof *sm))) {
          sm->recorded = s->stream;
          if (rt.stream_create(&sm->now) != 0) rt.last_error(), sm->now = NULL;
          HASH_ADD(hh, streams, recorded, sizeof sm->recorded, sm);
        }
        stream = sm ? sm->now : NULL;
      }
      t0 = tool_now_ns();
      bool async = s->async && rt.malloc_async;
      int rc = s->host ? rt.malloc_host(&p, s->size)
               : async ? rt.malloc_async(&p, s->size, stream)
                       : rt.malloc_device(&p, s->size);
      uint64_t took = tool_now_ns() - t0;
      calls++;
      struct timing *tm = &timing[s->host ? WSLA_API_cudaMallocHost
                                  : async ? WSLA_API_cudaMallocAsync : WSLA_API_cudaMalloc]
                                 [size_class(s->size)];
      tm->calls++, tm->ns += took;
      if (rc != 0 && rc != CUDA_ERROR_MEMORY_ALLOCATION && calls == 1) {
        /* The very first call refused for another reason: no GPU here. */
        /* The names and meanings come from the runtime's own headers. */
        unsigned api = strcmp(rt.name, "HIP") ? WSLA_API_cudaMalloc : WSLA_API_hipMalloc;
        char what[96];
        api_error_text(api, rc, what, sizeof what);
        const char *meaning = api_error_meaning(api, rc);
        fprintf(stderr, "wslalloc replay: the %s runtime cannot allocate here (%s%s%s); "
                "no GPU, or point LD_LIBRARY_PATH at the simulated runtime\n", rt.name, what,
                meaning ? ": " : "", meaning ? meaning : "");
        free(steps);
        if (have_rec) rec_close(&r);
        return 1;
      }
      if (rc != 0) {
        failed++;
        rt.last_error();
        struct replay_oom *more = realloc(ooms, (nooms + 1) * sizeof *ooms);
        if (!more) continue;
        ooms = more;
        struct replay_oom *o = &ooms[nooms++];
        memset(o, 0, sizeof *o);
        o->step = *s;
        o->error = rc;
        size_t fr = 0, tot = 0;
        if (!s->host && rt.mem_info(&fr, &tot) == 0) o->free_bytes = fr, o->total_bytes = tot;
        rt.last_error();
        continue;
      }
      if (s->recorded_failure) {
        /* It fits now; the recording has no free for it (the program never
           held it), so it counts in the peak and goes back at once. */
        uint64_t *lv = s->host ? &host_live : &live_bytes[dev], *pk = s->host ? &host_peak : &peak[dev];
        if (*lv + s->size > *pk) *pk = *lv + s->size;
        t0 = tool_now_ns();
        if (s->host) rt.free_host(p);
        else if (async) rt.free_async(p, stream);
        else rt.free_device(p);
        struct timing *ft = &timing[s->host ? WSLA_API_cudaFreeHost
                                    : async ? WSLA_API_cudaFreeAsync : WSLA_API_cudaFree]
                                   [size_class(s->size)];
        ft->calls++, ft->ns += tool_now_ns() - t0;
        calls++;
        continue;
      }
      m = malloc(sizeof *m);
      if (!m) continue;
      *m = (struct mapping){.recorded = s->addr, .now = p, .size = s->size,
                            .device = (int16_t)dev, .host = s->host, .async = async,
                            .stream = stream};
      HASH_FIND(hh, live, &s->addr, sizeof s->addr, tmp);
      if (tmp) { /* its free was lost */
        HASH_DEL(live, tmp);
        free(tmp);
      }
      HASH_ADD(hh, live, recorded, sizeof m->recorded, m);
      if (s->host) {
        if ((host_live += s->size) > host_peak) host_peak = host_live;
      } else if ((live_bytes[dev] += s->size) > peak[dev]) {
        peak[dev] = live_bytes[dev];
      }
    } else {
      HASH_FIND(hh, live, &s->addr, sizeof s->addr, m);
      if (!m) { /* allocated before the recording's window, or failed here */
        unmatched++;
        continue;
      }
      t0 = tool_now_ns();
      if (m->host) rt.free_host(m->now);
      else if (m->async) rt.free_async(m->now, m->stream);
      else rt.free_device(m->now);
      struct timing *tm = &timing[m->host ? WSLA_API_cudaFreeHost
                                  : m->async ? WSLA_API_cudaFreeAsync : WSLA_API_cudaFree]
                                 [size_class(m->size)];
      tm->calls++, tm->ns += tool_now_ns() - t0;
      calls++;
      if (m->host) host_live -= m->size;
      else live_bytes[m->device] -= m->size;
      HASH_DEL(live, m);
      free(m);
    }
  }
  uint64_t wall_ns = tool_now_ns() - start;
  double wall = wall_ns / 1e9;

  /* Under the library, its own recording of this process says what the
     ladder did for each failure. */
  struct rec self;
  bool have_self = false;
  if (getenv("WSLA_REPLAY_PRELOADED")) {
    struct wsla_options o;
    wsla_options_load(&o, NULL);
    char dir[WSLA_OPT_PATH_MAX], self_path[WSLA_OPT_PATH_MAX + 64];
    wsla_recording_dir(&o, dir, sizeof dir);
    snprintf(self_path, sizeof self_path, "%s/wslalloc.%d.wsla", dir, (int)getpid());
    have_self = rec_open(self_path, &self, err, sizeof err) == 0;
  }
  HASH_ITER(hh, live, m, tmp) {
    if (m->host) rt.free_host(m->now);
    else if (m->async) rt.free_async(m->now, m->stream);
    else rt.free_device(m->now);
    HASH_DEL(live, m);
    free(m);
  }
  size_t streams_used = HASH_COUNT(streams);
  struct stream_map *sm, *stmp;
  HASH_ITER(hh, streams, sm, stmp) {
    if (sm->now && rt.stream_destroy) rt.stream_destroy(sm->now);
    HASH_DEL(streams, sm);
    free(sm);
  }

  char a[32], b[32], d2[32], api[64];
  if (as_json) {
    struct json j;
    json_begin(&j, stdout);
    json_obj(&j, NULL);
    json_str(&j, "file", path);
    json_str(&j, "runtime", rt.name);
    json_u64(&j, "events", nsteps);
    json_u64(&j, "calls", calls);
    json_u64(&j, "failed", failed);
    json_str(&j, "failures", reproduce ? "replayed" : "skipped");
    json_u64(&j, "recorded_failures", recorded_failures);
    json_u64(&j, "skipped_recorded_failures", skipped);
    json_u64(&j, "frees_without_allocation", unmatched);
    json_u64(&j, "streams", streams_used);
    json_fixed(&j, "seconds", (int64_t)wall_ns, 9);
    json_arr(&j, "devices");
    for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
      if (!peak[d]) continue;
      json_obj(&j, NULL);
      json_i64(&j, "device", d);
      json_u64(&j, "peak_bytes", peak[d]);
      json_end_obj(&j);
    }
    json_end_arr(&j);
    json_u64(&j, "host_pinned_peak_bytes", host_peak);
    json_arr(&j, "ooms");
    for (size_t i = 0; i < nooms; i++) {
      const struct replay_oom *o = &ooms[i];
      json_obj(&j, NULL);
      json_u64(&j, "index", o->step.index);
      json_fixed(&j, "time", (int64_t)o->step.time_ns, 9);
      json_u64(&j, "tid", o->step.tid);
      const char *n = wsla_api_name(o->step.api);
      json_str(&j, "api", n ? n : "unknown");
      json_u64(&j, "size", o->step.size);
      json_i64(&j, "device", o->step.device);
      json_i64(&j, "error", o->error);
      json_u64(&j, "free_bytes", o->free_bytes);
      json_u64(&j, "total_bytes", o->total_bytes);
      json_bool(&j, "failed_when_recorded", o->step.recorded_failure);
      const char *what = have_rec ? purpose_of_step(&r, &o->step) : NULL;
      if (what) json_str(&j, "purpose", what);
      else json_null(&j, "purpose");
      json_end_obj(&j);
    }
    json_end_arr(&j);
    if (have_self) {
      json_obj(&j, "ladder");
      json_u64(&j, "recovered", self.ctr->recovered);
      json_arr(&j, "ooms");
      for (uint64_t i = 0; i < self.oom_count; i++) {
        const struct wsla_oom *o = &self.ooms[i];
        if (o->commit != i + 1) continue;
        char steps[256];
        wsla_steps_text(o, steps, sizeof steps);
        json_obj(&j, NULL);
        json_u64(&j, "size", o->size);
        json_str(&j, "outcome", o->outcome ? "recovered" : "failed");
        json_str(&j, "steps", steps);
        json_end_obj(&j);
      }
      json_end_arr(&j);
      json_end_obj(&j);
    }
    json_arr(&j, "timing");
    for (unsigned x = 0; x < WSLA_API_MAX; x++)
      for (int k = 0; k < SIZE_CLASSES; k++) {
        if (!timing[x][k].calls) continue;
        json_obj(&j, NULL);
        json_str(&j, "api", wsla_api_name(x));
        json_str(&j, "size_class", size_class_names[k]);
        json_u64(&j, "calls", timing[x][k].calls);
        json_f64(&j, "mean_us", timing[x][k].ns / 1e3 / timing[x][k].calls);
        json_end_obj(&j);
      }
    json_end_arr(&j);
    json_end_obj(&j);
    json_finish(&j);
  } else {
    printf("Replayed %s on the %s runtime: %zu events, %" PRIu64 " calls in %.3f s", path,
           rt.name, nsteps, calls, wall);
    if (limit) printf(" under WSLALLOC_LIMIT=%s", limit);
    if (recover) printf(" with WSLALLOC_RECOVER=1");
    printf("\n");
    for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++)
      if (peak[d]) printf("  device %u: peak %s\n", d, fmt_size(peak[d], a, sizeof a));
    if (host_peak) printf("  pinned host memory: peak %s\n", fmt_size(host_peak, a, sizeof a));
    if (skipped)
      printf("  --failures skip: %" PRIu64 " allocation%s that failed when recorded %s left "
             "out, so this is not the whole workload\n", skipped, skipped == 1 ? "" : "s",
             skipped == 1 ? "was" : "were");
    else if (recorded_failures)
      printf("  %" PRIu64 " allocation%s that failed when recorded %s replayed as part of the "
             "workload (--failures skip leaves %s out)\n", recorded_failures,
             recorded_failures == 1 ? "" : "s", recorded_failures == 1 ? "was" : "were",
             recorded_failures == 1 ? "it" : "them");
    if (!nooms) {
      printf("Every allocation succeeded.\n");
    } else {
      printf("Out of memory: %zu allocation%s failed\n", nooms, nooms == 1 ? "" : "s");
      for (size_t i = 0; i < nooms && i < 10; i++) {
        const struct replay_oom *o = &ooms[i];
        const char *n = wsla_api_name(o->step.api);
        snprintf(api, sizeof api, "%s", n ? n : "allocation");
        printf("  event %" PRIu64 " at %.3f s, thread %u: %s of %s", o->step.index,
               o->step.time_ns / 1e9, o->step.tid, api, fmt_size(o->step.size, a, sizeof a));
        if (o->step.device >= 0) printf(" on device %d", o->step.device);
        if (o->total_bytes)
          printf(" (%s free of %s)", fmt_size(o->free_bytes, b, sizeof b),
                 fmt_size(o->total_bytes, d2, sizeof d2));
        printf(", error %d\n", o->error);
        const char *what = have_rec ? purpose_of_step(&r, &o->step) : NULL;
        if (what || o->step.recorded_failure)
          printf("    %s%s%s\n", what ? "for " : "", what ? what : "",
                 o->step.recorded_failure ? (what ? "; it failed when recorded too"
                                                  : "it failed when recorded too")
                                          : "");
      }
    }
    if (have_self && self.oom_count) {
      printf("What the library did\n");
      for (uint64_t i = 0; i < self.oom_count && i < 10; i++) {
        const struct wsla_oom *o = &self.ooms[i];
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
        if (timing[x][k].calls && wsla_api_name(x))
          printf("  %-18s %-14s %10" PRIu64 " %9.2f us\n", wsla_api_name(x), size_class_names[k],
                 timing[x][k].calls, timing[x][k].ns / 1e3 / timing[x][k].calls);
  }
  free(ooms);
  free(steps);
  if (have_rec) rec_close(&r);
  if (have_self) rec_close(&self);
  return nooms ? 3 : 0;
}
