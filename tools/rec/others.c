/* The other programs on a GPU for the tools: NVML asked now, the Windows side through WSL interop, the supervisor's snapshots beside a recording. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "others.h"
#include "wslalloc/options.h"

/* --- which backend --- */

static bool is_wsl(void) {
  struct utsname u;
  if (uname(&u) == 0 && (strstr(u.release, "microsoft") || strstr(u.release, "WSL")))
    return true;
  return access("/proc/sys/fs/binfmt_misc/WSLInterop", F_OK) == 0;
}

enum others_backend others_backend(void) {
  /* The library's own table reads WSLALLOC_OTHERS (a bad value: auto). */
  struct wsla_options o;
  wsla_options_load(&o, NULL);
  switch (o.others.num) {
  case WSLA_OTHERS_MODE_OFF: return OTHERS_OFF;
  case WSLA_OTHERS_MODE_NVML: return OTHERS_NVML;
  case WSLA_OTHERS_MODE_WINDOWS: return OTHERS_WINDOWS;
  default: return is_wsl() ? OTHERS_WINDOWS : OTHERS_NVML;
  }
}

const char *others_backend_name(enum others_backend b) {
  return b == OTHERS_OFF ? "off" : b == OTHERS_NVML ? "NVML" : "the Windows side";
}

/* A name from outside (Windows' output, a recording, a snapshot file)
   made safe to print: terminated, control bytes and bytes beyond ASCII as
   '?' (tasklist writes the console's code page, not UTF-8, so those could
   not be read right anyway). */
static void clean_name(char *name, size_t len) {
  name[len - 1] = '\0';
  for (char *q = name; *q; q++)
    if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) *q = '?';
}

/* A LUID as the counters write it, "0x00000000_0x000095CA", and nothing else. */
static bool luid_ok(const char *s) {
  for (; *s; s++)
    if (!isxdigit((unsigned char)*s) && *s != 'x' && *s != 'X' && *s != '_') return false;
  return true;
}

/* --- the recording's own lists (NVML, at the OOM) --- */

static const struct wsla_others *rec_others(const struct rec *r, uint64_t idx) {
  /* The reader copied them within the file and by the slot protocol. */
  if (!r->others || idx >= r->others_count) return NULL;
  const struct wsla_others *s = &r->others[idx];
  return s->commit == idx + 1 ? s : NULL;
}

/* --- running a Windows program, with a timeout --- */

/* Where name is: on PATH (WSL appends Windows' PATH unless wsl.conf says
   appendWindowsPath=false), else in System32 on the usual mount. */
static bool find_program(const char *name, char *out, size_t len) {
  const char *path = getenv("PATH");
  while (path && *path) {
    size_t n = strcspn(path, ":");
    snprintf(out, len, "%.*s/%s", (int)n, path, name);
    if (n && access(out, X_OK) == 0) return true;
    path += n + (path[n] == ':');
  }
  snprintf(out, len, "/mnt/c/Windows/System32/%s", name);
  return access(out, X_OK) == 0;
}

#define CAPTURE_MAX (4u << 20)

/* Runs argv with stdout into *out (NUL-terminated, malloc'd), in a
   process group of its own that is killed whole at the deadline.  0, or
   -1 with one line in err. */
static int capture(char *const argv[], int timeout_ms, char **out, char *err, size_t len) {
  *out = NULL;
  char prog[4096];
  if (!find_program(argv[0], prog, sizeof prog)) {
    snprintf(err, len, "%s not found: WSL interop is off (/etc/wsl.conf [interop]) or "
             "Windows' PATH is not appended", argv[0]);
    return -1;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(err, len, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, len, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) dup2(nul, STDIN_FILENO), dup2(nul, STDERR_FILENO);
    execv(prog, argv);
    _exit(126);
  }
  setpgid(pid, pid); /* both sides, so that the kill below finds the group */
  close(fds[1]);
  size_t cap = 65536, used = 0;
  char *buf = malloc(cap);
  bool timed_out = false, too_big = false;
  uint64_t deadline = tool_now_ns() + (uint64_t)timeout_ms * 1000000u;
  while (buf) {
    uint64_t now = tool_now_ns();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int rc = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    if (used + 4096 + 1 > cap) {
      if (cap >= CAPTURE_MAX) {
        too_big = true;
        break;
      }
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) break;
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fds[0], buf + used, cap - used - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
  }
  close(fds[0]);
  /* Its output ended; it must end too, by the same deadline (a program
     that closes its output and hangs is killed all the same). */
  int status = 0;
  pid_t got = 0;
  while (!timed_out && !too_big && buf && (got = waitpid(pid, &status, WNOHANG)) == 0) {
    if (tool_now_ns() >= deadline) timed_out = true;
    else poll(NULL, 0, 10);
  }
  if (got < 0 && errno == EINTR) got = 0;
  if (got == 0) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!buf) {
    snprintf(err, len, "%s: out of memory", argv[0]);
    return -1;
  }
  buf[used] = '\0';
  if (timed_out || too_big) {
    if (too_big)
      snprintf(err, len, "%s wrote more than %u MiB: not the expected output", argv[0],
               CAPTURE_MAX >> 20);
    else
      snprintf(err, len, "%s did not answer within %.1f s: killed", argv[0], timeout_ms / 1000.0);
    free(buf);
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
      snprintf(err, len, "%s could not be started: WSL interop is off (/etc/wsl.conf "
               "[interop] enabled=false)", argv[0]);
    else
      snprintf(err, len, "%s failed (status %d)", argv[0],
               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    free(buf);
    return -1;
  }
  *out = buf;
  return 0;
}

