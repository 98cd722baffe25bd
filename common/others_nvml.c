/* Other programs on a GPU from NVML's running-process lists, and their text; shared by the library (at an OOM) and the tools. */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explain.h"
#include "alive.h"
#include "others_nvml.h"

#ifndef WSLA_HAVE_NVML
#define WSLA_HAVE_NVML 0
#endif

/* The kernel's inode number of the initial pid namespace (PROC_PID_INIT_INO,
   include/linux/proc_ns.h), which /proc/self/ns/pid names. */
#define PID_NS_INIT_INO 0xEFFFFFFCu

bool wsla_pid_ns_initial(void) {
  char link[64];
  ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
  if (n <= 0) return false; /* cannot tell: do not trust /proc for names */
  link[n] = '\0';
  char want[32];
  snprintf(want, sizeof want, "pid:[%u]", PID_NS_INIT_INO);
  return !strcmp(link, want);
}

void wsla_others_add(struct wsla_others *out, uint32_t pid, uint16_t flags, uint64_t bytes,
                     const char *name) {
  bool sized = flags & WSLA_OTHER_BYTES;
  if (!(flags & WSLA_OTHER_WSL_VM)) {
    out->listed++;
    if (sized) out->listed_bytes += bytes;
  }
  struct wsla_other e = {.pid = pid, .flags = flags, .bytes = sized ? bytes : 0};
  snprintf(e.name, sizeof e.name, "%s", name ? name : "");
  /* Sized entries in descending order, then unsized ones in arrival order;
     the last is dropped when the table is full. */
  size_t at = out->kept;
  if (sized)
    for (at = 0; at < out->kept; at++)
      if (!(out->entries[at].flags & WSLA_OTHER_BYTES) || out->entries[at].bytes < bytes) break;
  if (at >= WSLA_OTHERS_KEEP) return;
  size_t last = out->kept < WSLA_OTHERS_KEEP ? out->kept : WSLA_OTHERS_KEEP - 1;
  memmove(&out->entries[at + 1], &out->entries[at], (last - at) * sizeof e);
  out->entries[at] = e;
  if (out->kept < WSLA_OTHERS_KEEP) out->kept++;
}

const char *wsla_other_name(const struct wsla_other *e, char *buf, size_t len) {
  char name[WSLA_OTHER_NAME_MAX + 1];
  memcpy(name, e->name, WSLA_OTHER_NAME_MAX);
  name[WSLA_OTHER_NAME_MAX] = '\0';
  if (name[0]) snprintf(buf, len, "%s", name);
  else if (e->flags & WSLA_OTHER_FOREIGN_NS)
    snprintf(buf, len, "pid %u (another pid namespace)", e->pid);
  else if (e->flags & WSLA_OTHER_EXITED) snprintf(buf, len, "pid %u (exited)", e->pid);
  else snprintf(buf, len, "pid %u", e->pid);
  return buf;
}

const char *wsla_others_text(const struct wsla_others *o, size_t max, char *buf, size_t len) {
  size_t used = 0, shown = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < o->kept && i < WSLA_OTHERS_KEEP; i++) {
    const struct wsla_other *e = &o->entries[i];
    /* Not the VM (this side's own), nor one that has exited (nothing to
       close): the text names what the reader can act on. */
    if (!(e->flags & WSLA_OTHER_BYTES) || (e->flags & (WSLA_OTHER_WSL_VM | WSLA_OTHER_EXITED)))
      continue;
    if (max && shown == max) break;
    char name[80], size[32];
    int n = snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "",
                     wsla_other_name(e, name, sizeof name),
                     wsla_fmt_size(e->bytes, size, sizeof size));
    if (n < 0 || (size_t)n >= len - used) break;
    used += (size_t)n;
    shown++;
  }
  return buf;
}

const char *wsla_others_status_text(const struct wsla_others *o) {
  switch (o->status) {
  case WSLA_OTHERS_OK: return "ok";
  case WSLA_OTHERS_NO_LIBRARY: return "NVML (libnvidia-ml.so.1) could not be loaded";
  case WSLA_OTHERS_FAILED: return "NVML refused the query";
  case WSLA_OTHERS_NO_DEVICE: return "NVML does not know the device";
  case WSLA_OTHERS_UNMATCHED:
    return o->source == WSLA_OTHERS_WINDOWS
               ? "no Windows adapter could be matched to the device: the driver gave no "
                 "LUID, and the WSL VM holds memory on several adapters or none"
               : "unmatched";
  default: return "unknown";
  }
}

#if WSLA_HAVE_NVML
#include <nvml.h>

