// Fixture for the analysis tests (and the one real nvcc compile in cuda_library_build_test).
#include "tests/analysis/tiny.h"

__global__ void tiny_kernel(float* out) { out[threadIdx.x] = TINY_VALUE; }

int tiny_host_entry() { return TINY_VALUE; }