/* --- parsing what Windows says --- */

/* The next CSV field of a line at *s (quoted or not), into field; false at
   the line's end. */
static bool csv_field(const char **s, char *field, size_t len) {
  const char *p = *s;
  if (!*p || *p == '\r' || *p == '\n') return false;
  size_t n = 0;
  if (*p == '"') {
    p++;
    while (*p && *p != '\n') {
      if (*p == '"' && p[1] == '"') p++;
      else if (*p == '"') break;
      if (n + 1 < len) field[n++] = *p;
      p++;
    }
    if (*p == '"') p++;
  } else {
    while (*p && *p != ',' && *p != '\r' && *p != '\n') {
      if (n + 1 < len) field[n++] = *p;
      p++;
    }
  }
  field[n] = '\0';
  if (*p == ',') p++;
  *s = p;
  return true;
}

static const char *next_line(const char *s) {
  const char *nl = strchr(s, '\n');
  return nl ? nl + 1 : s + strlen(s);
}

/* "\\HOST\GPU Process Memory(pid_9524_luid_0x00000000_0x000095CA_phys_0)\Dedicated Usage":
   its pid, adapter LUID and which counter; false for anything else. */
static bool parse_counter(const char *path, uint32_t *pid, char *luid, size_t len,
                          bool *dedicated) {
  const char *open = strstr(path, "GPU Process Memory(pid_");
  if (!open) return false;
  const char *p = open + strlen("GPU Process Memory(pid_");
  char *end;
  unsigned long v = strtoul(p, &end, 10);
  if (end == p || v > UINT32_MAX || strncmp(end, "_luid_", 6)) return false;
  const char *l = end + 6, *phys = strstr(l, "_phys_");
  const char *close = strchr(l, ')');
  if (!phys || !close || phys > close || (size_t)(phys - l) >= len || phys == l) return false;
  for (const char *c = l; c < phys; c++)
    if (!isxdigit((unsigned char)*c) && *c != 'x' && *c != 'X' && *c != '_') return false;
  snprintf(luid, len, "%.*s", (int)(phys - l), l);
  *pid = (uint32_t)v;
  if (!strcmp(close, ")\\Dedicated Usage")) *dedicated = true;
  else if (!strcmp(close, ")\\Shared Usage")) *dedicated = false;
  else return false;
  return true;
}

static struct win_proc *proc_of(struct win_snapshot *s, const char *luid, uint32_t pid) {
  struct win_adapter *a = NULL;
  for (size_t i = 0; i < s->nadapters && !a; i++)
    if (!strcmp(s->adapters[i].luid, luid)) a = &s->adapters[i];
  if (!a) {
    if (s->nadapters == WIN_ADAPTERS_MAX) return NULL;
    a = &s->adapters[s->nadapters++];
    memset(a, 0, sizeof *a);
    snprintf(a->luid, sizeof a->luid, "%s", luid);
  }
  for (size_t i = 0; i < a->nprocs; i++)
    if (a->procs[i].pid == pid) return &a->procs[i];
  if (a->nprocs == WIN_PROCS_MAX) return NULL;
  struct win_proc *p = &a->procs[a->nprocs++];
  memset(p, 0, sizeof *p);
  p->pid = pid;
  return p;
}

/* A counter's value: a decimal number of bytes; false for a blank (the
   instance went away between the listing and the sample) or garbage. */
