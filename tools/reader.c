/* Reader: loads a recording into memory and checks every offset, count and string before use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"
#include "utf8.h"
#include "wslalloc/options.h"

#define MAX_FILE (64ull << 30)

static int fail(char *err, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
  return -1;
}

static void mark_partial(struct rec *r, const char *why) {
  if (!r->partial) snprintf(r->partial_why, sizeof r->partial_why, "%s", why);
  r->partial = true;
}

/* Copies a string field of the file, bounded, with control characters
   replaced by '?' and ill-formed UTF-8 by U+FFFD: what the tools print is
   always clean text.  dst holds srclen + 1 bytes, as each caller's does. */
static void copy_str_lines(char *dst, const char *src, size_t srclen,
                           bool lines) {
  utf8_clean(dst, srclen + 1, src, srclen, lines);
}

static void copy_str(char *dst, const char *src, size_t srclen) {
  copy_str_lines(dst, src, srclen, false);
}

/* Whole elements of a region that the file holds, at most cap. */
static uint64_t present(const struct rec *r, uint64_t off, uint64_t cap,
                        uint64_t elem) {
  if (off >= r->size) return 0;
  uint64_t avail = (r->size - off) / elem;
  return avail < cap ? avail : cap;
}

static int check_layout(const struct wsla_header *h, char *err, size_t len) {
  if (h->header_size != sizeof(struct wsla_header) ||
      h->counters_size != sizeof(struct wsla_counters) ||
      h->module_size != sizeof(struct wsla_module) ||
      h->oom_size != (h->version == 1 ? WSLA_OOM_V1_SIZE : sizeof(struct wsla_oom)) ||
      h->live_size != sizeof(struct wsla_live) ||
      h->event_size != sizeof(struct wsla_event) ||
      h->api_max != WSLA_API_MAX || h->device_max != WSLA_DEVICE_MAX)
    return fail(err, len, "its record sizes do not match format version %u",
                (unsigned)h->version);
  if (h->ring_cap == 0 || (h->ring_cap & (h->ring_cap - 1)) ||
      h->ring_cap > (1ull << 32) || h->live_cap > (1ull << 32) ||
      h->module_cap > 65536 || h->oom_cap > 65536)
    return fail(err, len, "its capacities are impossible");
  bool stacks = h->version >= 2 && (h->features & WSLA_FEAT_OOM_STACKS);
  bool alloc_stacks = h->version >= 2 && (h->features & WSLA_FEAT_STACKS);
  if (stacks && h->oom_stack_size != sizeof(struct wsla_stack))
    return fail(err, len, "its record sizes do not match format version %u",
                WSLA_FORMAT_VERSION);
  if (alloc_stacks && (h->stack_cap > 65535 || !stacks))
    return fail(err, len, "its capacities are impossible");
  /* Regions in order, each ending before the next begins. */
  uint64_t oom_end = stacks ? h->oom_stack_off + (uint64_t)h->oom_cap * sizeof(struct wsla_stack)
                            : h->oom_off + (uint64_t)h->oom_cap * h->oom_size;
  uint64_t ends[7][2] = {
      {h->counters_off, sizeof(struct wsla_counters)},
      {h->module_off, (uint64_t)h->module_cap * sizeof(struct wsla_module)},
      {h->oom_off, (uint64_t)h->oom_cap * h->oom_size},
      {stacks ? h->oom_stack_off : h->oom_off + (uint64_t)h->oom_cap * h->oom_size,
       stacks ? (uint64_t)h->oom_cap * sizeof(struct wsla_stack) : 0},
      {alloc_stacks ? h->stack_off : oom_end,
       alloc_stacks ? (uint64_t)h->stack_cap * sizeof(struct wsla_stack) : 0},
      {h->live_off, h->live_cap * sizeof(struct wsla_live)},
      {h->ring_off, h->ring_cap * sizeof(struct wsla_event)},
  };
  uint64_t at = sizeof(struct wsla_header);
  for (int i = 0; i < 7; i++) {
    if (ends[i][0] < at || ends[i][0] > MAX_FILE || ends[i][1] > MAX_FILE)
      return fail(err, len, "its regions overlap or lie outside the file");
    at = ends[i][0] + ends[i][1];
  }
  if (at > h->file_size)
    return fail(err, len, "its regions run past its stated size");
  return 0;
}

