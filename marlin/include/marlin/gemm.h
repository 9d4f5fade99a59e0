// marlin::gemm: C[M, N] = A[M, K] * dequant(B)[K, N] (+ bias) with Marlin kernels (design.md 9-10).
//
// Semantics follow upstream's gptq_marlin_gemm mapped onto rules_marlin layout v2: the weights,
// scales and zero points must come from marlin_pack_weights / marlin_pack_zero_points (prepare.h)
// or an equivalent packer. This header needs no CUDA headers: the stream travels as void*.
//
// Numerics the caller should know:
// - NaN or Inf in scales, zero points, bias or global_scale propagates: every output column whose
//   weights use a NaN scale becomes NaN (for all rows); a NaN a_scales[m] turns row m into NaN.
// - Out-of-range perm entries (act-order) read no memory: the permuted activation becomes NaN
//   (16-bit and fp8) or 0 (int8), so the bad input shows in the output instead of crashing.
// - Out-of-range g_idx entries are the kernel's contract (design.md 9); the host cannot check
//   device-resident indices without a synchronisation.
#pragma once

#include <cstdint>

#include "marlin/status.h"

namespace marlin {

// One exec config, fixed by hand: the thread config (threads, thread_k, thread_n), the M tile
// (thread_m_blocks; 0 with m_block_size_8 for the 8-row decode tile) and the split-K factor.
struct ExecOverride {
  int threads = 0;
  int thread_k = 0;
  int thread_n = 0;
  int thread_m_blocks = 0;
  bool m_block_size_8 = false;
  int splits = 1;
};

// One GEMM call; mirrors marlin_gemm_args (c_api.h) field by field. All pointers are device
// pointers (cudaMalloc or managed memory on the current device). Type fields hold
// marlin::ScalarType::id() values (scalar_type.h).
struct GemmArgs {
  const void* a = nullptr;  // [M, K], row stride lda elements, 16-byte aligned rows
  int64_t lda = 0;          // row stride of a in elements; 0 means size_k (contiguous)
  int64_t a_type = 0;       // kFloat16, kBFloat16, kS8 (int8) or kFE4M3fn (fp8 e4m3)

  void* c = nullptr;   // [M, N] contiguous output, written (only rows < M, all N columns)
  int64_t c_type = 0;  // kFloat16 or kBFloat16; equals a_type for 16-bit activations

  const void* b_q_weight = nullptr;  // layout v2, int32 [K/16, N*16/pack]
  int64_t b_type = 0;                // kU4B8, kU8B128, kU4, kFE4M3fn, kFE2M1f (also kS4, kS8, kU8)

  const void* b_scales = nullptr;  // [num_groups, N] in s_type
  int64_t s_type = 0;              // = c_type, or kFE4M3fn (NVFP4) / kFE8M0fnu (MXFP4)
  int64_t num_groups = 1;          // 1 = channelwise, else K / group_size

  const void* b_zeros =
      nullptr;  // kU4/kU8 only: int32 [num_groups, N/pack] or c_type [num_groups, N]
  const void* b_bias = nullptr;         // optional [N] in c_type
  const float* a_scales = nullptr;      // [M] fp32, required iff a is 8-bit
  const float* global_scale = nullptr;  // one fp32, required iff NVFP4 (kFE2M1f + kFE4M3fn scales)

  // Act-order: both int32 [K], or both null. perm = argsort(checkpoint g_idx); g_idx is the sorted
  // one (checkpoint g_idx[perm], as upstream's marlin_sort_g_idx), read only when !is_k_full.
  const int32_t* g_idx = nullptr;
  const int32_t* perm = nullptr;

  // Zero-initialised scratch of >= gemm_workspace_bytes(...) bytes; unused (may be null) at M = 0.
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;

  int64_t size_m = 0, size_n = 0, size_k = 0;

  bool is_k_full = true;         // false: act-order K shard of a row-parallel layer
  bool use_atomic_add = false;   // accepted for upstream compatibility (split-K is always fp32)
  bool use_fp32_reduce = false;  // accepted for upstream compatibility (split-K is always fp32)
  bool is_zp_float = false;      // b_zeros are c_type values (HQQ) instead of packed ints

  void* stream = nullptr;  // cudaStream_t; nullptr = the legacy default stream

  // Tuning tools only (benchmarks/tune_dispatch.py): run this exec config instead of the
  // dispatcher's choice; null = the dispatcher decides.
  const ExecOverride* exec_override = nullptr;
};

// Runs the GEMM on args.stream (asynchronously). Never throws, never aborts: every failure is a
// Status whose message names the offending argument or the missing kernel.
Status gemm(const GemmArgs& args);

// Workspace bytes gemm() needs for this problem (an upper bound; any larger buffer works).
// Returns -1 for an a_type that is not an activation type, negative sizes, or sizes marlin_gemm
// refuses (above int32, or a workspace that overflows int64).
int64_t gemm_workspace_bytes(int64_t size_m, int64_t size_n, int64_t size_k, int64_t a_type,
                             bool has_act_order);

}  // namespace marlin