static bool parse_bytes(const char *s, uint64_t *out) {
  while (*s == ' ') s++;
  if (!isdigit((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end == ' ') end++;
  if (errno || *end || v < 0 || v >= 18446744073709551615.0) return false;
  *out = (uint64_t)v;
  return true;
}

int win_parse(const char *typeperf, const char *tasklist, struct win_snapshot *out, char *err,
              size_t len) {
  memset(out, 0, sizeof *out);
  out->vm_adapter = -1;
  /* typeperf -sc 1: a header line "(PDH-CSV 4.0)","\\HOST\Object(instance)\Counter",...
     then one line of values, the first column the time. */
  const char *head = typeperf;
  while (*head && strncmp(head, "\"(PDH-CSV", 9)) head = next_line(head);
  if (!*head) {
    snprintf(err, len, "typeperf.exe gave no counter header: not the expected output");
    return -1;
  }
  const char *data = next_line(head);
  while (*data && *data != '"') data = next_line(data);
  if (!*data) {
    snprintf(err, len, "typeperf.exe gave no sample: not the expected output");
    return -1;
  }
  char hf[512], df[64];
  const char *h = head, *d = data;
  csv_field(&h, hf, sizeof hf); /* "(PDH-CSV 4.0)" and the time */
  csv_field(&d, df, sizeof df);
  size_t columns = 0, understood = 0;
  while (csv_field(&h, hf, sizeof hf)) {
    bool have = csv_field(&d, df, sizeof df);
    columns++;
    uint32_t pid;
    char luid[40];
    bool dedicated;
    if (!parse_counter(hf, &pid, luid, sizeof luid, &dedicated)) continue;
    understood++;
    uint64_t v;
    if (!have || !parse_bytes(df, &v)) continue;
    struct win_proc *p = proc_of(out, luid, pid);
    if (!p) continue;
    if (dedicated) p->dedicated = v, p->flags |= WSLA_OTHER_BYTES;
    else p->shared = v;
  }
  if (columns && !understood) {
    snprintf(err, len, "typeperf.exe listed no GPU Process Memory counter: not the "
             "expected output");
    return -1;
  }
  /* tasklist /fo csv /nh: "Image Name","PID","Session Name","Session#","Mem Usage". */
  for (size_t a = 0; a < out->nadapters; a++) {
    for (size_t i = 0; i < out->adapters[a].nprocs; i++) {
      struct win_proc *p = &out->adapters[a].procs[i];
      bool named = false;
      for (const char *l = tasklist; *l && !named; l = next_line(l)) {
        char image[256], pidf[32];
        const char *c = l;
        if (!csv_field(&c, image, sizeof image) || !csv_field(&c, pidf, sizeof pidf)) continue;
        char *end;
        unsigned long v = strtoul(pidf, &end, 10);
        if (end == pidf || *end || v != p->pid) continue;
        snprintf(p->name, sizeof p->name, "%.*s", (int)sizeof p->name - 1, image);
        clean_name(p->name, sizeof p->name);
        p->flags |= WSLA_OTHER_NAME_TASKLIST;
        if (!strncasecmp(image, "vmmem", 5)) p->flags |= WSLA_OTHER_WSL_VM;
        named = true;
      }
      if (!named) p->flags |= WSLA_OTHER_EXITED;
    }
  }
  /* The adapter the WSL VM (vmmem, vmmemWSL) holds dedicated memory on is
     the one this side's GPU work runs on; where it holds some on several,
     nothing tells which is which from here. */
  int found = 0;
  for (size_t a = 0; a < out->nadapters; a++)
    for (size_t i = 0; i < out->adapters[a].nprocs; i++) {
      const struct win_proc *p = &out->adapters[a].procs[i];
      if ((p->flags & WSLA_OTHER_WSL_VM) && p->dedicated) {
        if (out->vm_adapter != (int)a) found++;
        out->vm_adapter = (int)a;
        break;
      }
    }
  if (found != 1) out->vm_adapter = -1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  out->realtime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  return 0;
}

int win_sample(struct win_snapshot *out, int timeout_ms, char *err, size_t len) {
  char *const counters[] = {"typeperf.exe", "\\GPU Process Memory(*)\\Dedicated Usage",
                            "\\GPU Process Memory(*)\\Shared Usage", "-sc", "1", NULL};
  char *const tasks[] = {"tasklist.exe", "/fo", "csv", "/nh", NULL};
  char *tp, *tl;
  if (capture(counters, timeout_ms, &tp, err, len) != 0) return -1;
  if (capture(tasks, timeout_ms, &tl, err, len) != 0) {
    free(tp);
    return -1;
  }
  int rc = win_parse(tp, tl, out, err, len);
  free(tp);
  free(tl);
  return rc;
}

void win_adapter_others(const struct win_adapter *a, struct wsla_others *out) {
  memset(out, 0, sizeof *out);
  out->source = WSLA_OTHERS_WINDOWS;
  for (size_t i = 0; i < a->nprocs; i++) {
    const struct win_proc *p = &a->procs[i];
    if (!(p->flags & WSLA_OTHER_BYTES) || !p->dedicated) continue; /* holds nothing here */
    wsla_others_add(out, p->pid, p->flags, p->dedicated, p->name);
  }
}

int win_adapter_of(const struct win_snapshot *s, int dev, int ndevices) {
  (void)dev;
  return ndevices == 1 ? s->vm_adapter : -1;
}

/* --- the snapshots beside a recording: "<recording>.others" ---
 *
 *   wslalloc-others 1
 *   sample REALTIME_NS OOMS_SEEN VM_ADAPTER      (OOMS_SEEN: ooms_claimed then)
 *   adapter LUID
 *   proc PID FLAGS DEDICATED SHARED NAME          (NAME: the rest of the line)
 *
 * Written only by `wslalloc run`, read by anyone: a reader takes nothing
 * on trust (sizes bounded, fields checked, at most 64 samples).
 */

#define SIDE_MAX (4u << 20)
/* At most this many snapshots are written: a long burst of OOMs adds little. */
#define SIDE_SAMPLES 256

static void side_write(int fd, const struct win_snapshot *s, uint64_t ooms_seen) {
  FILE *f = fdopen(dup(fd), "a");
  if (!f) return;
  fprintf(f, "sample %" PRId64 " %" PRIu64 " %d\n", s->realtime_ns, ooms_seen, s->vm_adapter);
  for (size_t a = 0; a < s->nadapters; a++) {
    fprintf(f, "adapter %s\n", s->adapters[a].luid);
    for (size_t i = 0; i < s->adapters[a].nprocs; i++) {
      const struct win_proc *p = &s->adapters[a].procs[i];
      fprintf(f, "proc %u %u %" PRIu64 " %" PRIu64 " %s\n", p->pid, p->flags, p->dedicated,
              p->shared, p->name);
    }
  }
  fclose(f);
}

/* A snapshot file read once per path: its text, and where each sample
   begins (at most SIDE_SAMPLES), so that each OOM's look parses one
   sample, and the last one parsed is kept for the next. */
static struct {
  char path[4200];
  char *text;
  size_t len; /* bytes of whole lines in text */
  size_t nsamples;
  struct {
    uint64_t ooms_seen;
    size_t at; /* offset of its first line after "sample" */
    int64_t realtime_ns;
    int vm;
  } samples[SIDE_SAMPLES];
  long parsed; /* the sample in parsed_snap, -1 for none */
  struct win_snapshot parsed_snap;
} side;

static void side_load(const char *path) {
  if (side.text && !strcmp(side.path, path)) return;
  free(side.text);
  side.text = NULL;
  side.nsamples = 0;
  side.parsed = -1;
  snprintf(side.path, sizeof side.path, "%s", path);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SIDE_MAX) {
    close(fd);
    return;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  ssize_t got = buf ? pread(fd, buf, (size_t)st.st_size, 0) : -1;
  close(fd);
  if (got < 0 || strncmp(buf, "wslalloc-others 1\n", 18)) {
    free(buf);
    return;
  }
  buf[got] = '\0';
  /* A torn last line (the writer was cut short) is dropped. */
  char *last = strrchr(buf, '\n');
  side.len = last ? (size_t)(last + 1 - buf) : 0;
  for (char *line = buf, *nl; (size_t)(line - buf) < side.len; line = nl) {
    /* memchr, not strchr: a hostile file may hold NUL bytes. */
    nl = memchr(line, '\n', side.len - (size_t)(line - buf));
    *nl++ = '\0';
    if (side.nsamples == SIDE_SAMPLES) continue;
    int64_t t;
    uint64_t seen;
    int vm, used = 0;
    if (sscanf(line, "sample %" SCNd64 " %" SCNu64 " %d%n", &t, &seen, &vm, &used) == 3 &&
        !line[used]) {
      side.samples[side.nsamples].ooms_seen = seen;
      side.samples[side.nsamples].at = (size_t)(nl - buf);
      side.samples[side.nsamples].realtime_ns = t;
      side.samples[side.nsamples].vm = vm;
      side.nsamples++;
    }
  }
  side.text = buf; /* lines now NUL-separated */
}

/* Parses sample k's lines into out. */
static void side_parse(size_t k, struct win_snapshot *out) {
  memset(out, 0, sizeof *out);
  out->realtime_ns = side.samples[k].realtime_ns;
  int vm = side.samples[k].vm;
  struct win_adapter *ad = NULL;
  size_t end = k + 1 < side.nsamples ? side.samples[k + 1].at : SIZE_MAX;
  if (end > side.len) end = side.len;
  for (char *line = side.text + side.samples[k].at; (size_t)(line - side.text) < end;
       line += strlen(line) + 1) {
    uint64_t ded, sh;
    unsigned pid, flags;
    int used = 0;
    char luid[40];
    if (sscanf(line, "adapter %39s%n", luid, &used) == 1 && !line[used] && luid_ok(luid)) {
      ad = out->nadapters < WIN_ADAPTERS_MAX ? &out->adapters[out->nadapters++] : NULL;
      if (ad) snprintf(ad->luid, sizeof ad->luid, "%s", luid);
    } else if (ad && ad->nprocs < WIN_PROCS_MAX &&
               sscanf(line, "proc %u %u %" SCNu64 " %" SCNu64 " %n", &pid, &flags, &ded, &sh,
                      &used) == 4) {
      struct win_proc *p = &ad->procs[ad->nprocs++];
      p->pid = pid;
      p->flags = (uint16_t)flags;
      p->dedicated = ded;
      p->shared = sh;
      snprintf(p->name, sizeof p->name, "%s", line + used);
      clean_name(p->name, sizeof p->name);
    }
  }
  out->vm_adapter = vm >= 0 && vm < (int)out->nadapters ? vm : -1;
}

/* The first sample in path taken once OOM record idx was seen (its
   ooms_seen above idx); NULL if none. */
static const struct win_snapshot *side_find(const char *path, uint64_t idx) {
  side_load(path);
  for (size_t k = 0; side.text && k < side.nsamples; k++) {
    if (side.samples[k].ooms_seen <= idx) continue;
    if (side.parsed != (long)k) side_parse(k, &side.parsed_snap);
    side.parsed = (long)k;
    return &side.parsed_snap;
  }
  return NULL;
}

static int devices_used(const struct rec *r) {
  int n = 0;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) n += rec_device_used(&r->ctr->dev[d]);
  return n;
}

bool others_for_oom(const struct rec *r, uint64_t idx, struct wsla_others *out, double *after_s,
                    char *luid, size_t luid_len) {
  *after_s = -1;
  luid[0] = '\0';
  const struct wsla_oom *o = &r->ooms[idx];
  /* The supervisor's snapshot first where there is one: on WSL2 it has the
     sizes NVML cannot give. */
  char path[4200];
  snprintf(path, sizeof path, "%s.others", r->path);
  const struct win_snapshot *have = side_find(path, idx);
  /* The device's LUID where the driver gave it: the exact match. */
  char want[40] = "";
  if (o->luid_valid == 1) {
    uint32_t low, high;
    memcpy(&low, o->luid, 4);
    memcpy(&high, o->luid + 4, 4);
    snprintf(want, sizeof want, "0x%08X_0x%08X", high, low);
  }
  /* The first sample taken once this OOM was seen. */
  if (have) {
    const struct win_snapshot *snap = have;
    int a = -1;
    if (want[0]) {
      for (size_t k = 0; k < snap->nadapters && a < 0; k++)
        if (!strcasecmp(snap->adapters[k].luid, want)) a = (int)k;
    } else {
      a = win_adapter_of(snap, o->device, devices_used(r));
      /* Not matched: an adapter is taken only where there is one at all. */
      if (a < 0 && snap->nadapters == 1) a = 0;
    }
    if (a < 0) {
      /* Said, not guessed. */
      memset(out, 0, sizeof *out);
      out->source = WSLA_OTHERS_WINDOWS;
      out->status = WSLA_OTHERS_UNMATCHED;
      snprintf(luid, luid_len, "%s", want);
      return true;
    }
    win_adapter_others(&snap->adapters[a], out);
    snprintf(luid, luid_len, "%s", snap->adapters[a].luid);
    int64_t at = r->hdr->start_realtime_ns + (int64_t)o->time_ns;
    *after_s = (double)(snap->realtime_ns - at) / 1e9;
    return true;
  }
  const struct wsla_others *s = rec_others(r, idx);
  if (!s) return false;
  *out = *s;
  if (out->kept > WSLA_OTHERS_KEEP) out->kept = WSLA_OTHERS_KEEP;
  for (size_t i = 0; i < WSLA_OTHERS_KEEP; i++)
    clean_name(out->entries[i].name, sizeof out->entries[i].name);
  *after_s = 0;
  return true;
}

void others_named(const struct rec *r, uint64_t idx, char *named, size_t len) {
  struct wsla_others s;
  double after;
  char luid[40];
  named[0] = '\0';
  if (others_for_oom(r, idx, &s, &after, luid, sizeof luid)) wsla_others_text(&s, 3, named, len);
}

static const char *name_from(uint16_t f) {
  return f & WSLA_OTHER_NAME_NVML       ? "nvml"
         : f & WSLA_OTHER_NAME_PROC     ? "proc"
         : f & WSLA_OTHER_NAME_TASKLIST ? "tasklist"
                                        : NULL;
}

void others_report_text(FILE *out, const struct rec *r, uint64_t idx) {
  struct wsla_others s;
  double after;
  char luid[40], a[32], b[32], name[96];
  if (!others_for_oom(r, idx, &s, &after, luid, sizeof luid)) return;
  if (s.status == WSLA_OTHERS_UNMATCHED && luid[0]) {
    fprintf(out, "     others on the GPU: not listed (the device's adapter, LUID %s, is not "
            "among Windows' counters)\n", luid);
    return;
  }
  if (s.status != WSLA_OTHERS_OK) {
    fprintf(out, "     others on the device: not listed (%s)\n", wsla_others_status_text(&s));
    return;
  }
  if (s.source == WSLA_OTHERS_WINDOWS)
    fprintf(out, "     others on the GPU (Windows' counters, %.1f s %s, adapter %s, %s): ",
            after < 0 ? -after : after, after < 0 ? "before" : "after", luid,
            r->ooms[idx].luid_valid == 1 ? "the device's LUID"
                                         : "the one the WSL VM holds memory on");
  else
    fprintf(out, "     others on the device (NVML, right after): ");
  if (!s.listed) {
    fprintf(out, "none listed\n");
    return;
  }
  if (s.listed_bytes)
    fprintf(out, "%s in %u %s\n", fmt_size(s.listed_bytes, a, sizeof a), s.listed,
            plural(s.listed, "program", "programs"));
  else
    fprintf(out, "%u %s, their sizes not available (WDDM)\n", s.listed,
            plural(s.listed, "program", "programs"));
  for (size_t i = 0; i < s.kept && i < WSLA_OTHERS_KEEP; i++) {
    const struct wsla_other *e = &s.entries[i];
    wsla_other_name(e, name, sizeof name);
    if (e->flags & WSLA_OTHER_BYTES) fmt_size(e->bytes, b, sizeof b);
    else snprintf(b, sizeof b, "size n/a");
    fprintf(out, "       %8u  %-28s %12s%s\n", e->pid, name, b,
            e->flags & WSLA_OTHER_WSL_VM ? "  (the WSL VM: this and other Linux programs)" : "");
  }
  if (s.listed > s.kept)
    fprintf(out, "       (%u more)\n", (unsigned)(s.listed - s.kept));
}

void others_report_json(struct json *j, const struct rec *r, uint64_t idx) {
  struct wsla_others s;
  double after;
  char luid[40], name[96];
  if (!others_for_oom(r, idx, &s, &after, luid, sizeof luid)) {
    json_null(j, "others");
    json_null(j, "others_source");
    return;
  }
  json_arr(j, "others");
  for (size_t i = 0; i < s.kept && i < WSLA_OTHERS_KEEP; i++) {
    const struct wsla_other *e = &s.entries[i];
    json_obj(j, NULL);
    json_u64(j, "pid", e->pid);
    char raw[WSLA_OTHER_NAME_MAX + 1];
    memcpy(raw, e->name, WSLA_OTHER_NAME_MAX);
    raw[WSLA_OTHER_NAME_MAX] = '\0';
    if (raw[0]) json_str(j, "name", raw);
    else json_null(j, "name");
    json_str(j, "label", wsla_other_name(e, name, sizeof name));
    /* Not available is null, never a number. */
    if (e->flags & WSLA_OTHER_BYTES) json_u64(j, "bytes", e->bytes);
    else json_null(j, "bytes");
    const char *from = name_from(e->flags);
    if (from) json_str(j, "name_from", from);
    else json_null(j, "name_from");
    json_str(j, "bytes_from", !(e->flags & WSLA_OTHER_BYTES)      ? "not available"
                              : s.source == WSLA_OTHERS_WINDOWS ? "windows dedicated usage"
                                                                : "nvml");
    json_bool(j, "another_pid_namespace", e->flags & WSLA_OTHER_FOREIGN_NS);
    json_bool(j, "exited", e->flags & WSLA_OTHER_EXITED);
    json_bool(j, "wsl_vm", e->flags & WSLA_OTHER_WSL_VM);
    json_end_obj(j);
  }
  json_end_arr(j);
  json_obj(j, "others_source");
  json_str(j, "source", s.source == WSLA_OTHERS_WINDOWS ? "windows" : "nvml");
  json_str(j, "status", wsla_others_status_text(&s));
  json_u64(j, "listed", s.listed);
  json_u64(j, "listed_bytes", s.listed_bytes);
  if (luid[0]) json_str(j, "adapter_luid", luid);
  json_f64(j, "after_s", after);
  json_end_obj(j);
}

/* --- asked now: top, doctor, metrics --- */

/* The others on dev now, by the backend in force; false with err. */
static bool others_now(int dev, int ndevices, struct wsla_others *out, char *what, size_t wlen,
                       char *err, size_t elen) {
  enum others_backend b = others_backend();
  what[0] = '\0';
  if (b == OTHERS_OFF) {
    snprintf(err, elen, "WSLALLOC_OTHERS=off");
    return false;
  }
  if (b == OTHERS_NVML) {
    memset(out, 0, sizeof *out);
    wsla_nvml_others(dev, out);
    if (out->status != WSLA_OTHERS_OK) {
      snprintf(err, elen, "%s", wsla_others_status_text(out));
      return false;
    }
    snprintf(what, wlen, "NVML");
    return true;
  }
  static struct win_snapshot snap;
  if (win_sample(&snap, 5000, err, elen) != 0) return false;
  int a = win_adapter_of(&snap, dev, ndevices);
  if (a < 0 && snap.nadapters == 1) a = 0;
  if (a < 0) {
    snprintf(err, elen, "%zu Windows adapters and none matched to GPU %d (the WSL VM holds "
             "memory on %s)", snap.nadapters, dev, snap.vm_adapter < 0 ? "none or several" : "another");
    return false;
  }
  win_adapter_others(&snap.adapters[a], out);
  snprintf(what, wlen, "Windows, adapter %s", snap.adapters[a].luid);
  return true;
}

/* Whether pid is one of the running recorded processes (shown on their
   own lines already). */
static bool recorded(struct rec *const *all, size_t n, uint32_t pid) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rec_end_state(all[i]), "running") && (uint32_t)all[i]->hdr->pid == pid) return true;
  return false;
}

