/* wslalloc explanations: sizes for people and the one-sentence diagnosis of an OOM, shared by the library and the tools. */
#ifndef WSLALLOC_EXPLAIN_H
#define WSLALLOC_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "wslalloc/format.h"

/* "512 B", "1.5 KiB", "120.0 MiB", "7.50 GiB"; returns buf. */
const char *wsla_fmt_size(uint64_t bytes, char *buf, size_t len);

/* The likeliest cause of an out-of-memory failure and what to do about it,
   in one sentence, from the figures its record holds. */
void wsla_diagnose(const struct wsla_oom *o, char *buf, size_t len);
/* The same, where the others on the device are known by name: named
   ("chrome 2.00 GiB, blender 1.00 GiB", wsla_others_text) goes into the
   fix when the others are to blame; NULL or "" is wsla_diagnose. */
void wsla_diagnose_named(const struct wsla_oom *o, const char *named, char *buf, size_t len);

/* What a program was doing when it ran out, told by a function on its
   stack, and what to change for that. */
struct wsla_phase {
  const char *pattern; /* a name's part that tells it, mangled or not */
  const char *what;    /* "llama.cpp was allocating its KV cache" */
  const char *fix;
  const char *label;   /* "llama.cpp: KV cache", for memory held for it */
};

/* The phase the innermost telling frame names, from the names of the
   functions on the stack (innermost first; mangled or demangled, NULL or
   "" where unknown), with that frame's index in *frame; NULL if no frame
   tells.  llama.cpp's (and so Ollama's) weights, KV cache, compute
   buffers and kernel scratch, and PyTorch's caching allocator. */
const struct wsla_phase *wsla_phase_of(const char *const *names, size_t n, size_t *frame);

/* The purpose a large allocation's stack tells (phase_of's label), or
   "other large allocations" for a stack that tells none. */
const char *wsla_purpose_label(const struct wsla_phase *phase);

/* The name of one recovery step ("trim", "wait", ...), or "step". */
const char *wsla_step_name(unsigned step);

/* "trim: skipped (stream capture); wait: no help" for an OOM record's
   steps; "" when none was tried. */
void wsla_steps_text(const struct wsla_oom *o, char *buf, size_t len);

#endif
