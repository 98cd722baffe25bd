/* Reader: maps a recording, checks every offset, count and string, and copies out what a command needs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"
#include "alive.h"
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
    /* Commit words are read atomically, which wants them aligned (the
       writer aligns every region to a page). */
    if (ends[i][0] % 8)
      return fail(err, len, "its regions are not aligned");
    at = ends[i][0] + ends[i][1];
  }
  if (at > h->file_size)
    return fail(err, len, "its regions run past its stated size");
  return 0;
}


/* --- Reading a slot by the format's protocol ---------------------------- */

#ifdef WSLA_READER_TEST_HOOK
/* Test builds only: called between a slot's copy and the second load of its
   commit word, where a writer could overwrite it. */
void (*rec_test_hook)(const void *slot, size_t size);
#define TEST_HOOK(slot, size)                                                  \
  do {                                                                         \
    if (rec_test_hook) rec_test_hook(slot, size);                              \
  } while (0)
#else
#define TEST_HOOK(slot, size) ((void)0)
#endif

/* ThreadSanitizer cannot model fences: its builds load the payload with
   acquire instead, which orders the second load of commit after every
   payload load just as the fence does (and is what x86-64 does anyway). */
#if defined(__SANITIZE_THREAD__)
#define PAYLOAD_ORDER __ATOMIC_ACQUIRE
#define READER_FENCE() ((void)0)
#else
#define PAYLOAD_ORDER __ATOMIC_RELAXED
#define READER_FENCE() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

#define ANY_COMMIT UINT64_MAX /* want: any non-zero commit, the same twice */

/* Copies a slot (size bytes, a multiple of 8, commit word first) that a
   live process may be writing, as format.h prescribes: commit loaded with
   acquire, payload copied, an acquire fence, commit loaded again.  True,
   with the copy in dst, only if both loads gave want (ANY_COMMIT: the same
   non-zero value); otherwise the slot is being written, was overtaken or
   never written, and the caller counts it lost. */
static bool copy_slot(void *dst, const void *src, size_t size, uint64_t want) {
  const uint64_t *w = src;
  uint64_t *d = dst;
  /* Acquire: pairs with the writer's release store of commit, so that the
     payload written before it is seen. */
  uint64_t first = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
  if (first == 0 || (want != ANY_COMMIT && first != want)) return false;
  d[0] = first;
  /* Word by word with atomic loads: the writer stores the same words
     relaxed, so that no load is a data race, and none is torn. */
  for (size_t i = 1; i < size / 8; i++) d[i] = __atomic_load_n(&w[i], PAYLOAD_ORDER);
  TEST_HOOK(src, size);
  /* Acquire fence: pairs with the writer's release fence after it zeroes
     commit (WSLA_INVALIDATE) and before it stores the payload: if any word
     copied above came from a newer write, the load below sees 0 or the
     newer commit, never first. */
  READER_FENCE();
  return __atomic_load_n(&w[0], __ATOMIC_RELAXED) == first;
}

/* --- Mapping the file ---------------------------------------------------- */

/* Where the reader stands during a read of a mapped file: a file cut short
   under it raises SIGBUS at the first page past its new end, which jumps
   back here and refuses the file instead of killing the tool. */
static __thread sigjmp_buf *bus_jump;

static void on_sigbus(int sig) {
  if (bus_jump) siglongjmp(*bus_jump, 1);
  signal(sig, SIG_DFL); /* not a read of ours: die of it as before */
  raise(sig);
}

/* Pages of the mapping already copied out, given back so that the tool's
   resident memory stays bounded however long the ring (the data stays in
   the page cache; nothing is lost). */