static int check_recording(const char *path, struct rec *r, char *err, size_t len);

int rec_open(const char *path, struct rec *r, char *err, size_t len) {
  memset(r, 0, sizeof *r);
  snprintf(r->path, sizeof r->path, "%s", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(err, len, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, len, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size < sizeof(struct wsla_header)) {
    close(fd);
    return fail(err, len, "%s: not a wslalloc recording (%lld bytes, too short)",
                path, (long long)st.st_size);
  }
  if ((uint64_t)st.st_size > MAX_FILE) {
    close(fd);
    return fail(err, len, "%s: larger than any recording can be", path);
  }
  /* Read, not mapped: a file cut short under us must not raise SIGBUS. */
  r->data = malloc((size_t)st.st_size);
  if (!r->data) {
    close(fd);
    return fail(err, len, "%s: out of memory reading %lld bytes", path,
                (long long)st.st_size);
  }
  size_t got = 0;
  ssize_t n;
  while (got < (size_t)st.st_size &&
         (n = read(fd, r->data + got, (size_t)st.st_size - got)) > 0)
    got += (size_t)n;
  close(fd);
  r->size = got;
  return check_recording(path, r, err, len);
}

int rec_open_bytes(const char *path, uint8_t *data, size_t size, struct rec *r,
                   char *err, size_t len) {
  memset(r, 0, sizeof *r);
  snprintf(r->path, sizeof r->path, "%s", path);
  r->data = data;
  r->size = size;
  return check_recording(path, r, err, len);
}

/* Checks r->data (r->size bytes) and fills the rest of r from it. */
/* A version-1 file's modules, in this version's shape: no build-ids, and
   paths longer than the new field keep their tail. */
static int convert_v1_modules(struct rec *r) {
  const struct wsla_module_v1 *old = (const void *)r->modules;
  struct wsla_module *m = calloc(r->module_count ? r->module_count : 1, sizeof *m);
  if (!m) return -1;
  for (uint64_t i = 0; i < r->module_count; i++) {
    m[i].commit = old[i].commit;
    m[i].bias = old[i].bias;
    m[i].lo = old[i].lo;
    m[i].hi = old[i].hi;
    char whole[sizeof old->path + 1];
    copy_str(whole, old[i].path, sizeof old->path);
    size_t n = strlen(whole), room = sizeof m->path - 1;
    memcpy(m[i].path, whole + (n > room ? n - room : 0), n > room ? room : n);
  }
  r->modules = r->modules_converted = m;
  return 0;
}

/* A version-1 file's OOM records, in this version's size: its 128 bytes
   are this version's first 128, the rest (the pool's figure) unknown. */
static int convert_v1_ooms(struct rec *r) {
  const uint8_t *old = (const void *)r->ooms;
  struct wsla_oom *o = calloc(r->oom_count ? r->oom_count : 1, sizeof *o);
  if (!o) return -1;
  for (uint64_t i = 0; i < r->oom_count; i++) memcpy(&o[i], old + i * WSLA_OOM_V1_SIZE, WSLA_OOM_V1_SIZE);
  r->ooms = r->ooms_converted = o;
  return 0;
}

static int check_recording(const char *path, struct rec *r, char *err, size_t len) {
  if (r->size < sizeof(struct wsla_header)) {
    rec_close(r);
    return fail(err, len, "%s: could not be read", path);
  }
  const struct wsla_header *h = r->hdr = (const void *)r->data;
  if (memcmp(h->magic, WSLA_MAGIC, WSLA_MAGIC_LEN) != 0) {
    rec_close(r);
    return fail(err, len, "%s: not a wslalloc recording (bad magic)", path);
  }
  if (h->version < WSLA_FORMAT_VERSION_OLDEST || h->version > WSLA_FORMAT_VERSION) {
    unsigned v = h->version;
    rec_close(r);
    return fail(err, len,
                "%s: recording format version %u; this wslalloc reads versions "
                "%u to %u (use the wslalloc that made it)",
                path, v, WSLA_FORMAT_VERSION_OLDEST, WSLA_FORMAT_VERSION);
  }
  char why[200];
  if (check_layout(h, why, sizeof why) != 0) {
    rec_close(r);
    return fail(err, len, "%s: corrupt recording: %s", path, why);
  }
  if (r->size < h->file_size) {
    char msg[128];
    snprintf(msg, sizeof msg, "the file is truncated (%zu of %" PRIu64 " bytes)",
             r->size, h->file_size);
    mark_partial(r, msg);
  }
  if (present(r, h->counters_off, 1, sizeof(struct wsla_counters)) < 1) {
    rec_close(r);
    return fail(err, len, "%s: truncated before its counters", path);
  }
  r->ctr = (const void *)(r->data + h->counters_off);
  copy_str(r->exe, h->exe, sizeof h->exe);
  copy_str_lines(r->options, h->options, sizeof h->options, true);
  if (h->features & WSLA_FEAT_ENVIRONMENT)
    copy_str_lines(r->environment, h->environment, sizeof h->environment, true);
  uint32_t cl = h->cmdline_len < sizeof h->cmdline ? h->cmdline_len
                                                   : (uint32_t)sizeof h->cmdline;
  char args[WSLA_CMDLINE_MAX + 1];
  for (uint32_t i = 0; i < cl; i++) args[i] = h->cmdline[i] ? h->cmdline[i] : ' ';
  while (cl && args[cl - 1] == ' ') cl--;
  args[cl] = '\0';
  copy_str(r->cmdline, args, sizeof r->cmdline - 1); /* room for U+FFFDs */

  r->modules = (const void *)(r->data + h->module_off);
  uint64_t mods = present(r, h->module_off, h->module_cap,
                          sizeof(struct wsla_module));
  r->module_count = r->ctr->modules_count < mods ? r->ctr->modules_count : mods;
  if (h->version == 1 && convert_v1_modules(r) != 0) {
    rec_close(r);
    return fail(err, len, "%s: out of memory", path);
  }
  r->ooms = (const void *)(r->data + h->oom_off);
  uint64_t ooms = present(r, h->oom_off, h->oom_cap, h->oom_size);
  r->oom_count = r->ctr->ooms_claimed < ooms ? r->ctr->ooms_claimed : ooms;
  if (h->version == 1 && convert_v1_ooms(r) != 0) {
    rec_close(r);
    return fail(err, len, "%s: out of memory", path);
  }
  if (h->version >= 2 && (h->features & WSLA_FEAT_OOM_STACKS)) {
    r->oom_stacks = (const void *)(r->data + h->oom_stack_off);
    r->oom_stack_count = present(r, h->oom_stack_off, h->oom_cap, sizeof(struct wsla_stack));
  }
  if (h->version >= 2 && (h->features & WSLA_FEAT_STACKS)) {
    r->stacks = (const void *)(r->data + h->stack_off);
    r->stack_count = present(r, h->stack_off, h->stack_cap, sizeof(struct wsla_stack));
  }
  r->live = (const void *)(r->data + h->live_off);
  r->live_count = present(r, h->live_off, h->live_cap, sizeof(struct wsla_live));
  r->ring = (const void *)(r->data + h->ring_off);
  r->ring_slots = present(r, h->ring_off, h->ring_cap, sizeof(struct wsla_event));

  /* The ring holds the newest ring_cap events; a slot is kept only if its
     commit word names exactly the sequence number expected there. */
  uint64_t claimed = r->events_claimed = r->ctr->events_claimed;
  uint64_t first = claimed > h->ring_cap ? claimed - h->ring_cap : 0;
  uint64_t span = claimed - first;
  /* At most one event per slot the file really holds, whatever it claims. */
  uint64_t most = span < r->ring_slots ? span : r->ring_slots;
  r->events = malloc((most ? most : 1) * sizeof *r->events);
  if (!r->events) {
    rec_close(r);
    return fail(err, len, "%s: out of memory for %" PRIu64 " events", path, span);
  }
  for (uint64_t seq = first; seq < claimed; seq++) {
    uint64_t slot = seq & (h->ring_cap - 1);
    if (slot >= r->ring_slots) continue;
    const struct wsla_event *e = &r->ring[slot];
    if (e->commit != seq + 1 || e->type == WSLA_EV_NONE ||
        e->type > WSLA_EV_LAST)
      continue;
    if (r->nevents < most) r->events[r->nevents++] = *e;
  }
  r->events_lost = claimed - r->nevents;
  if (r->ring_slots < h->ring_cap && claimed > r->ring_slots)
    mark_partial(r, "the event ring is cut short");
  return 0;
}

void rec_close(struct rec *r) {
  free(r->data);
  free(r->events);
  free(r->modules_converted);
  free(r->ooms_converted);
  r->ooms_converted = NULL;
  r->data = NULL;
  r->events = NULL;
  r->modules_converted = NULL;
}

static bool process_alive(const struct wsla_header *h) {
  if (h->pid <= 0) return false;
  if (kill(h->pid, 0) != 0 && errno != EPERM) return false;
  /* The pid may have been reused: compare the start time. */
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)h->pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  char *s = strrchr(buf, ')');
  if (!s) return true;
  int field = 2;
  for (; *s && field < 22; s++)
    if (*s == ' ') field++;
  return strtoull(s, NULL, 10) == h->proc_start_ticks;
}

