// Prints how many Marlin kernels were compiled and linked (distinct functions), per kernel file.
// Needs no GPU.
#include <cstdio>
#include <cstring>

#include "kernel_table.h"

int main() {
  const int n = example::num_kernels();
  std::printf("kernels: %d\n", n);
  std::printf("distinct: %d\n", example::num_distinct_kernels());
  std::printf("fp8 activations: %s\n", example::fp8_activation_built() ? "built" : "not built");
  const char* file = nullptr;
  int count = 0;
  for (int i = 0; i <= n; ++i) {
    const char* f = i < n ? example::kernel_file(i) : nullptr;
    if (file != nullptr && (f == nullptr || std::strcmp(f, file) != 0)) {
      std::printf("  %s: %d\n", file, count);
      count = 0;
    }
    if (f != nullptr && (file == nullptr || std::strcmp(f, file) != 0)) file = f;
    ++count;
  }
  return 0;
}
