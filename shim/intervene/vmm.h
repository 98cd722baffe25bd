/* VMM bookkeeping: physical handles, their mappings, and reserved address space, for CUDA's driver and HIP alike; api names the call in the events. */
#ifndef WSLA_VMM_H
#define WSLA_VMM_H

#include "shim.h"

/* cuMemCreate succeeded; its memory is already in the live table under
   the handle (flag WSLA_F_VMM), and stays there until release and unmap. */
void wsla_vmm_created(struct wsla_proc *p, uint64_t handle, int16_t device);
/* cuMemRelease succeeded: the memory goes now, or at its last unmap. */
void wsla_vmm_released(struct wsla_proc *p, uint16_t api, uint64_t handle, uint64_t site);
void wsla_vmm_mapped(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                     uint64_t handle, uint64_t site);
/* cuMemUnmap succeeded over [va, va + size): every mapping inside it goes. */
void wsla_vmm_unmapped(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                       uint64_t site);
void wsla_vmm_reserved(struct wsla_proc *p, uint16_t api, uint64_t va, uint64_t size,
                       uint64_t site, bool reserve);
void wsla_vmm_reset_after_fork(void);

#endif