static void drop_pages(const struct rec *r, const void *from, size_t bytes) {
  if (!r->mapped || !bytes) return;
  uintptr_t lo = (uintptr_t)from & ~(uintptr_t)(WSLA_PAGE - 1);
  uintptr_t hi = ((uintptr_t)from + bytes + WSLA_PAGE - 1) & ~(uintptr_t)(WSLA_PAGE - 1);
  uintptr_t end = (uintptr_t)r->data + r->size;
  if (hi > end) hi = end;
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* The first byte at or after off (below end) that the file holds as data,
   end if none.  A hole reads as zeros, commit words of 0 that keep nothing,
   so a sparse region is passed over without faulting in its pages: a huge
   sparse file that claims a huge ring costs what its data costs.  Where the
   file system cannot tell, everything is data. */
static uint64_t data_from(const struct rec *r, uint64_t off, uint64_t end) {
  if (!r->mapped) return off;
  off_t d = lseek(r->map_fd, (off_t)off, SEEK_DATA);
  if (d < 0) return errno == ENXIO ? end : off; /* ENXIO: only a hole follows */
  return (uint64_t)d < end ? (uint64_t)d : end;
}

/* The end of the data that begins at off: the next hole, or end. */
static uint64_t hole_from(const struct rec *r, uint64_t off, uint64_t end) {
  if (!r->mapped) return end;
  off_t h = lseek(r->map_fd, (off_t)off, SEEK_HOLE);
  return h >= 0 && (uint64_t)h < end ? (uint64_t)h : end;
}

/* Slots [*lo, *hi) of a region at off known to hold data; for slot i
   outside them, asks the file again.  The number of slots from i that lie
   in a hole and hold nothing (0: slot i is data, the window now holds it). */
static uint64_t hole_slots(const struct rec *r, uint64_t off, uint64_t size, uint64_t count,
                           uint64_t i, uint64_t *lo, uint64_t *hi) {
  if (i >= *lo && i < *hi) return 0;
  uint64_t at = off + i * size, end = off + count * size;
  uint64_t d = data_from(r, at, end);
  if (d - at >= size) return (d - at) / size;
  *lo = i;
  *hi = (hole_from(r, d, end) - off + size - 1) / size;
  if (*hi <= i) *hi = i + 1;
  return 0;
}

/* A heap block the rec owns from now on, freed by rec_close; NULL if the
   heap refused it (or the rec holds too many). */
static void *hold(struct rec *r, size_t bytes) {
  if (r->nheld >= sizeof r->held / sizeof r->held[0]) return NULL;
  void *p = calloc(1, bytes ? bytes : 1);
  if (p) r->held[r->nheld++] = p;
  return p;
}

static const char *file_kind(mode_t m) {
  return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
       : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : S_ISLNK(m) ? "a symbolic link"
       : "not a regular file";
}

int tool_open_regular(const char *path, int flags, char *err, size_t len) {
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
  if (fd < 0) {
    if (errno == ELOOP && (flags & O_NOFOLLOW))
      return fail(err, len, "%s: a symbolic link, not followed here", path);
    return fail(err, len, "%s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail(err, len, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, len, "%s: %s, not a file; name a recording", path, file_kind(st.st_mode));
  }
  /* Reads from here on may wait for the disk as usual. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

FILE *tool_fopen_regular(const char *path, char *err, size_t len) {
  int fd = tool_open_regular(path, 0, err, len);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "r");
  if (!f) {
    fail(err, len, "%s: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

static int read_parts(const char *path, struct rec *r, char *err, size_t len);

/* Maps what the header claims of fd, no more than the file holds, and reads
   the parts asked for out of it under the SIGBUS guard; unmaps before it
   returns, so that nothing the rec holds can fault later. */
static int read_mapped(int fd, const char *path, const struct stat *st, struct rec *r,
                       char *err, size_t len) {
  struct wsla_header h;
  ssize_t got = pread(fd, &h, sizeof h, 0);
  if (got != (ssize_t)sizeof h)
    return fail(err, len, "%s: not a wslalloc recording (%lld %s, too short)", path,
                (long long)st->st_size, st->st_size == 1 ? "byte" : "bytes");
  if (memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN) != 0)
    return fail(err, len, "%s: not a wslalloc recording (bad magic)", path);
  /* Only what the header claims is read: a file padded past it (a huge
     sparse file) costs nothing more, and the layout checks that follow
     bound the claim itself. */
  uint64_t want = h.file_size < (uint64_t)st->st_size ? h.file_size : (uint64_t)st->st_size;
  if (want < sizeof h) want = sizeof h;
  if (want > MAX_FILE) want = MAX_FILE;
  void *map = mmap(NULL, (size_t)want, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    return fail(err, len, "%s: cannot map %" PRIu64 " bytes (%s)", path, want, strerror(errno));
  r->data = map;
  r->size = (size_t)want;
  r->mapped = true;
  r->map_fd = fd;
  struct sigaction sa = {.sa_handler = on_sigbus}, old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &old);
  sigjmp_buf jump;
  int rc;
  if (sigsetjmp(jump, 1) == 0) {
    bus_jump = &jump;
    rc = read_parts(path, r, err, len);
  } else {
    rc = fail(err, len, "%s: the file was cut short while it was read; read it again", path);
  }
  bus_jump = NULL;
  sigaction(SIGBUS, &old, NULL);
  munmap(map, (size_t)want);
  r->data = NULL;
  r->mapped = false;
  r->ring = NULL; /* the ring was only read in place; its events are copied */
  return rc;
}

int rec_open_fd(int fd, const char *path, unsigned parts, struct rec *r, char *err,
                size_t len) {
  memset(r, 0, sizeof *r);
  snprintf(r->path, sizeof r->path, "%s", path);
  r->parts = parts;
  struct stat st;
  if (fstat(fd, &st) != 0) return fail(err, len, "%s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(err, len, "%s: %s, not a file; name a recording", path, file_kind(st.st_mode));
  if ((uint64_t)st.st_size < sizeof(struct wsla_header))
    return fail(err, len, "%s: not a wslalloc recording (%lld %s, too short)",
                path, (long long)st.st_size, st.st_size == 1 ? "byte" : "bytes");
  if (read_mapped(fd, path, &st, r, err, len) != 0) {
    rec_close(r);
    return -1;
  }
  return 0;
}

int rec_open_parts(const char *path, unsigned parts, struct rec *r, char *err, size_t len) {
  memset(r, 0, sizeof *r);
  int fd = tool_open_regular(path, 0, err, len);
  if (fd < 0) return -1;
  int rc = rec_open_fd(fd, path, parts, r, err, len);
  close(fd);
  return rc;
}

int rec_open(const char *path, struct rec *r, char *err, size_t len) {
  return rec_open_parts(path, REC_ALL, r, err, len);
}

int rec_open_bytes(const char *path, uint8_t *data, size_t size, struct rec *r,
                   char *err, size_t len) {
  memset(r, 0, sizeof *r);
  snprintf(r->path, sizeof r->path, "%s", path);
  r->parts = REC_ALL;
  r->data = data;
  r->size = size;
  if (size < sizeof(struct wsla_header) ||
      memcmp(data, WSLA_MAGIC, WSLA_MAGIC_LEN) != 0) {
    rec_close(r);
    return fail(err, len, size < sizeof(struct wsla_header)
                ? "%s: not a wslalloc recording (too short)"
                : "%s: not a wslalloc recording (bad magic)", path);
  }
  if (read_parts(path, r, err, len) != 0) {
    rec_close(r);
    return -1;
  }
  return 0;
}

/* --- The parts of a recording -------------------------------------------- */

/* The header and counters, copied: every later look at them reads the copy. */
static int read_header(const char *path, struct rec *r, char *err, size_t len) {
  struct wsla_header *h = hold(r, sizeof *h);
  if (!h) return fail(err, len, "%s: out of memory", path);
  memcpy(h, r->data, sizeof *h);
  r->hdr = h;
  if (h->version < WSLA_FORMAT_VERSION_OLDEST || h->version > WSLA_FORMAT_VERSION)
    return fail(err, len,
                "%s: recording format version %u; this wslalloc reads versions "
                "%u to %u (use the wslalloc that made it)",
                path, (unsigned)h->version, WSLA_FORMAT_VERSION_OLDEST, WSLA_FORMAT_VERSION);
  char why[200];
  if (check_layout(h, why, sizeof why) != 0)
    return fail(err, len, "%s: corrupt recording: %s", path, why);
  if (r->size < h->file_size) {
    char msg[128];
    snprintf(msg, sizeof msg, "the file is truncated (%zu of %" PRIu64 " bytes)",
             r->size, h->file_size);
    mark_partial(r, msg);
  }
  if (present(r, h->counters_off, 1, sizeof(struct wsla_counters)) < 1)
    return fail(err, len, "%s: truncated before its counters", path);
  struct wsla_counters *c = hold(r, sizeof *c);
  if (!c) return fail(err, len, "%s: out of memory", path);
  /* Word by word, relaxed: a live process updates them atomically. */
  const uint64_t *from = (const void *)(r->data + h->counters_off);
  uint64_t *to = (void *)c;
  for (size_t i = 0; i < sizeof *c / 8; i++) to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
  r->ctr = c;
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
  r->events_claimed = c->events_claimed;
  return 0;
}

/* Indexed records (modules, OOM records, stacks): count of them copied,
   each by the protocol with commit index + 1; one torn or not yet written
   keeps commit 0 in the copy, which every user of them checks. */
static void *copy_indexed(const char *path, struct rec *r, uint64_t off, uint64_t count,
                          size_t size, size_t out_size, char *err, size_t len) {
  uint8_t *out = hold(r, (size_t)count * out_size);
  if (!out) {
    fail(err, len, "%s: out of memory", path);
    return NULL;
  }
  for (uint64_t i = 0; i < count; i++) {
    void *dst = out + i * out_size;
    if (!copy_slot(dst, r->data + off + i * size, size, i + 1)) memset(dst, 0, out_size);
  }
  drop_pages(r, r->data + off, (size_t)count * size);
  return out;
}

/* The live slots in use, copied by the protocol and packed: a slot freed
   (commit 0) or reused while read is left out. */
/* One region of live slots, at off with cap slots, its committed slots
   appended to *kept (n of cap_kept). */
static int copy_live_region(const char *path, struct rec *r, uint64_t off, uint64_t cap,
                            struct wsla_live **kept, uint64_t *n, uint64_t *cap_kept,
                            char *err, size_t len) {
  uint64_t slots = present(r, off, cap, sizeof(struct wsla_live));
  const struct wsla_live *from = (const void *)(r->data + off);
  const uint64_t chunk = (1u << 20) / sizeof *from; /* pages given back per MiB */
  uint64_t lo = 1, hi = 0; /* slots known to hold data: none yet */
  for (uint64_t i = 0; i < slots; i++) {
    uint64_t hole = hole_slots(r, off, sizeof *from, slots, i, &lo, &hi);
    if (hole) {
      i += hole - 1;
      continue;
    }
    struct wsla_live l;
    if (copy_slot(&l, &from[i], sizeof l, ANY_COMMIT)) {
      if (*n == *cap_kept) {
        uint64_t more_cap = *cap_kept ? *cap_kept * 2 : 256;
        struct wsla_live *more = realloc(*kept, more_cap * sizeof **kept);
        if (!more) return fail(err, len, "%s: out of memory for its live allocations", path);
        *kept = more;
        *cap_kept = more_cap;
      }
      (*kept)[(*n)++] = l;
    }
    if ((i + 1) % chunk == 0) drop_pages(r, &from[i + 1 - chunk], chunk * sizeof *from);
  }
  drop_pages(r, from, (size_t)slots * sizeof *from);
  return 0;
}

/* The live slots in use, of both regions where the writer's table grew a
   second one (WSLA_FEAT_LIVE2, after the ring), copied by the protocol and
   packed: a slot freed (commit 0) or reused while read is left out.  A
   second region outside the file is left out and said. */
static int copy_live(const char *path, struct rec *r, char *err, size_t len) {
  const struct wsla_header *h = r->hdr;
  struct wsla_live *kept = NULL;
  uint64_t n = 0, cap = 0;
  int rc = copy_live_region(path, r, h->live_off, h->live_cap, &kept, &n, &cap, err, len);
  if (rc == 0 && (h->features & WSLA_FEAT_LIVE2)) {
    uint64_t ring_end = h->ring_off + h->ring_cap * sizeof(struct wsla_event);
    if (h->live2_off < ring_end || h->live2_off % 8 || h->live2_off > MAX_FILE ||
        h->live2_cap > (1ull << 32)) {
      mark_partial(r, "the second live region lies outside the file");
    } else {
      if (present(r, h->live2_off, h->live2_cap, sizeof(struct wsla_live)) < h->live2_cap)
        mark_partial(r, "the second live region is cut short");
      rc = copy_live_region(path, r, h->live2_off, h->live2_cap, &kept, &n, &cap, err, len);
    }
  }
  if (rc != 0) {
    free(kept);
    return rc;
  }
  if (n && r->nheld < sizeof r->held / sizeof r->held[0]) r->held[r->nheld++] = kept;
  else free(kept), n = 0;
  r->live = n ? kept : NULL;
  r->live_count = n;
  return 0;
}

/* The ring's events in sequence order, each copied by the protocol; a slot
   whose commit is not the sequence expected there, or changes while read,
   is lost. */
static int copy_events(const char *path, struct rec *r, char *err, size_t len) {
  const struct wsla_header *h = r->hdr;
  r->ring = (const void *)(r->data + h->ring_off);
  r->ring_slots = present(r, h->ring_off, h->ring_cap, sizeof(struct wsla_event));
  uint64_t claimed = r->events_claimed;
  uint64_t first = claimed > h->ring_cap ? claimed - h->ring_cap : 0;
  uint64_t span = claimed - first;
  /* At most one event per slot the file really holds, whatever it claims. */
  uint64_t most = span < r->ring_slots ? span : r->ring_slots;
  /* Grown as events are kept, not sized by what the file claims. */
  uint64_t cap = most < 4096 ? most : 4096;
  r->events = malloc((cap ? cap : 1) * sizeof *r->events);
  if (!r->events)
    return fail(err, len, "%s: out of memory for %" PRIu64 " events", path, span);
  const uint64_t chunk = (1u << 20) / sizeof(struct wsla_event);
  uint64_t lo = 1, hi = 0; /* slots known to hold data: none yet */
  for (uint64_t seq = first; seq < claimed;) {
    uint64_t slot = seq & (h->ring_cap - 1);
    /* Slots the file lacks, or a hole: nothing there; on to what is. */
    uint64_t skip = slot >= r->ring_slots ? h->ring_cap - slot
                  : hole_slots(r, h->ring_off, sizeof(struct wsla_event), r->ring_slots, slot, &lo, &hi);
    if (skip) {
      if (skip >= claimed - seq) break;
      seq += skip;
      continue;
    }
    if (r->nevents == cap && cap < most) {
      cap = cap * 2 < most ? cap * 2 : most;
      struct wsla_event *more = realloc(r->events, cap * sizeof *more);
      if (!more)
        return fail(err, len, "%s: out of memory for %" PRIu64 " events", path, cap);
      r->events = more;
    }
    if (r->nevents < cap) {
      struct wsla_event *e = &r->events[r->nevents];
      if (copy_slot(e, &r->ring[slot], sizeof *e, seq + 1) && e->type != WSLA_EV_NONE &&
          e->type <= WSLA_EV_LAST)
        r->nevents++;
    }
    /* Each MiB of the ring read is given back (slot + 1 is a whole chunk). */
    if ((slot + 1) % chunk == 0)
      drop_pages(r, &r->ring[slot + 1 - chunk], chunk * sizeof(struct wsla_event));
    seq++;
  }
  drop_pages(r, r->ring, (size_t)r->ring_slots * sizeof(struct wsla_event));
  r->events_lost = claimed - r->nevents;
  if (r->ring_slots < h->ring_cap && claimed > r->ring_slots)
    mark_partial(r, "the event ring is cut short");
  return 0;
}

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

/* Reads r->data (r->size bytes): the header and counters always, then the
   parts r->parts asks for. */
static int read_parts(const char *path, struct rec *r, char *err, size_t len) {
  if (read_header(path, r, err, len) != 0) return -1;
  const struct wsla_header *h = r->hdr;
  if (r->parts & REC_SLOTS) {
    uint64_t mods = present(r, h->module_off, h->module_cap, sizeof(struct wsla_module));
    r->module_count = r->ctr->modules_count < mods ? r->ctr->modules_count : mods;
    r->modules = copy_indexed(path, r, h->module_off, r->module_count,
                              sizeof(struct wsla_module), sizeof(struct wsla_module), err, len);
    if (!r->modules) return -1;
    if (h->version == 1 && convert_v1_modules(r) != 0)
      return fail(err, len, "%s: out of memory", path);
    uint64_t ooms = present(r, h->oom_off, h->oom_cap, h->oom_size);
    r->oom_count = r->ctr->ooms_claimed < ooms ? r->ctr->ooms_claimed : ooms;
    /* A version-1 record is this version's first 128 bytes; the rest (the
       pool's figure) stays unknown, zero. */
    r->ooms = copy_indexed(path, r, h->oom_off, r->oom_count, h->oom_size,
                           sizeof(struct wsla_oom), err, len);
    if (!r->ooms) return -1;
    if (h->version >= 2 && (h->features & WSLA_FEAT_OOM_STACKS)) {
      r->oom_stack_count = present(r, h->oom_stack_off, h->oom_cap, sizeof(struct wsla_stack));
      r->oom_stacks = copy_indexed(path, r, h->oom_stack_off, r->oom_stack_count,
                                   sizeof(struct wsla_stack), sizeof(struct wsla_stack), err, len);
      if (!r->oom_stacks) return -1;
    }
    if (h->version >= 2 && (h->features & WSLA_FEAT_STACKS)) {
      r->stack_count = present(r, h->stack_off, h->stack_cap, sizeof(struct wsla_stack));
      r->stacks = copy_indexed(path, r, h->stack_off, r->stack_count,
                               sizeof(struct wsla_stack), sizeof(struct wsla_stack), err, len);
      if (!r->stacks) return -1;
    }
    if ((h->features & WSLA_FEAT_OTHERS) && h->others_size == sizeof(struct wsla_others) &&
        h->others_off % 8 == 0) {
      uint64_t slots = present(r, h->others_off, h->others_cap, sizeof(struct wsla_others));
      r->others_count = r->oom_count < slots ? r->oom_count : slots;
      r->others = copy_indexed(path, r, h->others_off, r->others_count,
                               sizeof(struct wsla_others), sizeof(struct wsla_others), err, len);
      if (!r->others) return -1;
    }
    if (copy_live(path, r, err, len) != 0) return -1;
  }
  if (r->parts & REC_EVENTS) return copy_events(path, r, err, len);
  return 0;
}

void rec_close(struct rec *r) {
  if (!r->mapped) free(r->data);
  free(r->events);
  free(r->modules_converted);
  for (unsigned i = 0; i < r->nheld; i++) free(r->held[i]);
  r->nheld = 0;
  r->ooms_converted = NULL;
  r->data = NULL;
  r->events = NULL;
  r->modules_converted = NULL;
}

static bool process_alive(const struct rec *r) {
  const struct wsla_header *h = r->hdr;
  /* The writer's lock on its recording decides, in any pid namespace
     (common/alive.h, as the library's pruning asks). */
  if (h->features & WSLA_FEAT_LIFE_LOCK) {
    int fd = open(r->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    int locked = wsla_recording_locked(fd);
    if (fd >= 0) close(fd);
    if (locked == 1) return true;
  }
  /* No lock to go by: a container's pid names another process here, or
     none, so its namespace and start time are looked for instead. */
  if (h->pid <= 0) return false;
  if (rec_pidns(h) == PIDNS_OTHER) return pidns_process_alive(h);
  return wsla_recording_alive(-1, h);
}

const char *rec_end_state(const struct rec *r) {
  switch (r->hdr->end_state) {
  case WSLA_END_EXIT: return "exit";
  case WSLA_END_SIGNAL: return "signal";
  case WSLA_END_EXEC: return "exec";
  case WSLA_END_RUNNING: return process_alive(r) ? "running" : "killed";
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

const char *tool_cmd = "";

void tool_refuse_long_dir(void) {
  struct wsla_options o;
  wsla_options_load(&o, NULL);
  size_t n;
  if (!wsla_dir_refused(&o, &n)) return;
  fprintf(stderr,
          "wslalloc%s%s: WSLALLOC_DIR is longer than %d bytes (%zu bytes); the library "
          "records nothing there; set it to a shorter path\n",
          *tool_cmd ? " " : "", tool_cmd, WSLA_OPT_PATH_MAX - 1, n);
  exit(1);
}

static void dir_of(char *dir, size_t len, bool *chosen, void (*warn)(const char *)) {
  /* Not the default folder instead: that is not where the library wrote. */
  tool_refuse_long_dir();
  struct wsla_options o;
  wsla_options_load(&o, warn);
  wsla_recording_dir(&o, dir, len);
  *chosen = o.dir.str[0] != '\0';
}

void rec_dir(char *dir, size_t len, bool *chosen) { dir_of(dir, len, chosen, NULL); }

/* The checks the library makes before it writes into a recordings
   directory (shim/core/recording.c, open_dir), made before trusting what is in
   it: it must be the caller's own, else anyone could plant a recording, a
   FIFO or a huge file there and have the caller's tools read it as the
   caller's.  The default directory, in a shared place, is never followed
   through a link; a directory the user named may be the user's own link. */
static int open_dir_checked(const char *dir, bool chosen, char *err, size_t len) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (chosen ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP || e == ENOTDIR) {
      struct stat st;
      if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
        fail(err, len, "cannot trust %s: it is a symbolic link, in a place others can write; "
             "remove it (the library makes the folder again), or set WSLALLOC_DIR", dir);
        errno = e;
        return -1;
      }
    }
    fail(err, len, "cannot open %s (%s)", dir, strerror(e));
    errno = e;
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
    fail(err, len, "cannot trust %s: it is owned by uid %u, not by this user (uid %u), as "
         "the library refuses it too; remove it, or set WSLALLOC_DIR to a folder of yours",
         dir, (unsigned)st.st_uid, (unsigned)geteuid());
    close(fd);
    errno = EPERM;
    return -1;
  }
  if (!chosen && (st.st_mode & 022)) {
    fail(err, len, "cannot trust %s: others may write in it (mode %03o); "
         "chmod 700 it, or remove it", dir, (unsigned)(st.st_mode & 0777));
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

int rec_dir_trusted(const char *dir, bool chosen, char *err, size_t len) {
  int fd = open_dir_checked(dir, chosen, err, len);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

int rec_scan_dir(const char *dir, bool chosen, bool quiet, rec_each_fn each, void *arg,
                 char *err, size_t len) {
  int dfd = open_dir_checked(dir, chosen, err, len);
  if (dfd < 0) return -1;
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    fail(err, len, "cannot read %s (%s)", dir, strerror(e));
    errno = e;
    return -1;
  }
  uid_t me = geteuid();
  struct dirent *de;
  /* A folder of junk is said in a few lines, not one per file. */
  enum { NOTES = 10 };
  uint64_t skipped = 0;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".wsla") != 0) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    /* Not followed, never blocking on a FIFO; what it is, from the
       descriptor itself, so that nothing can be swapped in between. */
    int fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat st;
    const char *why = NULL;
    char whybuf[96];
    if (fd < 0) why = errno == ELOOP ? "a symbolic link" : strerror(errno);
    else if (fstat(fd, &st) != 0) why = strerror(errno);
    else if (!S_ISREG(st.st_mode)) why = file_kind(st.st_mode);
    else if (st.st_uid != me) {
      snprintf(whybuf, sizeof whybuf, "owned by uid %u, not by this user", (unsigned)st.st_uid);
      why = whybuf;
    }
    if (why) {
      if (!quiet && ++skipped <= NOTES) fprintf(stderr, "wslalloc: skipping %s: %s\n", path, why);
      if (fd >= 0) close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    each(fd, path, arg);
    close(fd);
  }
  closedir(d);
  if (!quiet && skipped > NOTES)
    fprintf(stderr, "wslalloc: skipping %" PRIu64 " more files named *.wsla in %s that are not "
            "recordings of this user's\n", skipped - NOTES, dir);
  return 0;
}

struct newest {
  char *path;
  size_t len;
  int64_t best;
};

static void consider_newest(int fd, const char *path, void *arg) {
  struct newest *n = arg;
  struct wsla_header h;
  ssize_t got = pread(fd, &h, sizeof h, 0);
  if (got != (ssize_t)sizeof h || memcmp(h.magic, WSLA_MAGIC, WSLA_MAGIC_LEN)) return;
  if (h.start_realtime_ns > n->best) {
    n->best = h.start_realtime_ns;
    snprintf(n->path, n->len, "%s", path);
  }
}

int rec_find_newest(char *path, size_t len, char *err, size_t errlen) {
  char dir[WSLA_OPT_PATH_MAX];
  bool chosen;
  dir_of(dir, sizeof dir, &chosen, warn_option);
  struct newest n = {path, len, INT64_MIN};
  /* The services' recordings count too (`wslalloc service`). */
  service_find_newest(&n.best, path, len);
  char why[4400];
  if (rec_scan_dir(dir, chosen, false, consider_newest, &n, why, sizeof why) != 0) {
    if (n.best != INT64_MIN) return 0;
    if (errno == ENOENT)
      return fail(err, errlen, "no recordings: cannot open %s (%s); run a program "
                  "with LD_PRELOAD=libwslalloc.so first, or name a FILE", dir,
                  strerror(ENOENT));
    return fail(err, errlen, "%s", why);
  }
  if (n.best == INT64_MIN)
    return fail(err, errlen, "no recordings in %s; run a program with "
                "LD_PRELOAD=libwslalloc.so first, or name a FILE", dir);
  return 0;
}


bool rec_device_used(const struct wsla_device_counters *d) {
  return d->peak_bytes || d->live_allocs || d->ooms || d->view_time_ns;
}