static int running_devices(struct rec *const *all, size_t n) {
  int count = 0;
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    bool used = false;
    for (size_t i = 0; i < n && !used; i++)
      used = !strcmp(rec_end_state(all[i]), "running") && rec_device_used(&all[i]->ctr->dev[d]);
    count += used;
  }
  return count;
}

void others_top(FILE *out, int dev, struct rec *const *all, size_t n) {
  struct wsla_others s;
  char what[96], err[512], name[96], b[32];
  if (!others_now(dev, running_devices(all, n), &s, what, sizeof what, err, sizeof err)) {
    fprintf(out, "  others: not listed (%s)\n", err);
    return;
  }
  size_t shown = 0;
  for (size_t i = 0; i < s.kept && i < WSLA_OTHERS_KEEP; i++) {
    const struct wsla_other *e = &s.entries[i];
    if (s.source == WSLA_OTHERS_NVML && recorded(all, n, e->pid)) continue;
    if (e->flags & WSLA_OTHER_BYTES) fmt_size(e->bytes, b, sizeof b);
    else snprintf(b, sizeof b, "n/a");
    fprintf(out, "  %8u  %-20.20s %12s  other (%s)%s\n", e->pid, wsla_other_name(e, name, sizeof name),
            b, what, e->flags & WSLA_OTHER_WSL_VM ? ", the WSL VM" : "");
    shown++;
  }
  if (!shown) fprintf(out, "  others (%s): none\n", what);
  if (s.listed > s.kept) fprintf(out, "  (%u more others)\n", (unsigned)(s.listed - s.kept));
}