typedef nvmlReturn_t (*init_fn)(void);
typedef nvmlReturn_t (*handle_fn)(unsigned, nvmlDevice_t *);
typedef nvmlReturn_t (*list_v1_fn)(nvmlDevice_t, unsigned *, nvmlProcessInfo_v1_t *);
typedef nvmlReturn_t (*list_v2_fn)(nvmlDevice_t, unsigned *, nvmlProcessInfo_v2_t *);
typedef nvmlReturn_t (*name_fn)(unsigned, char *, unsigned);

/* Up to this many processes per list: more would be a machine no one
   reads an OOM on; the rest are counted as one call's "insufficient". */
#define LIST_MAX 256u

struct proc_seen {
  unsigned pid;
  unsigned long long bytes;
  uint16_t flags;
};

static nvmlReturn_t list_into(list_v1_fn v1, list_v2_fn v2, nvmlProcessInfo_v1_t *buf1,
                              nvmlProcessInfo_v2_t *buf2, nvmlDevice_t dev, uint16_t flag,
                              struct proc_seen *seen, size_t *nseen);

/* One list (compute or graphics) by the newest ABI the library has: _v3
   and _v2 fill nvmlProcessInfo_v2_t, the plain symbol the older
   nvmlProcessInfo_v1_t.  Asks for the count first: a list that grew since
   (NVML_ERROR_INSUFFICIENT_SIZE) is asked again, a few times. */
static nvmlReturn_t list_one(void *lib, const char *base, nvmlDevice_t dev, uint16_t flag,
                             struct proc_seen *seen, size_t *nseen) {
  char sym[96];
  list_v2_fn v2 = NULL;
  snprintf(sym, sizeof sym, "%s_v3", base);
  *(void **)&v2 = dlsym(lib, sym);
  if (!v2) {
    snprintf(sym, sizeof sym, "%s_v2", base);
    *(void **)&v2 = dlsym(lib, sym);
  }
  list_v1_fn v1 = NULL;
  if (!v2) *(void **)&v1 = dlsym(lib, base);
  if (!v1 && !v2) return NVML_ERROR_FUNCTION_NOT_FOUND;
  nvmlReturn_t rc;
  nvmlProcessInfo_v2_t *buf2 = v2 ? calloc(LIST_MAX, sizeof *buf2) : NULL;
  nvmlProcessInfo_v1_t *buf1 = v2 ? NULL : calloc(LIST_MAX, sizeof *buf1);
  if (!buf1 && !buf2) return NVML_ERROR_MEMORY;
  rc = list_into(v1, v2, buf1, buf2, dev, flag, seen, nseen);
  free(buf1);
  free(buf2);
  return rc;
}

static nvmlReturn_t list_into(list_v1_fn v1, list_v2_fn v2, nvmlProcessInfo_v1_t *buf1,
                              nvmlProcessInfo_v2_t *buf2, nvmlDevice_t dev, uint16_t flag,
                              struct proc_seen *seen, size_t *nseen) {
  nvmlReturn_t rc;
  unsigned count = 0;
  rc = v2 ? v2(dev, &count, NULL) : v1(dev, &count, NULL);
  /* The documentation allows a NULL array only with a count of 0; a
     library that refuses it anyway is asked with room for a few. */
  if (rc == NVML_ERROR_INVALID_ARGUMENT) rc = NVML_ERROR_INSUFFICIENT_SIZE, count = 28;
  for (int tries = 0; tries < 4; tries++) {
    if (rc == NVML_SUCCESS && count == 0) return NVML_SUCCESS; /* nobody */
    if (rc != NVML_SUCCESS && rc != NVML_ERROR_INSUFFICIENT_SIZE) return rc;
    /* Room for a few that start meanwhile. */
    count = count + 4 < LIST_MAX ? count + 4 : LIST_MAX;
    unsigned got = count;
    rc = v2 ? v2(dev, &got, buf2) : v1(dev, &got, buf1);
    if (rc == NVML_ERROR_INSUFFICIENT_SIZE && count < LIST_MAX) {
      count = got;
      continue;
    }
    if (rc == NVML_ERROR_INSUFFICIENT_SIZE) got = LIST_MAX, rc = NVML_SUCCESS;
    if (rc != NVML_SUCCESS) return rc;
    for (unsigned i = 0; i < got && i < LIST_MAX; i++) {
      unsigned pid = v2 ? buf2[i].pid : buf1[i].pid;
      unsigned long long b = v2 ? buf2[i].usedGpuMemory : buf1[i].usedGpuMemory;
      size_t k = 0;
      while (k < *nseen && seen[k].pid != pid) k++;
      if (k == *nseen) {
        if (*nseen == LIST_MAX) break;
        seen[(*nseen)++] = (struct proc_seen){pid, b, flag};
      } else {
        /* On both lists: one program, whose figure NVML gives on each. */
        seen[k].flags |= flag;
        if (seen[k].bytes == (unsigned long long)NVML_VALUE_NOT_AVAILABLE ||
            (b != (unsigned long long)NVML_VALUE_NOT_AVAILABLE && b > seen[k].bytes))
          seen[k].bytes = b;
      }
    }
    return NVML_SUCCESS;
  }
  return rc;
}

