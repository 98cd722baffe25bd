/* Explanations: human sizes and the diagnosis of an OOM; shared by the library and the tools. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"

const char *wsla_fmt_size(uint64_t b, char *buf, size_t len) {
  /* A unit is kept only while its figure, rounded as printed, stays below
     1024: a byte short of 1 MiB reads "1.0 MiB", not "1024.0 KiB". */
  if (b < 1024) snprintf(buf, len, "%" PRIu64 " B", b);
  else if (b / 1024.0 < 1023.95) snprintf(buf, len, "%.1f KiB", b / 1024.0);
  else if (b / 1048576.0 < 1023.95) snprintf(buf, len, "%.1f MiB", b / 1048576.0);
  else snprintf(buf, len, "%.2f GiB", b / 1073741824.0);
  return buf;
}

/*
 * Told by names llama.cpp has used across its versions (its library exports
 * them, so even a stripped build names them) and by PyTorch's allocator.
 * The innermost telling frame wins: a compute buffer reserved while the
 * context is made is a compute buffer, not the context.
 */
static const char kv_fix[] =
    "a smaller context (llama.cpp -c, Ollama num_ctx) or a quantized cache "
    "(llama.cpp -fa -ctk q8_0 -ctv q8_0; Ollama OLLAMA_FLASH_ATTENTION=1 "
    "OLLAMA_KV_CACHE_TYPE=q8_0)";
static const char weights_fix[] =
    "fewer layers on the GPU (llama.cpp -ngl, Ollama num_gpu) or a smaller "
    "quantization of the model";
static const char compute_fix[] =
    "smaller batches (llama.cpp -b and -ub, Ollama num_batch) or a smaller "
    "context; flash attention (-fa) makes them smaller";
static const struct wsla_phase phases[] = {
    {"llama_kv_cache", "llama.cpp was allocating its KV cache", kv_fix, "llama.cpp: KV cache"},
    {"load_tensors", "llama.cpp was loading the model's weights", weights_fix,
     "llama.cpp: model weights"},
    {"ggml_cuda_pool", "a llama.cpp CUDA kernel was taking scratch memory from ggml's pool",
     compute_fix, "llama.cpp: kernel scratch (ggml's pool)"},
    {"ggml_gallocr", "llama.cpp was allocating a compute buffer", compute_fix,
     "llama.cpp: compute buffers"},
    {"ggml_backend_sched_reserve", "llama.cpp was allocating a compute buffer", compute_fix,
     "llama.cpp: compute buffers"},
    {"graph_reserve", "llama.cpp was allocating a compute buffer", compute_fix,
     "llama.cpp: compute buffers"},
    {"CUDACachingAllocator", "PyTorch was allocating a tensor",
     "a smaller batch or sequence length; where free memory is fragmented, "
     "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True", "PyTorch: tensors (its caching allocator)"},
};

const struct wsla_phase *wsla_phase_of(const char *const *names, size_t n, size_t *frame) {
  for (size_t i = 0; i < n; i++) {
    if (!names[i] || !names[i][0]) continue;
    for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
      if (!strstr(names[i], phases[k].pattern)) continue;
      if (frame) *frame = i;
      return &phases[k];
    }
  }
  return NULL;
}

const char *wsla_purpose_label(const struct wsla_phase *phase) {
  return phase ? phase->label : "other large allocations";
}

static void diagnose(const struct wsla_oom *o, const char *named, char *buf, size_t len);

void wsla_diagnose(const struct wsla_oom *o, char *buf, size_t len) { diagnose(o, NULL, buf, len); }

void wsla_diagnose_named(const struct wsla_oom *o, const char *named, char *buf, size_t len) {
  diagnose(o, named && *named ? named : NULL, buf, len);
}