const char *rec_end_state(const struct rec *r) {
  switch (r->hdr->end_state) {
  case WSLA_END_EXIT: return "exit";
  case WSLA_END_SIGNAL: return "signal";
  case WSLA_END_RUNNING: return process_alive(r->hdr) ? "running" : "killed";
  default: return "unknown";
  }
}

static size_t stack_at(const struct wsla_stack *all, uint64_t count, uint64_t idx,
                       uint64_t *frames, size_t max) {
  if (idx >= count) return 0;
  const struct wsla_stack *s = &all[idx];
  if (s->commit != idx + 1) return 0;
  size_t n = s->depth < WSLA_STACK_MAX ? s->depth : WSLA_STACK_MAX;
  if (n > max) n = max;
  memcpy(frames, s->frames, n * sizeof *frames);
  return n;
}

size_t rec_oom_stack(const struct rec *r, uint64_t idx, uint64_t *frames, size_t max) {
  return stack_at(r->oom_stacks, r->oom_stack_count, idx, frames, max);
}

size_t rec_stack(const struct rec *r, uint64_t id, uint64_t *frames, size_t max) {
  return id ? stack_at(r->stacks, r->stack_count, id - 1, frames, max) : 0;
}

static void warn_option(const char *msg) { fprintf(stderr, "wslalloc: %s\n", msg); }

int rec_find_newest(char *path, size_t len, char *err, size_t errlen) {
  struct wsla_options o;
  wsla_options_load(&o, warn_option);
  char dir[WSLA_OPT_PATH_MAX];
  wsla_recording_dir(&o, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d)
    return fail(err, errlen, "no recordings: cannot open %s (%s); run a program "
                "with LD_PRELOAD=libwslalloc.so first, or name a FILE", dir,
                strerror(errno));
  int64_t best = INT64_MIN;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".wsla") != 0) continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct wsla_header h;
    ssize_t got = pread(fd, &h, sizeof h, 0);
    close(fd);
    if (got != (ssize_t)sizeof h || memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN))
      continue;
    if (h.start_realtime_ns > best) {
      best = h.start_realtime_ns;
      snprintf(path, len, "%s", p);
    }
  }
  closedir(d);
  if (best == INT64_MIN)
    return fail(err, errlen, "no recordings in %s; run a program with "
                "LD_PRELOAD=libwslalloc.so first, or name a FILE", dir);
  return 0;
}


bool rec_device_used(const struct wsla_device_counters *d) {
  return d->peak_bytes || d->live_allocs || d->ooms || d->view_time_ns;
}