/* /proc/<pid>/comm, trimmed; false if the process is gone. */
static bool proc_comm(unsigned pid, char *buf, size_t len) {
  char path[48];
  snprintf(path, sizeof path, "/proc/%u/comm", pid);
  if (!wsla_proc_read(path, buf, len)) return false;
  buf[strcspn(buf, "\n")] = '\0';
  return buf[0] != '\0';
}

void wsla_nvml_others(int device, struct wsla_others *out) {
  memset((char *)out + sizeof out->commit, 0, sizeof *out - sizeof out->commit);
  out->source = WSLA_OTHERS_NVML;
  /* A copy the process already has first: no second copy, no constructor
     run again; otherwise load it, as nvidia-smi would. */
  void *lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
  if (!lib) lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) {
    dlerror(); /* leave no error for the client's dlerror() */
    out->status = WSLA_OTHERS_NO_LIBRARY;
    return;
  }
  init_fn init, shutdown;
  handle_fn handle;
  name_fn pname;
  *(void **)&init = dlsym(lib, "nvmlInit_v2");
  *(void **)&shutdown = dlsym(lib, "nvmlShutdown");
  *(void **)&handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
  *(void **)&pname = dlsym(lib, "nvmlSystemGetProcessName");
  nvmlReturn_t rc = init && shutdown && handle ? init() : NVML_ERROR_FUNCTION_NOT_FOUND;
  if (rc != NVML_SUCCESS) {
    out->status = WSLA_OTHERS_FAILED;
    out->status_code = rc;
    dlerror();
    dlclose(lib);
    return;
  }
  nvmlDevice_t dev;
  rc = device >= 0 ? handle((unsigned)device, &dev) : NVML_ERROR_INVALID_ARGUMENT;
  if (rc != NVML_SUCCESS) {
    out->status = WSLA_OTHERS_NO_DEVICE;
    out->status_code = rc;
  } else {
    struct proc_seen *seen = calloc(LIST_MAX, sizeof *seen);
    size_t nseen = 0;
    if (!seen) goto done;
    nvmlReturn_t c = list_one(lib, "nvmlDeviceGetComputeRunningProcesses", dev,
                              WSLA_OTHER_COMPUTE, seen, &nseen);
    nvmlReturn_t g = list_one(lib, "nvmlDeviceGetGraphicsRunningProcesses", dev,
                              WSLA_OTHER_GRAPHICS, seen, &nseen);
    if (c != NVML_SUCCESS && g != NVML_SUCCESS) {
      out->status = WSLA_OTHERS_FAILED;
      out->status_code = c;
    }
    /* Outside the initial pid namespace NVML's pids are the host's, and
       this /proc (and nvmlSystemGetProcessName, which reads it) would name
       whatever has that number here: they stay unnamed, and this process
       cannot be told among them. */
    bool own_ns = wsla_pid_ns_initial();
    unsigned self = (unsigned)getpid();
    for (size_t i = 0; i < nseen; i++) {
      if (own_ns && seen[i].pid == self) continue;
      uint16_t flags = seen[i].flags;
      uint64_t bytes = 0;
      if (seen[i].bytes != (unsigned long long)NVML_VALUE_NOT_AVAILABLE) {
        flags |= WSLA_OTHER_BYTES;
        bytes = seen[i].bytes;
      }
      char name[256] = "";
      if (!own_ns) {
        flags |= WSLA_OTHER_FOREIGN_NS;
      } else if (pname && pname(seen[i].pid, name, sizeof name) == NVML_SUCCESS && name[0]) {
        flags |= WSLA_OTHER_NAME_NVML;
      } else if (proc_comm(seen[i].pid, name, sizeof name)) {
        flags |= WSLA_OTHER_NAME_PROC;
      } else {
        name[0] = '\0';
        flags |= WSLA_OTHER_EXITED;
      }
      /* NVML names a process by its path: its last part says enough. */
      const char *slash = strrchr(name, '/');
      wsla_others_add(out, seen[i].pid, flags, bytes, slash ? slash + 1 : name);
    }
    free(seen);
  }
done:
  shutdown();
  dlerror();
  dlclose(lib);
}
#else
void wsla_nvml_others(int device, struct wsla_others *out) {
  (void)device;
  memset((char *)out + sizeof out->commit, 0, sizeof *out - sizeof out->commit);
  out->source = WSLA_OTHERS_NVML;
  out->status = WSLA_OTHERS_NO_LIBRARY;
}
#endif
