// The Marlin kernel (design.md sections 7, 9 and 11): the 12-parameter template upstream's
// generator instantiates, checking the parameter combination and choosing the body:
//   - mma_body.cuh: tensor cores (mma.sync m16n8k16, wgmma on sm_90a), weights dequantized in
//     registers, on the sm80 family (kernel_config.h: uses_mma_body), 8-bit activations
//     widened to the c type;
//   - reference_body.cuh: fp32 FMA, for the sm75 family.
// On sm_90a a launch may ask a 64-row wgmma config for its wide 128-row tile instead
// (kernel_config.h, runs_wide_tile).
// Both read weight layout v2 (layout_v2.h) and honour the same launch contract; the host sizes
// shared memory with required_shared_mem(config), which follows the same choice.
#pragma once

#include "marlin/kernel.h"
#include "marlin/kernel_common.cuh"
#include "marlin/kernel_config.h"
#include "marlin/mma_body.cuh"
#include "marlin/reference_body.cuh"
#include "marlin/scalar_type.h"
#include "marlin/type_traits.cuh"

namespace MARLIN_NAMESPACE_NAME {

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks, bool is_zp_float>
__global__ void __launch_bounds__(threads) Marlin(MARLIN_KERNEL_PARAMS) {
  using ::marlin::kBFloat16;
  using ::marlin::kFE2M1f;
  using ::marlin::kFE4M3fn;
  using ::marlin::kFE8M0fnu;
  using ::marlin::kFloat16;
  using ::marlin::kS8;
  using ::marlin::kU4;
  using ATraits = ::marlin::TypeTraits<a_type_id>;
  using BTraits = ::marlin::TypeTraits<b_type_id>;

  // ---- combinations that make no sense are build errors, not silent garbage ----
  static_assert(a_type_id == kFloat16.id() || a_type_id == kBFloat16.id() ||
                    a_type_id == kS8.id() || a_type_id == kFE4M3fn.id(),
                "a_type must be kFloat16, kBFloat16, kS8 or kFE4M3fn");
  static_assert(c_type_id == kFloat16.id() || c_type_id == kBFloat16.id(),
                "c_type must be kFloat16 or kBFloat16");
  static_assert(!ATraits::kIs16Bit || a_type_id == c_type_id,
                "16-bit activations must have the output type");
  static_assert(BTraits::kIsWeightType, "b_type is not a weight type");
  static_assert(s_type_id != kFE8M0fnu.id() || (b_type_id == kFE2M1f.id() && group_blocks == 2),
                "kFE8M0fnu scales are MXFP4 only: kFE2M1f weights, group_blocks 2");
  static_assert(s_type_id != kFE4M3fn.id() || (b_type_id == kFE2M1f.id() && group_blocks == 1),
                "kFE4M3fn scales are NVFP4 only: kFE2M1f weights, group_blocks 1");
  static_assert(s_type_id == kFE8M0fnu.id() || s_type_id == kFE4M3fn.id() || s_type_id == c_type_id,
                "s_type must be the output type (or e4m3 / e8m0 for FP4 weights)");
  static_assert(!is_zp_float || b_type_id == kU4.id(), "is_zp_float needs kU4 weights");
  static_assert(!m_block_size_8 || thread_m_blocks == 1, "m_block_size_8 needs thread_m_blocks 1");
  static_assert(group_blocks >= -1, "group_blocks: -1 channelwise, 0 act-order, >0 group/16");
  static_assert(stages >= 2, "the ring needs at least 2 stages");

  constexpr ::marlin::KernelConfig kCfg{
      a_type_id,       b_type_id,       c_type_id,      s_type_id, threads,      thread_m_blocks,
      thread_n_blocks, thread_k_blocks, m_block_size_8, stages,    group_blocks, is_zp_float};
  static_assert(::marlin::is_valid_config(kCfg), "no thread layout fits this tile");

#define MARLIN_BODY_ARGS                                                                         \
  A, B, C, C_tmp, b_bias_ptr, a_scales_ptr, scales_ptr, global_scale_ptr, zp_ptr, g_idx,         \
      num_groups, prob_m, prob_n, prob_k, lda, locks, has_bias, use_atomic_add, use_fp32_reduce, \
      max_shared_mem
  if constexpr (::marlin::uses_mma_body(kCfg)) {
#if MARLIN_HAS_WGMMA
    if constexpr (::marlin::has_wide_tile(kCfg)) {
      // The host asked for 128-row tiles (kernel_config.h, runs_wide_tile), and the launch has
      // their shared memory: a caller passing the device's limit as max_shared_mem, as
      // upstream's do, with the config's own size gets the config's own tiles.
      constexpr ::marlin::KernelConfig kWide = ::marlin::wide_tile_config(kCfg);
      const int smem = min(max_shared_mem, ::marlin::detail::dynamic_smem_bytes());
      if (::marlin::runs_wide_tile(kCfg, prob_m, smem)) {
        ::marlin::detail::mma_body<a_type_id, b_type_id, c_type_id, s_type_id, threads,
                                   kWide.thread_m_blocks, thread_n_blocks, thread_k_blocks,
                                   m_block_size_8, kWide.stages, group_blocks, is_zp_float>(
            MARLIN_BODY_ARGS);
        return;
      }
    }
#endif
    ::marlin::detail::mma_body<a_type_id, b_type_id, c_type_id, s_type_id, threads, thread_m_blocks,
                               thread_n_blocks, thread_k_blocks, m_block_size_8, stages,
                               group_blocks, is_zp_float>(MARLIN_BODY_ARGS);
  } else {
    // The reference body prefetches nothing and lets the next kernel start only at its exit.
    ::marlin::detail::wait_for_prior_grids();
    ::marlin::detail::reference_body<a_type_id, b_type_id, c_type_id, s_type_id, threads,
                                     thread_m_blocks, thread_n_blocks, thread_k_blocks,
                                     m_block_size_8, stages, group_blocks, is_zp_float>(
        MARLIN_BODY_ARGS);
  }
#undef MARLIN_BODY_ARGS
}

}  // namespace MARLIN_NAMESPACE_NAME