void others_doctor(void (*verdict)(const char *, const char *, const char *, const char *)) {
  enum others_backend b = others_backend();
  char detail[600], err[512], what[96];
  if (b == OTHERS_OFF) {
    verdict("skip", "other programs on the GPU", "WSLALLOC_OTHERS=off", NULL);
    return;
  }
  struct wsla_others s;
  if (!others_now(0, 1, &s, what, sizeof what, err, sizeof err)) {
    snprintf(detail, sizeof detail, "%s: %s", others_backend_name(b), err);
    verdict("warn", "other programs on the GPU", detail,
            b == OTHERS_WINDOWS ? "turn WSL interop on ([interop] enabled=true in /etc/wsl.conf, "
                                  "then wsl --shutdown) to name the Windows programs holding "
                                  "GPU memory"
                                : "install the NVIDIA driver's NVML (libnvidia-ml.so.1)");
    return;
  }
  char list[256] = "";
  wsla_others_text(&s, 3, list, sizeof list);
  snprintf(detail, sizeof detail, "%s sees %u on GPU 0%s%s%s", what, s.listed,
           list[0] ? " (" : "", list, list[0] ? ")" : "");
  if (s.listed && !s.listed_bytes) {
    size_t used = strlen(detail);
    snprintf(detail + used, sizeof detail - used, ", sizes not available (WDDM)");
  }
  for (size_t i = 0; i < s.kept && i < WSLA_OTHERS_KEEP; i++) {
    const struct wsla_other *e = &s.entries[i];
    if (!(e->flags & WSLA_OTHER_WSL_VM)) continue;
    char name[96], size[32];
    size_t used = strlen(detail);
    snprintf(detail + used, sizeof detail - used, "; the WSL VM (%s) %s, this side's own",
             wsla_other_name(e, name, sizeof name), fmt_size(e->bytes, size, sizeof size));
  }
  verdict("ok", "other programs on the GPU", detail, NULL);
}

