// The Marlin kernel's parameter list and template declaration (design.md section 7).
//
// Includable from host-only C++ (gcc): `int4` comes from CUDA's <vector_types.h>, and only the
// __global__ declaration needs nvcc. Generated kernel files include this header plus
// marlin_template.cuh and explicitly instantiate Marlin<...> in MARLIN_NAMESPACE_NAME.
#pragma once

#include <vector_types.h>  // int4; plain C structs, fine for gcc

#include "marlin/kernel_config.h"
#include "marlin/scalar_type.h"

#ifndef MARLIN_NAMESPACE_NAME
#define MARLIN_NAMESPACE_NAME marlin
#endif

// clang-format off
#define MARLIN_KERNEL_PARAMS                                                          \
  const int4 *__restrict__ A, const int4 *__restrict__ B, int4 *__restrict__ C,       \
  float *__restrict__ C_tmp, const int4 *__restrict__ b_bias_ptr,                   \
  const float *__restrict__ a_scales_ptr, const int4 *__restrict__ scales_ptr,      \
  const float *__restrict__ global_scale_ptr, const int4 *__restrict__ zp_ptr,      \
  const int *__restrict__ g_idx, int num_groups, int prob_m, int prob_n, int prob_k, \
  int lda, int *locks, bool has_bias, bool use_atomic_add, bool use_fp32_reduce,    \
  int max_shared_mem
// clang-format on

namespace MARLIN_NAMESPACE_NAME {

using ScalarTypeId = ::marlin::ScalarTypeId;

using MarlinKernelFn = void (*)(MARLIN_KERNEL_PARAMS);

#if defined(__CUDACC__)
// Template order as upstream: types a (activations), b (weights), c (output), s (scales); then
// block threads, tile size in 16-blocks (m, n, k), the 8-row M tile flag, pipeline stages,
// group_blocks (-1 channelwise, 0 act-order via g_idx, else group size / 16), float zero points.
template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks, bool is_zp_float>
__global__ void Marlin(MARLIN_KERNEL_PARAMS);
#endif

}  // namespace MARLIN_NAMESPACE_NAME