static void diagnose(const struct wsla_oom *o, const char *named, char *buf, size_t len) {
  char a[32], b[32], c[32];
  if (!o->total_bytes) {
    snprintf(buf, len, "no device figures could be taken (the driver "
             "could not be asked); the report's other failures and the "
             "program's own message are the best guide");
    return;
  }
  uint64_t own_after = o->own_bytes + o->size;
  if (o->cause == WSLA_CAUSE_LIMIT) {
    snprintf(buf, len, "WSLALLOC_LIMIT refused it: this process would hold %s, "
             "over its limit of %s; on a card of that size it would fail the "
             "same way: lower the context size or batch, or offload fewer layers",
             wsla_fmt_size(own_after, a, sizeof a),
             wsla_fmt_size(o->budget_bytes, b, sizeof b));
    return;
  }
  if (o->cause == WSLA_CAUSE_PINNED_LIMIT) {
    snprintf(buf, len, "WSLALLOC_PINNED_LIMIT refused it: pinned host memory "
             "would reach %s, over its limit of %s; programs that handle this "
             "fall back to pageable memory",
             wsla_fmt_size(own_after, a, sizeof a),
             wsla_fmt_size(o->budget_bytes, b, sizeof b));
    return;
  }
  bool fragmented = o->free_bytes >= o->size;
  char tail[160] = "";
  if (fragmented && o->largest_block)
    snprintf(tail, sizeof tail, "; the %s left is also fragmented: its "
             "largest block is %s", wsla_fmt_size(o->free_bytes, a, sizeof a),
             wsla_fmt_size(o->largest_block, b, sizeof b));
  else if (fragmented)
    snprintf(tail, sizeof tail, "; the %s left is also fragmented, with no "
             "single block of %s", wsla_fmt_size(o->free_bytes, a, sizeof a),
             wsla_fmt_size(o->size, b, sizeof b));
  if (own_after > o->total_bytes) {
    snprintf(buf, len, "this process alone would need %s of the card's %s: lower "
             "the context size or batch, or offload fewer layers to the GPU",
             wsla_fmt_size(own_after, a, sizeof a), wsla_fmt_size(o->total_bytes, b, sizeof b));
  } else if (o->pool_cached >= o->size || o->pool_cached * 10 >= o->total_bytes) {
    snprintf(buf, len, "this process's own stream-ordered pool (cudaMallocAsync) "
             "holds %s it freed but has not given back: synchronise and trim it "
             "(cudaMemPoolTrimTo), give the pool a release threshold, or set "
             "WSLALLOC_RECOVER=1, which trims it and retries%s",
             wsla_fmt_size(o->pool_cached, a, sizeof a), tail);
  } else if ((o->foreign_bytes >= o->size || o->foreign_bytes * 10 >= o->total_bytes) &&
             named) {
    snprintf(buf, len, "others (other processes, the desktop, the driver) hold "
             "%s (%s): close those, or other GPU-heavy apps; load the "
             "model before opening them, or set WSLALLOC_HEADROOM so that "
             "programs sizing themselves from free memory leave room%s",
             wsla_fmt_size(o->foreign_bytes, c, sizeof c), named, tail);
  } else if (o->foreign_bytes >= o->size ||
             o->foreign_bytes * 10 >= o->total_bytes) {
    snprintf(buf, len, "others (other processes, the desktop, the driver) hold "
             "%s: close GPU-heavy apps such as browsers and games, load the model "
             "before opening them, or set WSLALLOC_HEADROOM so that programs "
             "sizing themselves from free memory leave room%s",
             wsla_fmt_size(o->foreign_bytes, c, sizeof c), tail);
  } else if (fragmented) {
    if (o->largest_block)
      snprintf(buf, len, "free memory is fragmented: the largest block is %s "
               "of %s free, and %s was asked; allocate the large buffers first "
               "or restart the process",
               wsla_fmt_size(o->largest_block, a, sizeof a),
               wsla_fmt_size(o->free_bytes, b, sizeof b),
               wsla_fmt_size(o->size, c, sizeof c));
    else
      snprintf(buf, len, "%s was free, at least the %s asked, but not in one "
               "block: the memory is fragmented; allocate the large buffers "
               "first or restart the process",
               wsla_fmt_size(o->free_bytes, a, sizeof a),
               wsla_fmt_size(o->size, b, sizeof b));
  } else {
    snprintf(buf, len, "this process holds %s of %s and asked for %s more: "
             "lower the context size or batch, or offload fewer layers",
             wsla_fmt_size(o->own_bytes, a, sizeof a),
             wsla_fmt_size(o->total_bytes, b, sizeof b), wsla_fmt_size(o->size, c, sizeof c));
  }
}

const char *wsla_step_name(unsigned step) {
  switch (step) {
  case WSLA_STEP_TRIM: return "trim";
  case WSLA_STEP_RESERVE: return "reserve";
  case WSLA_STEP_STITCH: return "stitch";
  case WSLA_STEP_WAIT: return "wait";
  case WSLA_STEP_SPILL: return "spill";
  default: return "step";
  }
}

void wsla_steps_text(const struct wsla_oom *o, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned bit = 1; bit <= WSLA_STEP_SPILL; bit <<= 1) {
    /* Why a step was skipped follows from the step (recover.c). */
    const char *skipped =
        bit == WSLA_STEP_WAIT ? "skipped (larger than the whole device: no wait makes room)"
        : bit == WSLA_STEP_SPILL ? "skipped (larger than WSLALLOC_PINNED_LIMIT)"
                                 : "skipped (a stream capture was on)";
    const char *what = o->steps_ok & bit        ? "worked"
                       : o->steps_skipped & bit ? skipped
                       : o->steps_tried & bit   ? "no help"
                                                : NULL;
    if (!what || used >= len) continue;
    int n = snprintf(buf + used, len - used, "%s%s: %s", used ? "; " : "",
                     wsla_step_name(bit), what);
    if (n > 0) used += (size_t)n;
  }
}
