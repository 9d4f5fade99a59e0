// Reads the generated selector table of @rules_marlin//marlin:kernels.
#include "kernel_table.h"
#include "marlin/kernel_selector.h"

namespace example {

int num_kernels() { return marlin::generated::kNumKernels; }

int num_linked_kernels() {
  int linked = 0;
  for (int i = 0; i < marlin::generated::kNumKernels; ++i) {
    if (marlin::generated::kKernelFns[i] != nullptr) ++linked;
  }
  return linked;
}

const char* kernel_file(int index) { return marlin::generated::kKernelFiles[index]; }

bool fp8_activation_built() { return marlin::generated::kFp8ActivationBuilt; }

}  // namespace example
