/* The unit suite's small recording: laid out as the library lays one out (a page per region), its header filled the one way every test starts from. */
#ifndef WSLA_UNIT_SMALL_RECORDING_H
#define WSLA_UNIT_SMALL_RECORDING_H

#include <string.h>

#include "wslalloc/format.h"

/* The regions' offsets: the header's page, then a page each for the
   counters, one module, the OOM records and the live slots; the ring last,
   so that a file cut short loses events first. */
enum {
  COUNTERS_OFF = 4096,
  MODULE_OFF = 8192,
  OOM_OFF = 12288,
  LIVE_OFF = 16384,
  RING_OFF = 20480,
};

/* The size of such a recording with a ring of ring_cap events. */
#define SMALL_RECORDING_SIZE(ring_cap) (RING_OFF + (ring_cap) * sizeof(struct wsla_event))

/* *h: a whole recording's header of the current version, with these
   capacities, of process 1 still running; the magic written last. */
static inline void small_recording_header(struct wsla_header *h, uint64_t oom_cap,
                                          uint64_t live_cap, uint64_t ring_cap) {
  *h = (struct wsla_header){.version = WSLA_FORMAT_VERSION, .header_size = sizeof *h,
                            .file_size = SMALL_RECORDING_SIZE(ring_cap),
                            .counters_off = COUNTERS_OFF, .module_off = MODULE_OFF,
                            .oom_off = OOM_OFF, .live_off = LIVE_OFF, .ring_off = RING_OFF,
                            .counters_size = sizeof(struct wsla_counters),
                            .module_size = sizeof(struct wsla_module), .module_cap = 1,
                            .oom_size = sizeof(struct wsla_oom), .oom_cap = (uint32_t)oom_cap,
                            .live_size = sizeof(struct wsla_live), .live_cap = live_cap,
                            .event_size = sizeof(struct wsla_event), .api_max = WSLA_API_MAX,
                            .ring_cap = ring_cap, .device_max = WSLA_DEVICE_MAX, .pid = 1};
  memcpy(h->magic, WSLA_MAGIC, WSLA_MAGIC_LEN);
}

#endif
