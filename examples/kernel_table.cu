// Reads the generated selector table of @rules_marlin//marlin:kernels.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernel_table.h"
#include "marlin/kernel_selector.h"

namespace example {

int num_kernels() { return marlin::generated::kNumKernels; }

// An entry's address is never null (an unbuilt kernel fails the link instead), so what can go
// wrong is two keys sharing one instantiation: count the distinct addresses.
int num_distinct_kernels() {
  std::vector<std::uintptr_t> addresses;
  for (int i = 0; i < marlin::generated::kNumKernels; ++i) {
    addresses.push_back(reinterpret_cast<std::uintptr_t>(marlin::generated::kKernelFns[i]));
  }
  std::sort(addresses.begin(), addresses.end());
  return static_cast<int>(std::unique(addresses.begin(), addresses.end()) - addresses.begin());
}

const char* kernel_file(int index) { return marlin::generated::kKernelFiles[index]; }

bool fp8_activation_built() { return marlin::generated::kFp8ActivationBuilt; }

}  // namespace example
