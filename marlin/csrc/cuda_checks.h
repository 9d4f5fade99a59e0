// CUDA-side checks shared by gemm.cu and prepare.cu: error conversion, device-pointer checks and
// the per-device limits cache. Header-only; the inline functions' statics are one per program.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "marlin/csrc/exec_config.h"
#include "marlin/status.h"

namespace marlin {

inline Status cuda_error(cudaError_t error, const std::string& what) {
  return Status::Error(Code::kCuda, what + " failed: " + cudaGetErrorName(error) + " (" +
                                        cudaGetErrorString(error) + ")");
}

// Rejects host memory (pageable or pinned) and memory of another device: the kernels dereference
// these pointers on the current device, and a host pointer would fault the whole context instead
// of failing this call. NULL is accepted (optional arguments are checked for NULL elsewhere).
inline Status check_device_pointer(const void* pointer, const char* name, int device) {
  if (pointer == nullptr) return Status::Ok();
  cudaPointerAttributes attributes{};
  const cudaError_t error = cudaPointerGetAttributes(&attributes, pointer);
  if (error == cudaSuccess && attributes.type == cudaMemoryTypeDevice &&
      attributes.device == device) {
    return Status::Ok();  // the per-call case: no message to format
  }
  char where[64];
  snprintf(where, sizeof(where), "%p", pointer);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();  // older runtimes flag unknown pointers; do not leave it sticky
    return InvalidArgument(std::string(name) + " (" + where +
                           ") is not memory CUDA knows; marlin needs a device pointer");
  }
  switch (attributes.type) {
    case cudaMemoryTypeDevice:
      if (attributes.device != device) {
        return InvalidArgument(std::string(name) + " (" + where + ") is on device " +
                               std::to_string(attributes.device) + " but the current device is " +
                               std::to_string(device));
      }
      return Status::Ok();
    case cudaMemoryTypeManaged:
      return Status::Ok();
    case cudaMemoryTypeHost:
      return InvalidArgument(std::string(name) + " (" + where +
                             ") is pinned host memory; marlin needs a device pointer");
    default:
      return InvalidArgument(std::string(name) + " (" + where +
                             ") is host memory; marlin needs a device pointer");
  }
}

// Compute capability, SM count and shared-memory opt-in of the current device, queried once per
// device (attribute queries cost microseconds; gemm() runs per layer per token).
inline Status current_device_limits(DeviceLimits* limits) {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static DeviceLimits cache[kMaxDevices];
  static bool cached[kMaxDevices] = {};

  int device = 0;
  cudaError_t error = cudaGetDevice(&device);
  if (error != cudaSuccess) return cuda_error(error, "cudaGetDevice");
  if (device < 0 || device >= kMaxDevices) {
    return UnsupportedDevice("device ordinal " + std::to_string(device) + " is out of range");
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (!cached[device]) {
    DeviceLimits d;
    d.device = device;
    struct Query {
      int* value;
      cudaDeviceAttr attribute;
      const char* name;
    };
    const Query queries[] = {
        {&d.cc_major, cudaDevAttrComputeCapabilityMajor, "compute capability major"},
        {&d.cc_minor, cudaDevAttrComputeCapabilityMinor, "compute capability minor"},
        {&d.num_sms, cudaDevAttrMultiProcessorCount, "multiprocessor count"},
        {&d.max_shared_mem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
         "shared memory per block opt-in"},
        {&d.shared_mem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor,
         "shared memory per multiprocessor"},
        {&d.reserved_shared_mem_per_block, cudaDevAttrReservedSharedMemoryPerBlock,
         "reserved shared memory per block"},
    };
    for (const Query& q : queries) {
      error = cudaDeviceGetAttribute(q.value, q.attribute, device);
      if (error != cudaSuccess) {
        return cuda_error(error, std::string("cudaDeviceGetAttribute(") + q.name + ")");
      }
    }
    cache[device] = d;
    cached[device] = true;
  }
  *limits = cache[device];
  return Status::Ok();
}

}  // namespace marlin