static void label_value(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') fprintf(out, "\\%c", *s);
    else if (*s == '\n') fputs("\\n", out);
    else fputc(*s, out);
  }
}

#define METRIC_TOP 5

void others_metrics(FILE *out, struct rec *const *all, size_t n) {
  int ndevices = running_devices(all, n);
  if (!ndevices || others_backend() == OTHERS_OFF) return;
  fprintf(out, "# HELP wslalloc_other_bytes Device memory other programs hold now, by name: the "
               "largest few, the rest summed under name=\"(rest)\".\n"
               "# TYPE wslalloc_other_bytes gauge\n");
  for (unsigned d = 0; d < WSLA_DEVICE_MAX; d++) {
    bool used = false;
    for (size_t i = 0; i < n && !used; i++)
      used = !strcmp(rec_end_state(all[i]), "running") && rec_device_used(&all[i]->ctr->dev[d]);
    if (!used) continue;
    struct wsla_others s;
    char what[96], err[512], name[96];
    if (!others_now((int)d, ndevices, &s, what, sizeof what, err, sizeof err)) continue;
    /* Label cardinality: a few names per device, whatever runs. */
    uint64_t shown = 0, recorded_bytes = 0;
    size_t k = 0, unsized = 0;
    for (size_t i = 0; i < s.kept && i < WSLA_OTHERS_KEEP; i++) {
      const struct wsla_other *e = &s.entries[i];
      unsized += !(e->flags & WSLA_OTHER_BYTES);
      if (!(e->flags & WSLA_OTHER_BYTES) || (e->flags & WSLA_OTHER_WSL_VM)) continue;
      if (s.source == WSLA_OTHERS_NVML && recorded(all, n, e->pid)) {
        recorded_bytes += e->bytes; /* a series of its own already */
        continue;
      }
      /* A program without a name (gone, or of another pid namespace)
         would make a label of its pid, new with every run: the rest. */
      if (k == METRIC_TOP || !e->name[0]) continue;
      fprintf(out, "wslalloc_other_bytes{device=\"%u\",name=\"", d);
      label_value(out, wsla_other_name(e, name, sizeof name));
      fprintf(out, "\"} %" PRIu64 "\n", e->bytes);
      shown += e->bytes;
      k++;
    }
    /* A sum over programs some of which have no figure (WDDM) is no
       figure either: no sample rather than a made-up one. */
    if (unsized) continue;
    uint64_t rest = s.listed_bytes - (shown + recorded_bytes <= s.listed_bytes ? shown + recorded_bytes
                                                                             : s.listed_bytes);
    fprintf(out, "wslalloc_other_bytes{device=\"%u\",name=\"(rest)\"} %" PRIu64 "\n", d, rest);
  }
}

