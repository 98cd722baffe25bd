/* The error a failed GPU call returned: its name from the headers the build found (gen_errnames.py), and for the common ones what it means and the fix. */
#include <string.h>

#include "rec.h"

/* The table an API's results come from, by the API's family. */
static const struct err_table *table_of(unsigned api) {
  const char *n = wsla_api_name(api);
  if (!n) return NULL;
  if (!strncmp(n, "cuda", 4)) return &err_table_cudart;
  if (!strncmp(n, "cu", 2)) return &err_table_cu;
  if (!strncmp(n, "hip", 3)) return &err_table_hip;
  if (!strncmp(n, "nvml", 4)) return &err_table_nvml;
  return NULL;
}

const char *api_error_name(unsigned api, int result) {
  const struct err_table *t = table_of(api);
  if (!t) return NULL;
  size_t lo = 0, hi = t->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->names[mid].code < result) lo = mid + 1;
    else hi = mid;
  }
  return lo < t->count && t->names[lo].code == result ? t->names[lo].name : NULL;
}

/* What the common errors of allocation calls mean and what to do, by the
   headers' names (the runtime's, the driver's and HIP's alike). */
static const char no_driver[] =
    "no CUDA driver reachable, or one older than this runtime: on WSL2 libcuda comes from "
    "/usr/lib/wsl/lib (put it on LD_LIBRARY_PATH, or run ldconfig); elsewhere install or "
    "update NVIDIA's driver; `wslalloc doctor` checks";
static const char no_hip_driver[] =
    "no ROCm driver reachable, or one older than this runtime: check that /dev/kfd exists and "
    "the amdgpu driver is loaded; `rocminfo` lists the GPUs it sees";
static const char stub[] =
    "the libcuda.so found is the CUDA toolkit's stub, not the driver: take the stubs "
    "directory out of LD_LIBRARY_PATH (on WSL2 /usr/lib/wsl/lib must come first)";
static const char no_device[] =
    "no GPU visible to the process: check CUDA_VISIBLE_DEVICES (HIP_VISIBLE_DEVICES), and "
    "that nvidia-smi sees the GPU (under WSL2 the Windows driver provides /dev/dxg)";
static const char bad_device[] =
    "the device index is not one of the GPUs visible: check CUDA_VISIBLE_DEVICES and the "
    "program's device option";
static const char bad_value[] =
    "an argument was invalid (a NULL or unknown pointer, a pointer freed twice, a size of 0 "
    "or an impossible one): a bug, or a size computed wrong in the program";
static const char init[] =
    "the driver could not initialise: check the driver's version and /dev/nvidia* (/dev/dxg "
    "under WSL2); `wslalloc doctor` checks";
static const char not_init[] =
    "the driver was not initialised (cuInit not called, or it failed)";
static const char unloading[] =
    "the runtime is shutting down (a call from a destructor at exit): harmless at exit";
static const char mismatch[] =
    "the driver's kernel module and its library differ in version: reboot, or reinstall "
    "the driver";
static const char busy[] =
    "the GPU is unavailable: another process holds it in exclusive-process mode "
    "(nvidia-smi -q shows the compute mode), or it is in a bad state";
static const char unsupported[] =
    "not supported on this device or platform: under WSL2 some features (concurrent "
    "managed access, IPC, some VMM and pinned-memory flags) are not";
static const char sticky[] =
    "an earlier kernel failed (a bad memory access): the context is broken and every later "
    "call fails; run the program under compute-sanitizer to find the kernel";
static const char no_context[] =
    "no current context on this thread: the runtime makes one at its first call; "
    "driver-API programs call cuCtxSetCurrent";
static const char registered[] = "this host memory is already registered (pinned)";
static const char not_registered[] = "this host memory was not registered (pinned)";
static const char capture[] =
    "not allowed while a stream is being captured into a CUDA graph";

static const struct {
  const char *name;
  const char *meaning;
} meanings[] = {
    {"cudaErrorInsufficientDriver", no_driver},
    {"hipErrorInsufficientDriver", no_hip_driver},
    {"cudaErrorStubLibrary", stub},
    {"CUDA_ERROR_STUB_LIBRARY", stub},
    {"cudaErrorNoDevice", no_device},
    {"CUDA_ERROR_NO_DEVICE", no_device},
    {"hipErrorNoDevice", no_device},
    {"cudaErrorInvalidDevice", bad_device},
    {"CUDA_ERROR_INVALID_DEVICE", bad_device},
    {"hipErrorInvalidDevice", bad_device},
    {"cudaErrorInvalidValue", bad_value},
    {"CUDA_ERROR_INVALID_VALUE", bad_value},
    {"hipErrorInvalidValue", bad_value},
    {"cudaErrorInitializationError", init},
    {"hipErrorNotInitialized", init},
    {"CUDA_ERROR_NOT_INITIALIZED", not_init},
    {"cudaErrorCudartUnloading", unloading},
    {"CUDA_ERROR_DEINITIALIZED", unloading},
    {"hipErrorDeinitialized", unloading},
    {"cudaErrorSystemDriverMismatch", mismatch},
    {"CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", mismatch},
    {"cudaErrorDevicesUnavailable", busy},
    {"CUDA_ERROR_DEVICE_UNAVAILABLE", busy},
    {"cudaErrorNotSupported", unsupported},
    {"CUDA_ERROR_NOT_SUPPORTED", unsupported},
    {"hipErrorNotSupported", unsupported},
    {"cudaErrorIllegalAddress", sticky},
    {"CUDA_ERROR_ILLEGAL_ADDRESS", sticky},
    {"hipErrorIllegalAddress", sticky},
    {"cudaErrorLaunchFailure", sticky},
    {"CUDA_ERROR_LAUNCH_FAILED", sticky},
    {"hipErrorLaunchFailure", sticky},
    {"CUDA_ERROR_INVALID_CONTEXT", no_context},
    {"hipErrorInvalidContext", no_context},
    {"cudaErrorHostMemoryAlreadyRegistered", registered},
    {"CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", registered},
    {"hipErrorHostMemoryAlreadyRegistered", registered},
    {"cudaErrorHostMemoryNotRegistered", not_registered},
    {"CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", not_registered},
    {"hipErrorHostMemoryNotRegistered", not_registered},
    {"cudaErrorStreamCaptureUnsupported", capture},
    {"CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", capture},
    {"hipErrorStreamCaptureUnsupported", capture},
};

const char *api_error_meaning(unsigned api, int result) {
  const char *name = api_error_name(api, result);
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof meanings / sizeof *meanings; i++)
    if (!strcmp(meanings[i].name, name)) return meanings[i].meaning;
  return NULL;
}

void api_error_text(unsigned api, int result, char *buf, size_t len) {
  const char *name = api_error_name(api, result);
  if (name) snprintf(buf, len, "%s (%d)", name, result);
  else snprintf(buf, len, "error %d", result);
}
