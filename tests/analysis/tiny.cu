// Fixture for the analysis tests (and the real nvcc compiles: cuda_library_link_test,
// per_arch_object_test). Its device code differs per arch (__CUDA_ARCH__), and an
// anonymous-namespace kernel's name carries the module id: per-arch device actions must agree
// on it with the host code.
#include "tests/analysis/tiny.h"

__global__ void tiny_kernel(float* out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  out[threadIdx.x] = TINY_VALUE + 1;
#else
  out[threadIdx.x] = TINY_VALUE;
#endif
}

namespace {
__global__ void tiny_local_kernel(float* out) { out[0] = TINY_VALUE; }
}  // namespace

int tiny_host_entry() { return TINY_VALUE; }

void tiny_launch(float* out) {
  tiny_kernel<<<1, 1>>>(out);
  tiny_local_kernel<<<1, 1>>>(out);
}