/* --- the supervisor --- */

/* The child's recording in dir, mapped read-only: its counters, to watch
   ooms_claimed; false until it exists. */
struct watched {
  char path[4096];
  void *map;
  size_t len;
  const struct wsla_counters *ctr;
};

static bool watch_find(struct watched *w, const char *dir, pid_t pid) {
  DIR *d = opendir(dir);
  if (!d) return false;
  char tag[32];
  snprintf(tag, sizeof tag, ".%d.", (int)pid);
  struct dirent *de;
  bool found = false;
  while (!found && (de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".wsla") || !strstr(de->d_name, tag)) continue;
    snprintf(w->path, sizeof w->path, "%s/%s", dir, de->d_name);
    int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    struct wsla_header h;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, &h, sizeof h, 0) == sizeof h &&
        !memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) && h.pid == pid &&
        h.counters_off % 8 == 0 && h.counters_off + sizeof(struct wsla_counters) <= (uint64_t)st.st_size) {
      w->len = h.counters_off + sizeof(struct wsla_counters);
      w->map = mmap(NULL, w->len, PROT_READ, MAP_SHARED, fd, 0);
      if (w->map != MAP_FAILED) {
        w->ctr = (const struct wsla_counters *)((const char *)w->map + h.counters_off);
        found = true;
      } else {
        w->map = NULL;
      }
    }
    close(fd);
  }
  closedir(d);
  return found;
}

