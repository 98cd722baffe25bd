/* wslalloc bench: this machine's GPU allocation latency with and without the library, its largest block, fragmentation and pinned ceiling. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static const char *const usage =
    "usage: wslalloc bench [--iterations N] [--pinned] [--json FILE] [--runtime cuda|hip]\n"
    "\n"
    "Measures the GPU this machine's CUDA runtime reaches (or the simulated one,\n"
    "through LD_LIBRARY_PATH), in two child processes, one bare and one with\n"
    "libwslalloc.so preloaded, so the library's cost is seen on the same GPU in\n"
    "the same run:\n"
    "  - cudaMalloc+cudaFree latency at 4 KiB, 1 MiB, 64 MiB and 256 MiB\n"
    "    (median of N pairs each);\n"
    "  - the largest block that can be had, against the free memory;\n"
    "  - fragmentation: 64 MiB blocks over 90% of free memory, every other one\n"
    "    freed, then the largest block;\n"
    "  - with --pinned, how much pinned host memory can be had (256 MiB steps,\n"
    "    up to 64 GiB): WSL2 caps it well below the machine's memory.\n"
    "\n"
    "  --iterations N   pairs per size (default 200; 10 to 100000)\n"
    "  --pinned         also probe the pinned-memory ceiling\n"
    "  --json FILE      also write the figures as JSON (- for stdout)\n"
    "  --runtime cuda|hip  the runtime to measure (default: CUDA's if it loads,\n"
    "                   else HIP's); the names below are CUDA's\n"
    "  -h, --help       this text\n"
    "\n"
    "With no GPU it says so and exits 1.\n";

static const uint64_t lat_sizes[] = {4096, 1u << 20, 64u << 20, 256u << 20};
#define NSIZES (sizeof lat_sizes / sizeof *lat_sizes)
#define BLOCK_STEP (2u << 20)

struct figures {
  uint64_t total, free, largest;
  uint64_t frag_blocks, frag_free, frag_largest;
  uint64_t pinned;
  double lat_ns[NSIZES];
  bool ok, shim_loaded, hip;
  int device;      /* the one measured, the runtime's current */
  char name[256];  /* its name, as the driver gives it; "" if not */
  char error[512];
};

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The largest block cudaMalloc grants, to BLOCK_STEP, at most hi. */
static uint64_t largest_block(const struct runtime *rt, uint64_t hi) {
  uint64_t lo = 0;
  hi = hi / BLOCK_STEP * BLOCK_STEP + BLOCK_STEP;
  while (hi - lo > BLOCK_STEP) {
    uint64_t mid = (lo + (hi - lo) / 2) / BLOCK_STEP * BLOCK_STEP;
    if (mid == lo) mid += BLOCK_STEP;
    void *p;
    if (rt->malloc_device(&p, mid) == 0) {
      rt->free_device(p);
      lo = mid;
    } else {
      rt->last_error();
      hi = mid;
    }
  }
  return lo;
}

/* The GPU the runtime allocates on: its index, and its name into name
   ("" where the driver does not give it).  CUDA's comes from the driver
   the runtime loaded (cuDeviceGetName, as the library names GPUs), HIP's
   from hipDeviceGetName. */
static int device_named(const struct runtime *rt, char *name, size_t len) {
  void *lib = rt->lib ? rt->lib : RTLD_DEFAULT;
  bool hip = !strcmp(rt->name, "HIP");
  int dev = 0;
  int (*get_device)(int *);
  *(void **)&get_device = dlsym(lib, hip ? "hipGetDevice" : "cudaGetDevice");
  if (!get_device || get_device(&dev) != 0) dev = 0;
  int (*get_name)(char *, int, int) = NULL;
  if (hip) {
    *(void **)&get_name = dlsym(lib, "hipDeviceGetName");
  } else {
    void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (drv) *(void **)&get_name = dlsym(drv, "cuDeviceGetName");
  }
  name[0] = '\0';
  if (!get_name || get_name(name, (int)len, dev) != 0) name[0] = '\0';
  name[len - 1] = '\0';
  name[strcspn(name, "\n")] = '\0'; /* one line of the child's report */
  return dev;
}

