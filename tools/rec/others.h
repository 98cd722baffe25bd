/* The tools' view of the other programs on a GPU: kept in a recording (NVML) or beside it (the Windows side, from `wslalloc run`), or asked now. */
#ifndef WSLA_TOOLS_OTHERS_H
#define WSLA_TOOLS_OTHERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tool.h"
#include "others_nvml.h"

/* Which backend asks: WSLALLOC_OTHERS=off|nvml|windows, or auto (the
   default): the Windows side under WSL2, NVML elsewhere. */
enum others_backend { OTHERS_OFF, OTHERS_NVML, OTHERS_WINDOWS };
enum others_backend others_backend(void);
const char *others_backend_name(enum others_backend b);

/* One look at the Windows side: per adapter (by LUID), the programs with
   GPU memory on it, and which CUDA device it was matched to (-1: not
   matched, and why). */
#define WIN_ADAPTERS_MAX 8
#define WIN_PROCS_MAX 128
struct win_proc {
  uint32_t pid;
  uint16_t flags;      /* enum wsla_other_flags */
  uint64_t dedicated;  /* bytes, where WSLA_OTHER_BYTES */
  uint64_t shared;
  char name[WSLA_OTHER_NAME_MAX];
};
struct win_adapter {
  char luid[40]; /* "0x00000000_0x000095CA" */
  size_t nprocs;
  struct win_proc procs[WIN_PROCS_MAX];
};
struct win_snapshot {
  int64_t realtime_ns; /* when it was taken */
  size_t nadapters;
  int vm_adapter;      /* the one adapter the WSL VM holds memory on, or -1 */
  struct win_adapter adapters[WIN_ADAPTERS_MAX];
};
/* An adapter's programs as a list of others, the WSL VM flagged. */
void win_adapter_others(const struct win_adapter *a, struct wsla_others *out);
/* The adapter of CUDA device dev, where the recording(s) use one device
   only (ndevices) and the WSL VM holds memory on exactly one adapter: the
   only match that can be made from Linux; -1 otherwise. */
int win_adapter_of(const struct win_snapshot *s, int dev, int ndevices);
/* Asks Windows (typeperf.exe for the GPU Process Memory counters,
   tasklist.exe for image names), each with timeout_ms; 0, or -1 with one
   line in err (interop off, a program missing, slow or garbled). */
int win_sample(struct win_snapshot *out, int timeout_ms, char *err, size_t len);
/* Parses the two programs' outputs (for the tests' fakes and win_sample). */
int win_parse(const char *typeperf, const char *tasklist, struct win_snapshot *out, char *err,
              size_t len);

/* What a report shows with OOM record idx: the NVML list the recording
   kept, else the Windows snapshot `wslalloc run` kept beside it (its
   adapter matched to the OOM's device), into out; false if neither.
   *after_s: how long after the failure it was taken (-1 where unknown);
   luid: the adapter's ("" for NVML). */
bool others_for_oom(const struct rec *r, uint64_t idx, struct wsla_others *out, double *after_s,
                    char *luid, size_t luid_len);

/* report: the OOM's others, as a text line and as JSON members. */
void others_report_text(FILE *out, const struct rec *r, uint64_t idx);
void others_report_json(struct json *j, const struct rec *r, uint64_t idx);
/* The "named" part for the likely cause (wsla_diagnose_named), "" if none. */
void others_named(const struct rec *r, uint64_t idx, char *named, size_t len);

/* top: a line per other program on GPU dev, asked now; the running
   recordings all[n] are left out (they have lines of their own). */
void others_top(FILE *out, int dev, struct rec *const *all, size_t n);
/* doctor: which backend works here and what it sees now. */
void others_doctor(void (*verdict)(const char *, const char *, const char *, const char *));
/* metrics: wslalloc_other_bytes by name, the few largest per device and
   the rest summed, asked now for the devices the running recordings in
   all[n] use (themselves left out). */
void others_metrics(FILE *out, struct rec *const *all, size_t n);

/* run: waits for child pid like waitpid, and meanwhile, on the Windows
   backend, samples the Windows side every few seconds and at once when
   the child's recording in dir shows a new OOM, keeping those snapshots in
   "<recording>.others".  Returns waitpid's result. */
pid_t others_supervise(pid_t pid, const char *dir, int *status);

#endif
