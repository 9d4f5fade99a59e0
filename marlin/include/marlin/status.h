// marlin::Status: the result of every host-library call. Never thrown: the library does not throw
// or abort across its API, so C callers (and ctypes) see a code plus a message instead.
#pragma once

#include <string>
#include <utility>

namespace marlin {

// Values equal the C ABI's marlin_status codes (c_api.h), so conversion is a cast.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,    // the caller's arguments are wrong; nothing was launched
  kNoKernel = 2,           // arguments are fine but this build has no kernel for them
  kCuda = 3,               // a CUDA runtime call failed (message carries cudaGetErrorString)
  kUnsupportedDevice = 4,  // the current GPU cannot run this request at all
};

struct Status {
  Code code = Code::kOk;
  std::string message;

  bool ok() const { return code == Code::kOk; }

  static Status Ok() { return Status{}; }
  static Status Error(Code code, std::string message) { return Status{code, std::move(message)}; }
};

inline Status InvalidArgument(std::string message) {
  return Status::Error(Code::kInvalidArgument, std::move(message));
}
inline Status NoKernel(std::string message) {
  return Status::Error(Code::kNoKernel, std::move(message));
}
inline Status UnsupportedDevice(std::string message) {
  return Status::Error(Code::kUnsupportedDevice, std::move(message));
}

}  // namespace marlin