/* The measuring child: figures on stdout as "key value" lines. */
static int child(long iterations, bool pinned, const char *runtime) {
  struct runtime rt = {0};
  char err[512];
  if (tool_load_runtime(&rt, runtime, err, sizeof err) != 0) return printf("error %s\n", err), 1;
  size_t free_b = 0, total = 0;
  int rc = rt.mem_info(&free_b, &total);
  if (rc != 0) {
    unsigned api = !strcmp(rt.name, "HIP") ? WSLA_API_hipMemGetInfo : WSLA_API_cudaMemGetInfo;
    char error[128];
    api_error_text(api, rc, error, sizeof error);
    const char *meaning = api_error_meaning(api, rc);
    return printf("error the %s runtime reaches no GPU: %s failed with %s%s%s\n", rt.name,
                  wsla_api_name(api), error, meaning ? ": " : "", meaning ? meaning : ""), 1;
  }
  printf("total %zu\nfree %zu\nhip %d\n", total, free_b, !strcmp(rt.name, "HIP"));
  char name[256];
  int dev = device_named(&rt, name, sizeof name);
  printf("device %d\nname %s\n", dev, name);
  /* Which run this is, as the process's own mappings say. */
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[4096];
  bool shim_loaded = false;
  while (maps && fgets(line, sizeof line, maps)) shim_loaded |= strstr(line, "libwslalloc.so") != NULL;
  if (maps) fclose(maps);
  printf("shim %d\n", shim_loaded);
  uint64_t *pairs = malloc((size_t)iterations * sizeof *pairs);
  if (!pairs) return printf("error out of memory\n"), 1;
  for (size_t s = 0; s < NSIZES; s++) {
    long got = 0;
    for (long i = 0; i < iterations + 10; i++) {
      void *p;
      uint64_t t0 = tool_now_ns();
      if (rt.malloc_device(&p, lat_sizes[s]) != 0) {
        rt.last_error();
        break;
      }
      rt.free_device(p);
      uint64_t took = tool_now_ns() - t0;
      if (i >= 10) pairs[got++] = took; /* the first ten warm up */
    }
    qsort(pairs, (size_t)got, sizeof *pairs, by_value);
    printf("lat%zu %" PRIu64 "\n", s, got ? pairs[got / 2] : 0);
  }
  free(pairs);
  printf("largest %" PRIu64 "\n", largest_block(&rt, free_b));

  /* Fragmentation: fill 90% of free memory with 64 MiB blocks, free every
     other one, then look for the largest block. */
  enum { FRAG_BLOCK = 64u << 20, FRAG_MAX = 8192 };
  void **blocks = calloc(FRAG_MAX, sizeof *blocks);
  size_t n = 0;
  while (blocks && n < FRAG_MAX && (n + 1) * (uint64_t)FRAG_BLOCK <= free_b / 10 * 9 &&
         rt.malloc_device(&blocks[n], FRAG_BLOCK) == 0)
    n++;
  rt.last_error();
  for (size_t i = 1; i < n; i += 2) rt.free_device(blocks[i]);
  size_t frag_free = 0, t2 = 0;
  rt.mem_info(&frag_free, &t2);
  printf("frag_blocks %zu\nfrag_free %zu\nfrag_largest %" PRIu64 "\n", n, frag_free,
         largest_block(&rt, frag_free));
  for (size_t i = 0; i < n; i += 2) rt.free_device(blocks[i]);
  free(blocks);

  if (pinned) {
    enum { PIN_STEP = 256u << 20, PIN_MAX = 256 };
    void *pins[PIN_MAX];
    size_t got = 0;
    while (got < PIN_MAX && rt.malloc_host(&pins[got], PIN_STEP) == 0) got++;
    rt.last_error();
    for (size_t i = 0; i < got; i++) rt.free_host(pins[i]);
    printf("pinned %" PRIu64 "\n", (uint64_t)got * PIN_STEP);
  }
  return 0;
}

