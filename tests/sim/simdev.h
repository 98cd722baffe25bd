/* Simulated GPU device model shared by the fake CUDA driver and the fake HIP runtime. */
#ifndef SIMDEV_H
#define SIMDEV_H

#include <stdint.h>

enum sim_rc { SIM_OK = 0, SIM_OOM = 1, SIM_INVALID = 2, SIM_NODEV = 3 };

/*
 * Configuration, read once from the environment:
 *   WSLSIM_DEVICES=N            devices (default 1, at most 8)
 *   WSLSIM_MEM=SIZE[,SIZE...]   capacity per device (default 8G); the last
 *                               value repeats for further devices
 *   WSLSIM_FOREIGN=[D:]SIZE@START[-END][,...]
 *                               another process holds SIZE on device D from
 *                               START ms after start-up until END ms
 *   WSLSIM_MAX_BLOCK=SIZE       the device refuses any single block larger
 *                               than SIZE, however much is free
 *   WSLSIM_PINNED_MAX=SIZE      cap on pinned host memory (default none)
 *   WSLSIM_ALLOC_DELAY_MS=N     each device or pinned allocation takes N ms, outside
 *                               any lock, as a real one takes time: requests
 *                               from several threads are then in flight at once
 * Sizes take K/M/G suffixes (powers of 1024).
 */
int sim_device_count(void);
int sim_alloc(int dev, uint64_t size, uint64_t *addr);
/* Frees a block; its device is found from the address. */
int sim_free(uint64_t addr);
int sim_meminfo(int dev, uint64_t *free_b, uint64_t *total_b);

/* Stream-ordered pool: freed blocks stay held by the pool (and count as
   used) until sim_pool_trim releases them. */
int sim_pool_alloc(int dev, uint64_t size, uint64_t *addr);
int sim_pool_free(uint64_t addr);
void sim_pool_trim(int dev, uint64_t keep);
uint64_t sim_pool_held(int dev);
/* The pool's allocations live now on dev (its "used" memory). */
uint64_t sim_pool_used(int dev);

/* Pinned host memory: real, writable host memory, within WSLSIM_PINNED_MAX. */
int sim_host_alloc(uint64_t size, void **out);
int sim_host_free(void *p);
int sim_host_register(void *p, uint64_t size);
int sim_host_unregister(void *p);

/* VMM, as the CUDA driver and HIP offer it: address ranges reserved apart
 * from memory, physical handles placed on a device, mappings between them.
 * A handle holds its device memory until it is released and no longer
 * mapped.  WSLSIM_MAX_RESERVE=SIZE refuses larger reservations, as WDDM is
 * reported to refuse llama.cpp's 32 GiB one.  Sizes are whole granules. */
#define SIM_VMM_GRANULARITY (2u << 20)
int sim_vmm_reserve(uint64_t size, uint64_t *va);
int sim_vmm_unreserve(uint64_t va, uint64_t size);
int sim_vmm_create(int dev, uint64_t size, uint64_t *handle);
int sim_vmm_release(uint64_t handle);
/* Maps all of handle at va, inside a reservation. */
int sim_vmm_map(uint64_t va, uint64_t size, uint64_t handle);
/* The handle mapped at va, with one more reference that a release drops,
 * as cuMemRetainAllocationHandle gives it. */
int sim_vmm_retain(uint64_t va, uint64_t *handle);
/* Unmaps every mapping inside [va, va + size). */
int sim_vmm_unmap(uint64_t va, uint64_t size);

#endif