/* Takes one snapshot into s; a failure is said once, on one line. */
static bool supervise_sample(struct win_snapshot *s, int *warned) {
  char err[512];
  if (win_sample(s, 5000, err, sizeof err) == 0) return true;
  /* Pairs with itself: one of the two samplers says it. */
  if (!__atomic_exchange_n(warned, 1, __ATOMIC_ACQ_REL))
    fprintf(stderr, "wslalloc run: the Windows side cannot be read (%s); OOMs will not name "
                    "the Windows programs holding GPU memory\n", err);
  return false;
}

/* The periodic look, in a thread of its own so that a slow Windows side
   never delays noticing an OOM: the latest snapshot, under a lock. */
struct periodic {
  pthread_mutex_t lock;
  struct win_snapshot last;
  bool have_last;
  int warned;
  int active; /* set once the child has a recording: it uses a GPU */
  int stop;   /* set by the supervisor when the child has ended */
};

#define SUPERVISE_EVERY_MS 5000
#define SUPERVISE_POLL_MS 50

static void *periodic_run(void *arg) {
  struct periodic *pd = arg;
  static struct win_snapshot fresh;
  while (!__atomic_load_n(&pd->stop, __ATOMIC_ACQUIRE) &&
         !__atomic_load_n(&pd->warned, __ATOMIC_ACQUIRE)) {
    /* Acquire pairs with the supervisor's release store of active: a
       program that never touches a GPU costs Windows nothing. */
    if (__atomic_load_n(&pd->active, __ATOMIC_ACQUIRE) && supervise_sample(&fresh, &pd->warned)) {
      pthread_mutex_lock(&pd->lock);
      pd->last = fresh;
      pd->have_last = true;
      pthread_mutex_unlock(&pd->lock);
    }
    /* Acquire pairs with the release store of stop by the supervisor. */
    for (int waited = 0; waited < SUPERVISE_EVERY_MS &&
                         !__atomic_load_n(&pd->stop, __ATOMIC_ACQUIRE);
         waited += SUPERVISE_POLL_MS)
      poll(NULL, 0, SUPERVISE_POLL_MS);
  }
  return NULL;
}

/* Creates "<recording>.others" (never through a planted link, never over
   a file already there) with its first line; -1 after one line. */
static int side_create(const char *rec_path) {
  char path[4200];
  snprintf(path, sizeof path, "%s.others", rec_path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    fprintf(stderr, "wslalloc run: %s: %s; the Windows programs holding GPU memory are "
                    "not kept\n", path, strerror(errno));
    return -1;
  }
  static const char first[] = "wslalloc-others 1\n";
  if (write(fd, first, sizeof first - 1) != (ssize_t)(sizeof first - 1)) {
    close(fd);
    return -1;
  }
  return fd;
}

pid_t others_supervise(pid_t pid, const char *dir, int *status) {
  pid_t r;
  if (others_backend() != OTHERS_WINDOWS) {
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR) {
    }
    return r;
  }
  static struct periodic pd = {.lock = PTHREAD_MUTEX_INITIALIZER};
  static struct win_snapshot now;
  pthread_t sampler;
  bool threaded = pthread_create(&sampler, NULL, periodic_run, &pd) == 0;
  uint64_t ooms_done = 0;
  unsigned written = 0;
  struct watched w = {0};
  int side = -1;
  for (;;) {
    r = waitpid(pid, status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    bool done = r != 0;
    if (!w.ctr && watch_find(&w, dir, pid))
      __atomic_store_n(&pd.active, 1, __ATOMIC_RELEASE); /* pairs: periodic_run */
    /* The shim counts OOMs with relaxed increments: a count read a little
       late only delays the sample by one poll. */
    uint64_t claimed = w.ctr ? __atomic_load_n(&w.ctr->ooms_claimed, __ATOMIC_RELAXED) : 0;
    if (claimed > ooms_done) {
      /* At once: the programs that crowded it out may go soon.  Where the
         Windows side cannot be read now, the last periodic look stands in. */
      if (side < 0) side = side_create(w.path);
      if (side >= 0 && written++ < SIDE_SAMPLES) {
        if (!__atomic_load_n(&pd.warned, __ATOMIC_ACQUIRE) && supervise_sample(&now, &pd.warned)) {
          side_write(side, &now, claimed);
        } else {
          pthread_mutex_lock(&pd.lock);
          if (pd.have_last) side_write(side, &pd.last, claimed);
          pthread_mutex_unlock(&pd.lock);
        }
      }
      ooms_done = claimed;
    }
    if (done) break;
    poll(NULL, 0, SUPERVISE_POLL_MS);
  }
  /* Release: pairs with the sampler's acquire loads of stop. */
  __atomic_store_n(&pd.stop, 1, __ATOMIC_RELEASE);
  if (threaded) pthread_join(sampler, NULL); /* a sample in flight ends by its timeout */
  if (side >= 0) close(side);
  if (w.map) munmap(w.map, w.len);
  return r;
}
