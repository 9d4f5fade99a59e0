// What list_kernels needs from the kernel table; plain C++, no CUDA types.
#pragma once

namespace example {

int num_kernels();           // entries in the generated selector table
int num_distinct_kernels();  // distinct kernel function addresses among the entries
const char* kernel_file(int index);
bool fp8_activation_built();

}  // namespace example