/* Removes dir and the files in it (the library's recording of the run). */
static void remove_folder(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[4096];
  while (d && (de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      unlink(path);
    }
  if (d) closedir(d);
  if (rmdir(dir) != 0) fprintf(stderr, "wslalloc bench: could not remove %s\n", dir);
}

/* Runs the measuring child, with the library preloaded or not. */
static void measure(struct figures *f, bool with_shim, long iterations, bool pinned,
                    const char *runtime) {
  memset(f, 0, sizeof *f);
  int fd[2];
  if (pipe(fd) != 0) {
    snprintf(f->error, sizeof f->error, "pipe: %s", strerror(errno));
    return;
  }
  char dir[] = "/tmp/wslalloc-bench-XXXXXX";
  if (with_shim && !mkdtemp(dir)) {
    snprintf(f->error, sizeof f->error, "mkdtemp: %s", strerror(errno));
    return;
  }
  char lib[4096] = "";
  if (with_shim && tool_find_library(lib, sizeof lib) != 0) {
    snprintf(f->error, sizeof f->error, "libwslalloc.so not found beside wslalloc");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    if (with_shim) {
      tool_set_preload(lib);
      setenv("WSLALLOC_DIR", dir, 1);
      setenv("WSLALLOC_QUIET", "1", 1);
    }
    char its[32];
    snprintf(its, sizeof its, "%ld", iterations);
    char rt_arg[32];
    snprintf(rt_arg, sizeof rt_arg, "--runtime=%s", runtime ? runtime : "any");
    char *args[] = {"wslalloc", "bench", "--child", "--iterations", its, rt_arg,
                    pinned ? "--pinned" : NULL, NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(fd[1]);
  FILE *in = fdopen(fd[0], "r");
  char line[600];
  while (in && fgets(line, sizeof line, in)) {
    char key[32];
    unsigned long long v;
    if (!strncmp(line, "name ", 5)) {
      snprintf(f->name, sizeof f->name, "%.*s", (int)strcspn(line + 5, "\n"), line + 5);
      continue;
    }
    if (!strncmp(line, "error ", 6)) {
      snprintf(f->error, sizeof f->error, "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
      continue;
    }
    if (sscanf(line, "%31s %llu", key, &v) != 2) continue;
    if (!strcmp(key, "total")) f->total = v;
    else if (!strcmp(key, "free")) f->free = v;
    else if (!strcmp(key, "largest")) f->largest = v;
    else if (!strcmp(key, "frag_blocks")) f->frag_blocks = v;
    else if (!strcmp(key, "frag_free")) f->frag_free = v;
    else if (!strcmp(key, "frag_largest")) f->frag_largest = v;
    else if (!strcmp(key, "pinned")) f->pinned = v;
    else if (!strcmp(key, "shim")) f->shim_loaded = v;
    else if (!strcmp(key, "hip")) f->hip = v;
    else if (!strcmp(key, "device")) f->device = (int)v;
    else if (!strncmp(key, "lat", 3) && (size_t)atoi(key + 3) < NSIZES) f->lat_ns[atoi(key + 3)] = (double)v;
  }
  if (in) fclose(in);
  int status = 0;
  waitpid(pid, &status, 0);
  f->ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !f->error[0];
  if (!f->ok && !f->error[0]) snprintf(f->error, sizeof f->error, "the measuring process failed");
  if (with_shim) remove_folder(dir); /* its recording served its purpose */
}

static void print_size(FILE *out, uint64_t v) {
  char b[32];
  fputs(fmt_size(v, b, sizeof b), out);
}

int cmd_bench(int argc, char **argv) {
  static const struct option longopts[] = {
      {"iterations", required_argument, NULL, 'i'}, {"pinned", no_argument, NULL, 'p'},
      {"json", required_argument, NULL, 'j'},       {"child", no_argument, NULL, 'c'},
      {"runtime", required_argument, NULL, 'R'},    {"help", no_argument, NULL, 'h'},
      {0}};
  const char *runtime = NULL;
  long iterations = 200;
  bool pinned = false, is_child = false;
  const char *json_path = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    char *end;
    if (c == 'i') {
      iterations = strtol(optarg, &end, 10);
      if (*end || end == optarg || iterations < 10 || iterations > 100000)
        return tool_usage_error("bench", "--iterations wants 10 to 100000, not %s", optarg);
    } else if (c == 'R') {
      if (!strcmp(optarg, "any")) runtime = NULL;
      else if (!strcmp(optarg, "cuda") || !strcmp(optarg, "hip")) runtime = optarg;
      else return tool_usage_error("bench", "--runtime cuda or hip, not %s", optarg);
    } else if (c == 'p') pinned = true;
    else if (c == 'j') json_path = optarg;
    else if (c == 'c') is_child = true;
    else if (c == 'h') return fputs(usage, stdout), 0;
    else return tool_bad_option("bench", c, argc, argv);
  }
  if (optind < argc)
    return tool_usage_error("bench", "takes no arguments, not '%s'", argv[optind]);
  if (is_child) return child(iterations, pinned, runtime);

  struct figures bare, shim;
  fprintf(stderr, "wslalloc bench: measuring without the library...\n");
  measure(&bare, false, iterations, pinned, runtime);
  if (!bare.ok) return fprintf(stderr, "wslalloc bench: no GPU to measure: %s\n", bare.error), 1;
  fprintf(stderr, "wslalloc bench: measuring with the library...\n");
  measure(&shim, true, iterations, pinned, runtime);
  if (!shim.ok) return fprintf(stderr, "wslalloc bench: with the library: %s\n", shim.error), 1;
  if (bare.shim_loaded || !shim.shim_loaded)
    return fprintf(stderr, "wslalloc bench: the library was %s the run meant to be %s; "
                   "unset LD_PRELOAD and try again\n", bare.shim_loaded ? "in" : "not in",
                   bare.shim_loaded ? "without it" : "with it"), 1;

  /* With the JSON on stdout, the table goes to stderr: stdout parses. */
  FILE *human = json_path && !strcmp(json_path, "-") ? stderr : stdout;
  fprintf(human, "GPU %d: %s, on the %s runtime\nGPU memory: ", bare.device,
          bare.name[0] ? bare.name : "(the driver gives no name)", bare.hip ? "HIP" : "CUDA");
  print_size(human, bare.total);
  fprintf(human, " total, ");
  print_size(human, bare.free);
  fprintf(human, " free; the largest block to be had: ");
  print_size(human, bare.largest);
  fprintf(human, "\n\ncudaMalloc+cudaFree, median of %ld pairs\n  %-10s %14s %14s %12s\n", iterations,
         "size", "without", "with wslalloc", "added");
  for (size_t s = 0; s < NSIZES; s++) {
    char b[32];
    double a = bare.lat_ns[s] / 1e3, w = shim.lat_ns[s] / 1e3;
    fprintf(human, "  %-10s %11.2f us %11.2f us %+9.2f us", fmt_size(lat_sizes[s], b, sizeof b), a, w, w - a);
    if (a > 0) fprintf(human, " (%+.0f%%)", 100.0 * (w - a) / a);
    fprintf(human, "\n");
  }
  fprintf(human, "\nFragmentation: %" PRIu64 " blocks of 64 MiB, every other one freed: ", bare.frag_blocks);
  print_size(human, bare.frag_free);
  fprintf(human, " free, the largest block ");
  print_size(human, bare.frag_largest);
  if (bare.frag_free)
    fprintf(human, " (fragmentation %.0f%%)", bare.frag_largest >= bare.frag_free ? 0.0
           : 100.0 * (1.0 - (double)bare.frag_largest / (double)bare.frag_free));
  fprintf(human, "\n");
  if (pinned) {
    fprintf(human, "Pinned host memory: ");
    print_size(human, bare.pinned);
    fprintf(human, " could be had%s\n", bare.pinned >= (uint64_t)256 * (256u << 20) ? " (the probe's 64 GiB cap)" : "");
  }
  if (json_path) {
    FILE *out = strcmp(json_path, "-") ? fopen(json_path, "w") : stdout;
    if (!out) return fprintf(stderr, "wslalloc bench: %s: %s\n", json_path, strerror(errno)), 1;
    struct json j;
    json_begin(&j, out);
    json_obj(&j, NULL);
    json_str(&j, "runtime", bare.hip ? "HIP" : "CUDA");
    json_obj(&j, "gpu");
    json_i64(&j, "index", bare.device);
    if (bare.name[0]) json_str(&j, "name", bare.name);
    else json_null(&j, "name");
    json_u64(&j, "total_bytes", bare.total);
    json_end_obj(&j);
    json_u64(&j, "total_bytes", bare.total);
    json_u64(&j, "free_bytes", bare.free);
    json_u64(&j, "largest_block_bytes", bare.largest);
    json_i64(&j, "iterations", iterations);
    json_bool(&j, "bare_without_library", !bare.shim_loaded);
    json_bool(&j, "shim_with_library", shim.shim_loaded);
    json_arr(&j, "latency");
    for (size_t s = 0; s < NSIZES; s++) {
      json_obj(&j, NULL);
      json_u64(&j, "size", lat_sizes[s]);
      json_f64(&j, "bare_us", bare.lat_ns[s] / 1e3);
      json_f64(&j, "shim_us", shim.lat_ns[s] / 1e3);
      json_end_obj(&j);
    }
    json_end_arr(&j);
    json_obj(&j, "fragmentation");
    json_u64(&j, "blocks", bare.frag_blocks);
    json_u64(&j, "free_bytes", bare.frag_free);
    json_u64(&j, "largest_block_bytes", bare.frag_largest);
    json_end_obj(&j);
    if (pinned) json_u64(&j, "pinned_bytes", bare.pinned);
    else json_null(&j, "pinned_bytes");
    json_end_obj(&j);
    json_finish(&j);
    if (out != stdout && fclose(out) != 0)
      return fprintf(stderr, "wslalloc bench: writing %s failed\n", json_path), 1;
  }
  return 0;
}
