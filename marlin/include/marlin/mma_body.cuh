// The tensor-core kernel body (sm_80+): design.md sections 9 and 11.
//
//   - persistent blocks walk BM x BN output tiles (and, split-K, K ranges of them) as the
//     reference body does; K is walked in BK steps through a `stages`-deep cp.async ring holding
//     the A tile (16-byte chunks XOR-swizzled by row so ldmatrix is conflict-free), the B tile in
//     layout v2 (each lane's B operands for a 16 x 64 unit are 16 or 32 consecutive bytes), and
//     the BK step's rows of grouped scales and zero points;
//   - warp (wn, wk) owns columns [64 wn, 64 wn + 64) of the tile and the 16-row slices
//     [wk * spw, (wk + 1) * spw) of every BK step: per slice one ldmatrix per 16 rows of A, one
//     or two 16-byte shared loads of B, bit-arithmetic dequantization into operand registers
//     (mma_dequant.cuh), eight m16n8k16 mma.sync per 16 rows, fp32 accumulators;
//   - 8-bit activations (kS8, e4m3) multiply on the same m16n8k16 in the c type: each lane
//     reads its four A pairs with 2-byte shared loads and widens them exactly (mma_dequant.cuh
//     activation_pair8), so the weights, their layout and everything after the main loop are the
//     16-bit body's; the per-row activation scales join the epilogue;
//   - on sm_90a, tiles of 32-64 rows multiply through wgmma instead (design.md section 11,
//     wgmma.cuh): warpgroups own 64-column units, each warp dequantizes the A fragments of its
//     16 rows of every unit, the activation tile is the shared-memory operand; a batch of
//     slices dequantizes into one register set while the previous batch's wgmma run;
//   - the k-warps (k-warpgroups) are summed in a fixed order through shared memory, split-K
//     partials through C_tmp in split order (deterministic), then the epilogue (NVFP4 global
//     scale, bias, one rounding to the c type).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "marlin/dequant.cuh"
#include "marlin/kernel.h"
#include "marlin/kernel_common.cuh"
#include "marlin/kernel_config.h"
#include "marlin/layout_v2.h"
#include "marlin/mma_dequant.cuh"
#include "marlin/scalar_type.h"
#include "marlin/type_traits.cuh"
#include "marlin/wgmma.cuh"

namespace marlin {
namespace detail {

// Scale and zero point of `group` for column n, straight from global memory (channelwise and
// act-order steps): the scale and a float zero point as c-type 16-bit patterns, an int zero
// point as its code.
template <ScalarTypeId s_type, ScalarTypeId c_type, ScalarTypeId b_type, bool is_zp_float>
__device__ __forceinline__ void global_group_params(const void* scales, const void* zp, int prob_n,
                                                    int group, int n, uint32_t& s, uint32_t& z) {
  const int64_t gn = static_cast<int64_t>(group) * prob_n + n;
  if constexpr (scalar_type_size_bits(s_type) == 16) {
    s = __ldg(static_cast<const unsigned short*>(scales) + gn);
  } else {
    s = mma::scale_bits16<s_type, c_type>(__ldg(static_cast<const unsigned char*>(scales) + gn));
  }
  z = 0;
  if constexpr (is_zp_float) {
    z = __ldg(static_cast<const unsigned short*>(zp) + gn);
  } else if constexpr (TypeTraits<b_type>::kNeedsZeroPoint) {
    constexpr int kBits = TypeTraits<b_type>::kBits;
    constexpr int kPack = 32 / kBits;
    const int64_t word = static_cast<int64_t>(group) * (prob_n / kPack) + n / kPack;
    z = (__ldg(static_cast<const uint32_t*>(zp) + word) >> ((n % kPack) * kBits)) &
        ((1u << kBits) - 1u);
  }
}

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks, bool is_zp_float>
__device__ __forceinline__ void mma_body(MARLIN_KERNEL_PARAMS) {
  using BTraits = TypeTraits<b_type_id>;
  constexpr KernelConfig kCfg{a_type_id,      b_type_id,       c_type_id,       s_type_id,
                              threads,        thread_m_blocks, thread_n_blocks, thread_k_blocks,
                              m_block_size_8, stages,          group_blocks,    is_zp_float};
  static_assert(uses_mma_body(kCfg), "this config runs the reference body");
  constexpr MmaShape kShape = mma_shape(kCfg);
  static_assert(kShape.valid, "no warp layout of the tensor-core body fits this tile");
  constexpr int kBM = kShape.bm;
  constexpr int kBN = kShape.bn;
  constexpr int kBK = kShape.bk;
  constexpr int kMT = kShape.m_tiles;
  constexpr int kKWarps = kShape.k_warps;
  constexpr int kSpw = kShape.slices_per_warp;
  constexpr int kBits = BTraits::kBits;
  constexpr int kLaneWords = kBits == 4 ? 4 : 8;  // B words per lane per unit
  constexpr int kUnitWords = unit_words(kBits);
  constexpr int kUnitsPerSlice = kBN / kUnitN;
  // 8-bit activations: bytes per element, 1 (widened to the c type per lane) or 2.
  constexpr int kAElemBytes = TypeTraits<a_type_id>::kBytes;
  constexpr bool kWidenA = kAElemBytes == 1;
  constexpr int kAChunksPerRow = kBK * kAElemBytes / 16;  // 16-byte chunks of one A row
  // The ring (kernel_config.h): `stages` slots of [A tile | rest: B, scales, zero points];
  // wgmma keeps the A tiles together instead, so that each sits on 1024 bytes.
  constexpr int kABytes = mma_a_bytes(kCfg);
  constexpr int kStageBytes = mma_stage_bytes(kCfg);
  constexpr int kRestBytes = kStageBytes - kABytes;
  // Hopper: 32-64-row tiles through wgmma (wgmma.cuh), the lane's 16 rows of kCb units.
  constexpr WgmmaShape kWg = wgmma_shape(kCfg);
  constexpr bool kWgmma = MARLIN_HAS_WGMMA && kWg.valid;
  static_assert(!kWidenA || (!kWgmma && !m_block_size_8), "8-bit activations: 16+ row mma.sync");
  auto a_tile_off = [](int slot) {
    return static_cast<uint32_t>(kWgmma ? slot * kABytes : slot * kStageBytes);
  };
  auto rest_off = [](int slot) {
    return static_cast<uint32_t>(kWgmma ? stages * kABytes + slot * kRestBytes
                                        : slot * kStageBytes + kABytes);
  };
  constexpr int kBOff = 0;  // within a rest slot
  constexpr int kSOff = kBOff + mma_b_bytes(kCfg);
  constexpr int kZOff = kSOff + mma_s_bytes(kCfg);
  constexpr int kCb = kWgmma ? kWg.units : 1;
  // Warps (mma.sync) or warpgroups (wgmma) that split each BK step, and their slices per step.
  constexpr int kKGroups = kWgmma ? kWg.k_groups : kKWarps;
  constexpr int kSlices = kWgmma ? kWg.slices_per_group : kSpw;
  // wgmma and the 8-row mma.sync tile multiply C^T = W^T A^T: the dequantized weights are the
  // A operand (16 columns of the tile as its rows), the activations the B operand (8 rows of
  // the tile as its columns), so an 8-row tile costs one m16n8k16 per 16 columns instead of
  // two (0.81-0.88x the time at M <= 8, docs/benchmarks.md run 10). Tiles of 16 rows and more
  // keep the weights as the B operand on mma.sync: transposed they were 1.06-1.07x slower.
  constexpr bool kWeightsA = kWgmma || m_block_size_8;
  // The lane's weight columns: 8 blocks of 8 (mma.sync; transposed: rows g and g + 8 of the
  // warp's four 16-column tiles) or 2 per unit (wgmma). Its accumulators [x][y][4]: transposed
  // [16-column tile or unit][8-row block of the tile's rows], else [16-row tile][8-column block].
  constexpr int kLaneBlocks = kWgmma ? 2 * kCb : 8;
  constexpr int kAccX = kWgmma ? kCb : kWeightsA ? kLaneBlocks / 2 : kMT;
  constexpr int kAccY = kWeightsA ? kBM / 8 : 8;
  static_assert(kBM % 8 == 0, "the activations are 8-row operands");
  constexpr int kGroupRows = staged_group_rows(kCfg);
  constexpr int kGroupK = group_blocks > 0 ? 16 * group_blocks : 0;
  constexpr int kSBytes = scalar_bytes(s_type_id);
  constexpr bool kActOrder = group_blocks == 0;
  constexpr bool kChannelwise = group_blocks == -1;
  constexpr bool kIntZp = BTraits::kNeedsZeroPoint && !is_zp_float;
  constexpr bool kZp = BTraits::kNeedsZeroPoint;
  constexpr bool kHasGlobalScale = s_type_id == kFE4M3fn.id();
  using Fix = mma::FloatFix<b_type_id, c_type_id>;
  using AFix = mma::FloatFix<a_type_id, c_type_id>;
  // Channelwise scales multiply the fp32 sums once at the end (B carries code - zero point):
  // fewer instructions per weight and no fp16 rounding of w * s.
  constexpr bool kScaleOut = kChannelwise;
  // Grouped scales: a group spanning whole BK steps changes only at a step boundary; smaller
  // groups are staged as kGroupRows rows per step and picked per slice.
  constexpr bool kGroupPerStep = kGroupRows > 0 && kGroupK >= kBK;
  static_assert(!kGroupPerStep || kGroupK % kBK == 0, "groups span whole BK steps");
  constexpr int kStepsPerGroup = kGroupPerStep ? kGroupK / kBK : 1;
  // The 8-row mma.sync tile with groups of whole steps: a group's scales multiply its fp32 sums
  // (a second accumulator set of 16, folded in at the group's last step) instead of every
  // weight. Per warp and group that trades 16 half2 multiplies per slice for 16 fma and 8
  // conversions; its accumulators hold the lane's own weight columns, so the scales are the
  // ones the B side reads. Decode time follows the instructions per weight there: 0.96-0.97x
  // the time of the transposed tile alone for 256,128,128 and 128,64,128 (1.08x for 128,128,64,
  // which the dispatch table does not pick; docs/benchmarks.md run 10). wgmma keeps the B side:
  // its accumulators are in flight across batches.
  constexpr bool kScaleAcc = !kWgmma && m_block_size_8 && kGroupPerStep;
  static_assert(!kScaleAcc || kWeightsA, "the folded scales follow the lane's weight columns");
  // The float codes' exponent fix (FloatFix) joins the fp32 scales where those multiply the sums
  // (weights: kScaleOut, kScaleAcc; e4m3 activations: the epilogue's row factor) instead of
  // costing a multiply per pair: fp16 only (FloatFix::kFoldable), the same bits. NVFP4's grouped
  // scales multiply every pair, exactly even on the shifted codes (kFixFoldsPastScales), so its
  // fix joins the epilogue's row factor (kRowFix) with the global scale.
  constexpr bool kFixPastScales = mma::kFixFoldsPastScales<b_type_id, c_type_id, s_type_id>;
  constexpr bool kWeightFixOut = Fix::kFoldable && (kScaleOut || kScaleAcc || kFixPastScales);
  constexpr float kRowFix = kWeightFixOut && !kScaleOut && !kScaleAcc ? Fix::kValue : 1.f;
  constexpr bool kActFixOut = kWidenA && AFix::kFoldable;
  static_assert(!kZp || kBits == 4 || !is_zp_float, "float zero points are 4-bit only");
  (void)use_atomic_add, (void)use_fp32_reduce, (void)max_shared_mem, (void)num_groups;

  extern __shared__ int4 smem_raw[];
  uint8_t* const smem = reinterpret_cast<uint8_t*>(smem_raw);

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int wn = warp % kShape.n_warps;
  const int wk = warp / kShape.n_warps;
  const int wq = warp % 4;  // warp in its warpgroup (wgmma)
  const int wg_n = kWgmma ? (warp / 4) % kWg.n_groups : 0;
  // The warp's (warpgroup's) k group, and its index among the warps of one k group.
  const int kgroup = kWgmma ? warp / 4 / kWg.n_groups : wk;
  const int g = lane / 4;  // mma group: the lane's B column, A/C row
  const int t = lane % 4;  // thread in group: the lane's k pair, C column pair
  // Column (within the tile) of the lane's B operands in column block j: mma.sync, block j of
  // the warp's 64 columns; wgmma, rows g (j even) and g + 8 (j odd) of the warp's 16 rows of its
  // (j / 2)-th unit, in the order its units' fragments sit in the lane's words.
  auto lane_col = [&](int j) {
    return kWgmma ? wg_n * kCb * 64 + 16 * (wq * kCb + j / 2) + 8 * (j % 2) + g
                  : wn * 64 + 8 * j + g;
  };

  const int m_tiles = (prob_m + kBM - 1) / kBM;
  const int n_tiles = prob_n / kBN;
  const int k_steps = prob_k / kBK;
  const int num_tiles = m_tiles * n_tiles;
  const int splits = (C_tmp != nullptr && static_cast<int>(gridDim.x) >= 2 * num_tiles)
                         ? static_cast<int>(gridDim.x) / num_tiles
                         : 1;
  const int num_items = num_tiles * splits;
  // A split-K launch in clusters of `splits` blocks (sm_90, gemm.cu): cluster c holds the splits
  // of tile c, which sum through each other's shared memory (below).
  const bool cluster_split = splits > 1 && cluster_blocks() == splits;
  const int64_t n_units = prob_n / kUnitN;

  const uint8_t* const a_bytes = reinterpret_cast<const uint8_t*>(A);
  const uint8_t* const b_bytes = reinterpret_cast<const uint8_t*>(B);
  const uint8_t* const s_bytes = reinterpret_cast<const uint8_t*>(scales_ptr);
  const uint8_t* const z_bytes = reinterpret_cast<const uint8_t*>(zp_ptr);

  // Per-lane shared-memory offsets within an A tile and a rest slot for the i-th slice of the
  // lane's run, fixed for the whole kernel. mma.sync: A at the lane's ldmatrix row of 16-row
  // tile 0 (tiles are 16 rows of 128 bytes apart), or for 8-bit activations at its pair of
  // row g, k 2t in the slice's 16-byte chunk; B the lane's 16 or 32 bytes of unit wn.
  // wgmma: A at the slice's first k (the descriptor's start; the hardware applies the swizzle);
  // B the lane's 4 or 8 bytes per unit for each of its kCb units, contiguous (layout_v2.h: lane
  // word q holds the 16-row fragment of columns 16q..16q+15 of a unit).
  const uint32_t smem_base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  constexpr int kFragWords = kWgmma ? kCb * kLaneWords / 4 : kLaneWords;  // B words per slice
  uint32_t a_frag_off[kSlices];
  uint32_t b_frag_off[kSlices];
#pragma unroll
  for (int i = 0; i < kSlices; ++i) {
    const int s = kgroup * kSlices + i;
    if constexpr (kWgmma) {
      a_frag_off[i] = static_cast<uint32_t>((s / 4) * kBM * 128 + (s % 4) * 32);
      const int unit = s * kUnitsPerSlice + wg_n * kCb + (wq * kCb) / 4;
      b_frag_off[i] = static_cast<uint32_t>(
          kBOff +
          (unit * kUnitWords + lane * kLaneWords + ((wq * kCb) % 4) * (kLaneWords / 4)) * 4);
    } else if constexpr (kWidenA) {
      a_frag_off[i] = static_cast<uint32_t>(mma_a_offset(kBM, g, s) + 2 * t);
      b_frag_off[i] = static_cast<uint32_t>(
          kBOff + ((s * kUnitsPerSlice + wn) * kUnitWords + lane * kLaneWords) * 4);
    } else {
      const int r = m_block_size_8 ? lane % 8 : lane % 16;
      const int ch = 2 * s + (m_block_size_8 ? (lane / 8) % 2 : lane / 16);
      a_frag_off[i] = static_cast<uint32_t>(mma_a_offset(kBM, r, ch));
      b_frag_off[i] = static_cast<uint32_t>(
          kBOff + ((s * kUnitsPerSlice + wn) * kUnitWords + lane * kLaneWords) * 4);
    }
  }
  if constexpr (kWgmma) {
    // The swizzle's phase is the shared address: every A half must sit on 1024 bytes.
    if ((smem_base & 1023u) != 0) __trap();
  }

  // Work item -> output tile, split, its K steps [kt_begin, kt_end) and the tile's origin.
  struct Item {
    int tile, split, kt_begin, kt_end, m0, n0;
  };
  auto item_of = [&](int item) {
    Item it;
    it.tile = cluster_split ? item / splits : item % num_tiles;
    it.split = cluster_split ? item % splits : item / num_tiles;
    it.kt_begin = static_cast<int>(static_cast<int64_t>(k_steps) * it.split / splits);
    it.kt_end = static_cast<int>(static_cast<int64_t>(k_steps) * (it.split + 1) / splits);
    it.m0 = (it.tile % m_tiles) * kBM;
    it.n0 = (it.tile / m_tiles) * kBN;
    return it;
  };
  // B of a tile: per 16-row k-slab, the tile's units are one contiguous run of kSliceBytes.
  constexpr int kSliceBytes = kUnitsPerSlice * kUnitWords * 4;
  const int64_t slice_stride = n_units * (kUnitWords * 4);  // bytes between k-slabs of B
  const int64_t b_step_stride = (kBK / 16) * slice_stride;
  auto b_tile_of = [&](const Item& it) {
    return b_bytes + static_cast<int64_t>(it.n0 / kUnitN) * (kUnitWords * 4) +
           static_cast<int64_t>(it.kt_begin) * b_step_stride;
  };

  // While the previous kernel in the stream may still run (dependent launch, kernel_common.cuh):
  // start the first item's prologue steps (weights and grouped scales) towards L2, then wait;
  // everything is read after the wait. Only the prologue's steps, which the block asks for
  // right after the wait anyway: a deeper prefetch would queue the first step behind later ones
  // when there is no kernel to overlap with.
  if (static_cast<int>(blockIdx.x) < num_items) {
    const Item first = item_of(blockIdx.x);
    const int slabs = min(first.kt_end - first.kt_begin, stages - 1) * (kBK / 16);
    const uint8_t* const b_first = b_tile_of(first);
    for (int slab = tid; slab < slabs; slab += threads) {
      prefetch_l2(b_first + slab * slice_stride, kSliceBytes);
    }
    if constexpr (kGroupRows > 0) {
      const int first_group = first.kt_begin * kBK / kGroupK;
      const int groups = (first.kt_begin * kBK + slabs * 16 - 1) / kGroupK - first_group + 1;
      for (int r = tid; r < groups; r += threads) {
        const int64_t row = static_cast<int64_t>(first_group + r) * prob_n + first.n0;
        prefetch_l2(s_bytes + row * kSBytes, kBN * kSBytes);
        if constexpr (is_zp_float) prefetch_l2(z_bytes + row * 2, kBN * 2);
        if constexpr (kIntZp) prefetch_l2(z_bytes + row * kBits / 8, kBN * kBits / 8);
      }
    }
  }
  wait_for_prior_grids();
  // The epilogue's factor for every row: the NVFP4 global scale and the folded fix (kRowFix).
  const float row_factor = (kHasGlobalScale ? __ldg(global_scale_ptr) : 1.f) * kRowFix;

#pragma unroll 1
  for (int item = blockIdx.x; item < num_items; item += gridDim.x) {
    const Item work = item_of(item);
    const int tile = work.tile, split = work.split;
    const int kt_begin = work.kt_begin, kt_end = work.kt_end;
    const int m0 = work.m0, n0 = work.n0;
    const int tile_rows = min(kBM, prob_m - m0);
    const bool split_k = splits > 1;

    // Per-thread copy sources, set once per tile at step kt_begin and advanced by a constant
    // stride per step: the copies of a step cost one add each.
    constexpr int kAChunks = kBM * kAChunksPerRow;
    constexpr int kACopies = (kAChunks + threads - 1) / threads;
    constexpr int kBChunks = (kBK / 16) * (kSliceBytes / 16);
    constexpr int kBCopies = (kBChunks + threads - 1) / threads;
    const uint8_t* const b_tile = b_tile_of(work);
    const uint8_t* a_src[kACopies];
    int a_dst[kACopies];
    bool a_valid[kACopies];
#pragma unroll
    for (int it = 0; it < kACopies; ++it) {
      const int i = tid + it * threads;
      const int r = (i % kAChunks) / kAChunksPerRow;
      const int ch = i % kAChunksPerRow;
      a_valid[it] = r < tile_rows && (kAChunks % threads == 0 || i < kAChunks);
      // Rows past prob_m point at row m0 (always valid) and copy nothing.
      a_src[it] = a_bytes + static_cast<int64_t>(m0 + (r < tile_rows ? r : 0)) * lda * kAElemBytes +
                  ch * 16 + static_cast<int64_t>(kt_begin) * (kBK * kAElemBytes);
      a_dst[it] = mma_a_offset(kBM, r, ch);
    }
    const uint8_t* b_src[kBCopies];
#pragma unroll
    for (int it = 0; it < kBCopies; ++it) {
      const int i = (tid + it * threads) % kBChunks;
      b_src[it] = b_tile + (i / (kSliceBytes / 16)) * slice_stride + (i % (kSliceBytes / 16)) * 16;
    }
    // Grouped scales and zero points: a step stages kGroupRows rows of the tile's columns. Groups
    // of whole steps are staged only by the steps that read them (the first of the tile's range
    // and each group's first), one row further each time; smaller groups by every step.
    constexpr int kStagedRows = kGroupRows > 0 ? kGroupRows : 1;
    constexpr int kZRowBytes = is_zp_float ? kBN * 2 : kIntZp ? kBN * kBits / 8 : 16;
    RowsCopy<threads, kStagedRows, kBN * kSBytes> s_copy;
    RowsCopy<threads, kStagedRows, kZRowBytes> z_copy;
    const int64_t s_row_stride = static_cast<int64_t>(prob_n) * kSBytes;
    const int64_t z_row_stride = static_cast<int64_t>(prob_n) * kZRowBytes / kBN;
    constexpr int kRowsPerCopy = kGroupPerStep ? 1 : kStagedRows;
    if constexpr (kGroupRows > 0) {
      const int64_t first = static_cast<int64_t>(kt_begin) * kBK / kGroupK;
      const int64_t col0 = n0;
      s_copy.init(s_bytes + first * s_row_stride + col0 * kSBytes, s_row_stride, tid);
      if constexpr (is_zp_float || kIntZp) {
        z_copy.init(z_bytes + first * z_row_stride + col0 * kZRowBytes / kBN, z_row_stride, tid);
      }
    }

    // Loads step load_kt into slot load_slot, then advances both: steps are loaded in order.
    int load_kt = kt_begin;
    int load_slot = 0;
    auto load_next_stage = [&]() {
      uint8_t* const a_tile = smem + a_tile_off(load_slot);
      uint8_t* const slot = smem + rest_off(load_slot);
#pragma unroll
      for (int it = 0; it < kACopies; ++it) {
        if (kAChunks % threads != 0 && tid + it * threads >= kAChunks) break;
        copy16(a_tile + a_dst[it], a_src[it], a_valid[it]);
        a_src[it] += kBK * kAElemBytes;
      }
      // B: per 16-row slice, the tile's units are one contiguous run.
#pragma unroll
      for (int it = 0; it < kBCopies; ++it) {
        const int i = tid + it * threads;
        if (kBChunks % threads != 0 && i >= kBChunks) break;
        copy16(slot + kBOff + i * 16, b_src[it], true);
        b_src[it] += b_step_stride;
      }
      if constexpr (kGroupRows > 0) {
        if (!kGroupPerStep || load_kt == kt_begin || load_kt % kStepsPerGroup == 0) {
          s_copy.copy(slot + kSOff, kRowsPerCopy * s_row_stride, tid);
          if constexpr (is_zp_float || kIntZp) {
            z_copy.copy(slot + kZOff, kRowsPerCopy * z_row_stride, tid);
          }
        }
      }
      ++load_kt;
      load_slot = load_slot == stages - 1 ? 0 : load_slot + 1;
    };

    // B-side scale / zero point operands (c-type pairs) for the lane's column blocks (its
    // column lane_col(j) of each), indexed [j][0: rows 2t, 2t+1 | 1: rows 2t+8, 2t+9].
    // kScaleAcc keeps the scales as fp32 per column block instead (group_scale). Int zero
    // points are folded into the code's bias pair instead (mma::code_bias4_zp; the pair index is
    // the k half, and act-order, whose halves differ, has no int zero points).
    static_assert(!kIntZp || (kBits == 4 && !kActOrder), "int zero points: 4-bit, no act-order");
    uint32_t sc[kLaneBlocks][2];
    uint32_t zc[kLaneBlocks][2];
    float group_scale[kLaneBlocks];
    // z: a float zero point's c-type bits, or an int zero point's code.
    auto set_params = [&](int j, uint32_t s16, uint32_t z) {
      if constexpr (kScaleAcc) {
        group_scale[j] = bits_to_float<c_type_id>(s16) * (kWeightFixOut ? Fix::kValue : 1.f);
      } else {
        sc[j][0] = sc[j][1] = mma::splat_bits(s16);
      }
      if constexpr (kIntZp) {
        zc[j][0] = mma::code_bias4_zp<b_type_id, c_type_id, 0>(z);
        zc[j][1] = mma::code_bias4_zp<b_type_id, c_type_id, 1>(z);
      } else {
        zc[j][0] = zc[j][1] = mma::splat_bits(z);
      }
    };
    if constexpr (kChannelwise) {
#pragma unroll
      for (int j = 0; j < kLaneBlocks; ++j) {
        uint32_t s16, z;
        global_group_params<s_type_id, c_type_id, b_type_id, is_zp_float>(
            scales_ptr, zp_ptr, prob_n, 0, n0 + lane_col(j), s16, z);
        set_params(j, s16, z);
      }
    }

    // Staged scales and zero points of row r of a slot (grouped schemes).
    auto read_staged_params = [&](const uint8_t* slot, int r) {
      const uint8_t* srow = slot + kSOff + r * kBN * kSBytes;
#pragma unroll
      for (int j = 0; j < kLaneBlocks; ++j) {
        const int col = lane_col(j);
        uint32_t s16;
        if constexpr (kSBytes == 2) {
          s16 = *reinterpret_cast<const unsigned short*>(srow + col * 2);
        } else {
          s16 = mma::scale_bits16<s_type_id, c_type_id>(srow[col]);
        }
        uint32_t z = 0;
        if constexpr (is_zp_float) {
          z = *reinterpret_cast<const unsigned short*>(slot + kZOff + (r * kBN + col) * 2);
        } else if constexpr (kIntZp) {
          const uint8_t* zrow = slot + kZOff + r * (kBN * kBits / 8);
          const uint32_t word = *reinterpret_cast<const uint32_t*>(zrow + (col * kBits / 32) * 4);
          z = (word >> ((col % (32 / kBits)) * kBits)) & ((1u << kBits) - 1u);
        }
        set_params(j, s16, z);
      }
    };

    // Act-order: the scales of the lane's four rows of slice s of step kt, per row group.
    auto read_act_order_params = [&](int kt, int s) {
      // The lane's four rows usually share one group (sorted g_idx); per row otherwise.
      const int k0 = kt * kBK + s * 16;
      const int grp[4] = {__ldg(g_idx + k0 + 2 * t), __ldg(g_idx + k0 + 2 * t + 1),
                          __ldg(g_idx + k0 + 2 * t + 8), __ldg(g_idx + k0 + 2 * t + 9)};
#pragma unroll
      for (int j = 0; j < kLaneBlocks; ++j) {
        const int n = n0 + lane_col(j);
        uint32_t s16[4], z16[4];
        global_group_params<s_type_id, c_type_id, b_type_id, is_zp_float>(
            scales_ptr, zp_ptr, prob_n, grp[0], n, s16[0], z16[0]);
        if (grp[1] == grp[0] && grp[2] == grp[0] && grp[3] == grp[0]) {
          s16[1] = s16[2] = s16[3] = s16[0];
          z16[1] = z16[2] = z16[3] = z16[0];
        } else {
#pragma unroll
          for (int e = 1; e < 4; ++e) {
            global_group_params<s_type_id, c_type_id, b_type_id, is_zp_float>(
                scales_ptr, zp_ptr, prob_n, grp[e], n, s16[e], z16[e]);
          }
        }
        sc[j][0] = s16[0] | (s16[1] << 16);
        sc[j][1] = s16[2] | (s16[3] << 16);
        zc[j][0] = z16[0] | (z16[1] << 16);
        zc[j][1] = z16[2] | (z16[3] << 16);
      }
    };

    // A operands (one ldmatrix per 16 rows; x2 for the 8-row tile, whose transposed multiply
    // reads a0 and a2 only) and this lane's B words of the i-th slice of its run, from the slot at
    // byte offset slot_off (A tile, then the rest).
    struct Frags {
      uint32_t a[kMT][4];
      uint32_t b[kLaneWords];
    };
    auto load_frags = [&](uint32_t slot_off, int i, Frags& f) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        if constexpr (kWidenA) {
          // a0..a3: rows g, g + 8 (8 rows of 128 bytes apart) x k 2t, 2t + 8 (8 bytes apart).
          // ldmatrix would hand each lane four consecutive bytes, which are not one pair.
          const uint8_t* const p = smem + slot_off + a_frag_off[i] + mt * 16 * 128;
          constexpr int kOff[4] = {0, 8 * 128, 8, 8 * 128 + 8};
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            f.a[mt][e] = mma::activation_pair8<a_type_id, c_type_id, !kActFixOut>(
                *reinterpret_cast<const unsigned short*>(p + kOff[e]));
          }
        } else if constexpr (m_block_size_8) {
          // Rows 0-7 (a0, a2): all that the transposed multiply reads.
          mma::ldmatrix_x2(f.a[mt][0], f.a[mt][2],
                           smem_base + slot_off + a_frag_off[i] + mt * 16 * 128);
        } else {
          mma::ldmatrix_x4(f.a[mt], smem_base + slot_off + a_frag_off[i] + mt * 16 * 128);
        }
      }
      const uint8_t* bsrc = smem + slot_off + kABytes + b_frag_off[i];
#pragma unroll
      for (int v = 0; v < kLaneWords / 4; ++v) {
        const uint4 q = *reinterpret_cast<const uint4*>(bsrc + v * 16);
        f.b[4 * v] = q.x, f.b[4 * v + 1] = q.y, f.b[4 * v + 2] = q.z, f.b[4 * v + 3] = q.w;
      }
    };

    using Acc = float[kAccX][kAccY][4];
    Acc acc;
#pragma unroll
    for (int x = 0; x < kAccX; ++x) {
#pragma unroll
      for (int y = 0; y < kAccY; ++y) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[x][y][e] = 0.f;
      }
    }
    // kScaleAcc: the current group's unscaled sums (written fresh by its first slice).
    Acc group_acc;

    // A code pair (see mma_dequant.cuh) of column block j, k rows half -> the operand register.
    auto finish = [&](uint32_t v, int j, int half) -> uint32_t {
      if constexpr (Fix::kNeeded && !kWeightFixOut) {
        v = mma::mul2<c_type_id>(v, mma::splat_bits(Fix::kBits16));
      }
      // Int zero points are already subtracted (code_pair4's bias).
      constexpr bool kSubZero = kZp && !kIntZp;
      if constexpr (kScaleOut || kScaleAcc) {
        return kSubZero ? mma::sub2<c_type_id>(v, zc[j][half]) : v;
      } else {
        return mma::apply_zero_scale<c_type_id, kSubZero>(v, zc[j][half], sc[j][half]);
      }
    };

    // The A operand of the lane's 16-column tile (unit) x from its B words: column blocks 2x
    // and 2x + 1 are its rows g and g + 8 (a0, a2 / a1, a3).
    auto dequantize_tile = [&](const uint32_t* words, int x, uint32_t(&a)[4]) {
      if constexpr (kBits == 4) {
        const uint32_t w = words[x];
        // Pair p's bias: the type's constant, or with the column's int zero point (zc).
        auto code = [&](auto pair, int j) {
          constexpr int p = decltype(pair)::value;
          if constexpr (kIntZp) {
            return mma::code_pair4<b_type_id, c_type_id, p>(w, zc[j][p % 2]);
          } else {
            return mma::code_pair4<b_type_id, c_type_id, p>(w);
          }
        };
        a[0] = finish(code(std::integral_constant<int, 0>{}, 2 * x), 2 * x, 0);
        a[2] = finish(code(std::integral_constant<int, 1>{}, 2 * x), 2 * x, 1);
        a[1] = finish(code(std::integral_constant<int, 2>{}, 2 * x + 1), 2 * x + 1, 0);
        a[3] = finish(code(std::integral_constant<int, 3>{}, 2 * x + 1), 2 * x + 1, 1);
      } else {
        const uint32_t w0 = words[2 * x], w1 = words[2 * x + 1];
        a[0] = finish(mma::code_pair8<b_type_id, c_type_id, 0>(w0), 2 * x, 0);
        a[2] = finish(mma::code_pair8<b_type_id, c_type_id, 1>(w0), 2 * x, 1);
        a[1] = finish(mma::code_pair8<b_type_id, c_type_id, 0>(w1), 2 * x + 1, 0);
        a[3] = finish(mma::code_pair8<b_type_id, c_type_id, 1>(w1), 2 * x + 1, 1);
      }
    };

    // mma.sync, one slice into d (fresh: d = the product, a group's first slice, kScaleAcc).
    // Transposed: dequantize the four 16-column tiles and multiply each with the 8-row block
    // of activations (ldmatrix's a0, a2). Else: per 8-column block the two B registers, times
    // every 16-row tile of activations.
    auto multiply = [&](const Frags& f, Acc& d, auto fresh) {
      auto mma = [&](float(&dst)[4], const uint32_t(&a)[4], uint32_t b0, uint32_t b1) {
        if constexpr (decltype(fresh)::value) {
          mma::mma_16816_fresh<c_type_id>(dst, a, b0, b1);
        } else {
          mma::mma_16816<c_type_id>(dst, a, b0, b1);
        }
      };
      if constexpr (kWeightsA) {
#pragma unroll
        for (int x = 0; x < kAccX; ++x) {
          uint32_t w[4];
          dequantize_tile(f.b, x, w);
          mma(d[x][0], w, f.a[0][0], f.a[0][2]);
        }
      } else {
#pragma unroll
        for (int x = 0; x < kLaneBlocks / 2; ++x) {
          uint32_t w[4];  // a0, a2: block 2x; a1, a3: block 2x + 1 (rows g / g + 8 transposed)
          dequantize_tile(f.b, x, w);
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma(d[mt][2 * x], f.a[mt], w[0], w[2]);
            mma(d[mt][2 * x + 1], f.a[mt], w[1], w[3]);
          }
        }
      }
    };
    // kScaleAcc, after a group's last slice: acc += scale * group sums, per column.
    auto fold_group = [&]() {
#pragma unroll
      for (int x = 0; x < kAccX; ++x) {
#pragma unroll
        for (int y = 0; y < kAccY; ++y) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            acc[x][y][e] = fmaf(group_scale[2 * x + e / 2], group_acc[x][y][e], acc[x][y][e]);
          }
        }
      }
    };

    int current_row = -1;  // staged row last read (groups smaller than a step)
    // The scales and zero points the dequantization of step kt needs: once per step where a
    // group spans whole steps, and before the i-th slice of the lane's run (slice kgroup *
    // kSlices + i of the step) for smaller groups and act-order.
    auto read_step_params = [&](int kt, const uint8_t* slot) {
      if constexpr (kGroupPerStep) {
        if (kt == kt_begin || (kt % kStepsPerGroup) == 0) read_staged_params(slot, 0);
      }
    };
    auto read_slice_params = [&](int kt, const uint8_t* slot, int i) {
      const int s = kgroup * kSlices + i;  // slice within the BK step
      if constexpr (kGroupRows > 0 && !kGroupPerStep) {
        const int r = (s * 16) / kGroupK;
        if (r != current_row || i == 0) {
          current_row = r;
          read_staged_params(slot, r);
        }
      } else if constexpr (kActOrder) {
        read_act_order_params(kt, s);
      }
    };

#pragma unroll 1
    for (int kt = kt_begin; kt < kt_begin + stages - 1; ++kt) {
      if (kt < kt_end) load_next_stage();
      copy_commit();
    }
    if constexpr (kWgmma) {
      // kBatch slices at a time: dequantize into one of two register sets (while the previous
      // batch's wgmma, on the other set, still run), issue them as one group, then wait for the
      // previous batch's. After a step's last batch the step before it is retired, so the
      // barrier that publishes step kt + 1 also proves every warpgroup done with step kt - 1,
      // whose slot the next load refills.
      // Two slices per batch: 0.92x the time of one per batch (median over the tuned configs,
      // docs/benchmarks.md run 8); four were no faster.
      constexpr int kBatch = kSlices >= 4 ? 2 : 1;
      static_assert(kSlices % (2 * kBatch) == 0, "a step holds an even number of batches");
      uint32_t frag[2][kBatch][kCb][4];
      copy_wait<stages - 2>();
      wgmma::fence_async_shared();
      __syncthreads();  // step kt_begin visible
      int read_slot = 0;
#pragma unroll 1
      for (int kt = kt_begin; kt < kt_end; ++kt) {
        const uint8_t* const slot = smem + rest_off(read_slot);
        const uint32_t a_tile = smem_base + a_tile_off(read_slot);
        read_step_params(kt, slot);
#pragma unroll
        for (int i = 0; i < kSlices; ++i) {
          read_slice_params(kt, slot, i);
          uint32_t words[kFragWords];
          const uint8_t* const bsrc = slot + b_frag_off[i];
          if constexpr (kFragWords == 1) {
            words[0] = *reinterpret_cast<const uint32_t*>(bsrc);
          } else if constexpr (kFragWords == 2) {
            const uint2 q = *reinterpret_cast<const uint2*>(bsrc);
            words[0] = q.x, words[1] = q.y;
          } else {
#pragma unroll
            for (int v = 0; v < kFragWords / 4; ++v) {
              const uint4 q = *reinterpret_cast<const uint4*>(bsrc + v * 16);
              words[4 * v] = q.x, words[4 * v + 1] = q.y, words[4 * v + 2] = q.z,
                        words[4 * v + 3] = q.w;
            }
          }
          uint32_t(&set)[kCb][4] = frag[(i / kBatch) % 2][i % kBatch];
#pragma unroll
          for (int u = 0; u < kCb; ++u) dequantize_tile(words, u, set[u]);
          if (i % kBatch != kBatch - 1) continue;
          // Every input of the batch's wgmma is computed before the fence: a register written
          // between them would make ptxas serialize the whole pipeline.
          uint32_t(&batch)[kBatch][kCb][4] = frag[(i / kBatch) % 2];
          uint64_t desc[kBatch];
#pragma unroll
          for (int b = 0; b < kBatch; ++b) {
            desc[b] = wgmma::sw128_desc(a_tile + a_frag_off[i - kBatch + 1 + b]);
            wgmma::fence_operands(desc[b], batch[b]);
          }
          wgmma::fence();
#pragma unroll
          for (int b = 0; b < kBatch; ++b) {
#pragma unroll
            for (int u = 0; u < kCb; ++u) {
              wgmma::Wgmma<c_type_id, kBM>::run(acc[u], batch[b][u], desc[b]);
            }
          }
          wgmma::commit();
          wgmma::wait<1>();
        }
        copy_wait<stages - 3>();
        wgmma::fence_async_shared();
        __syncthreads();
        if (load_kt < kt_end) load_next_stage();
        copy_commit();
        read_slot = read_slot == stages - 1 ? 0 : read_slot + 1;
      }
      wgmma::wait<0>();
#pragma unroll
      for (int u = 0; u < kCb; ++u) wgmma::fence_accumulators(acc[u]);
    } else {
      // Register double buffering: the fragments of the next slice (across a step boundary, the
      // next step's first slice) are read from shared memory while the current slice
      // multiplies. The ring's barrier therefore sits before a step's last slice, once the next
      // step landed.
      copy_wait<stages - 2>();
      __syncthreads();  // step kt_begin visible
      Frags cur;
      uint32_t read_off = 0;  // slot offset of step kt
      if (kt_begin < kt_end) load_frags(read_off, 0, cur);
      using Fresh = std::integral_constant<bool, true>;
      using Accumulate = std::integral_constant<bool, false>;

#pragma unroll 1
      for (int kt = kt_begin; kt < kt_end; ++kt) {
        const uint8_t* const slot = smem + read_off + kABytes;
        const uint32_t next_off =
            read_off == (stages - 1) * kStageBytes ? 0 : read_off + kStageBytes;
        read_step_params(kt, slot);
        const bool group_begins = kt == kt_begin || kt % kStepsPerGroup == 0;
#pragma unroll
        for (int i = 0; i < kSpw; ++i) {
          read_slice_params(kt, slot, i);
          Frags next;
          if (i + 1 < kSpw) {
            load_frags(read_off, i + 1, next);
          } else {
            // Step kt + 1 complete and visible; every warp is past step kt - 1, whose slot the
            // load of step kt + stages - 1 refills.
            copy_wait<stages - 3>();
            __syncthreads();
            if (load_kt < kt_end) load_next_stage();
            copy_commit();
            if (kt + 1 < kt_end) load_frags(next_off, 0, next);
          }
          if constexpr (!kScaleAcc) {
            multiply(cur, acc, Accumulate{});
          } else if (i == 0 && group_begins) {
            multiply(cur, group_acc, Fresh{});
          } else {
            multiply(cur, group_acc, Accumulate{});
          }
          cur = next;
        }
        if constexpr (kScaleAcc) {
          if (kt + 1 == kt_end || (kt + 1) % kStepsPerGroup == 0) fold_group();
        }
        read_off = next_off;
      }
    }

    // The block's last main loop is done: the next kernel may start its blocks (and their
    // prefetch) during this one's reductions and epilogue, not earlier, where its waiting
    // blocks would only compete with this one's.
    if (item + static_cast<int>(gridDim.x) >= num_items) allow_dependent_launch();

    copy_wait<0>();
    __syncthreads();  // the ring is free: it holds the tile's sums from here on

    // The lane's accumulators and their place in the tile: f(value, row, column).
    //   transposed (kWeightsA): acc[x][y][e] is row 8y + 2t + e % 2, column lane_col(2x + e / 2);
    //   else: acc[mt][j][2h + q] is row 16mt + g + 8h, column 64wn + 8j + 2t + q.
    auto for_each_accumulator = [&](auto&& f) {
#pragma unroll
      for (int x = 0; x < kAccX; ++x) {
#pragma unroll
        for (int y = 0; y < kAccY; ++y) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            if constexpr (kWeightsA) {
              f(acc[x][y][e], 8 * y + 2 * t + e % 2, lane_col(2 * x + e / 2));
            } else {
              f(acc[x][y][e], 16 * x + g + 8 * (e / 2), wn * 64 + 8 * y + 2 * t + e % 2);
            }
          }
        }
      }
    };

    // The tile's fp32 sums, row-major in the ring (mma_sum_bytes), summed over the k groups in a
    // fixed order, K-1 first, then K-2, ..., 0: the same bits every run. Where the ring holds a
    // set of sums per k group (kSumSets), every group stores its own at once and the readers
    // add them up (tile_run); otherwise the groups fold into one set in turn, one barrier each,
    // while the others wait.
    float* const tile_sums = reinterpret_cast<float*>(smem);
    constexpr int kSumStride = mma_sum_stride(kCfg);
    constexpr int kSumSetFloats = mma_sum_bytes(kCfg) / 4;
    constexpr bool kSumSets =
        kKGroups > 1 && kKGroups * mma_sum_bytes(kCfg) <= stages * mma_stage_bytes(kCfg);
    if constexpr (kSumSets) {
      float* const own = tile_sums + kgroup * kSumSetFloats;
      for_each_accumulator([&](float v, int row, int col) { own[row * kSumStride + col] = v; });
      __syncthreads();
    } else {
      if (kgroup == kKGroups - 1) {
        for_each_accumulator(
            [&](float v, int row, int col) { tile_sums[row * kSumStride + col] = v; });
      }
      __syncthreads();
#pragma unroll 1
      for (int k = kKGroups - 2; k >= 0; --k) {
        if (kgroup == k) {
          for_each_accumulator([&](float v, int row, int col) {
            float& sum = tile_sums[row * kSumStride + col];
            sum = v + sum;
          });
        }
        __syncthreads();
      }
    }

    // Every thread now walks the tile's existing rows as runs of 4 columns. The accumulators
    // are dead: the split-K sum's loads in flight cost no registers beyond the main loop's
    // (summing into the accumulators did: up to 60 more, a block per SM fewer). A row is
    // kRunsPerRow runs and the block a whole number of rows, so each thread keeps its 4
    // columns for the whole tile and takes every kRowsPerPass-th row from its first.
    constexpr int kRunsPerRow = kBN / 4;
    static_assert(threads % kRunsPerRow == 0, "a block covers whole rows of runs");
    constexpr int kRowsPerPass = threads / kRunsPerRow;
    // Rows per thread in flight: 4 (wgmma) or 2 (mma.sync), the fewest registers measured.
    constexpr int kUnroll = kWgmma ? 4 : 2;
    const int run_col = 4 * (tid % kRunsPerRow);  // within the tile
    const int first_row = tid / kRunsPerRow;
    auto tile_run = [&](int row) {
      const float* const run = tile_sums + row * kSumStride + run_col;
      if constexpr (kSumSets) {
        float4 sum = *reinterpret_cast<const float4*>(run + (kKGroups - 1) * kSumSetFloats);
#pragma unroll
        for (int k = kKGroups - 2; k >= 0; --k) {
          const float4 v = *reinterpret_cast<const float4*>(run + k * kSumSetFloats);
          sum = make_float4(v.x + sum.x, v.y + sum.y, v.z + sum.z, v.w + sum.w);
        }
        return sum;
      } else {
        return *reinterpret_cast<const float4*>(run);
      }
    };
    // tile_run of the cluster block whose tile_sums start at shared::cluster address `sums`.
    auto peer_tile_run = [&](uint32_t sums, int row) {
      const uint32_t run = sums + 4u * static_cast<uint32_t>(row * kSumStride + run_col);
      if constexpr (kSumSets) {
        float4 sum = load_cluster_float4(run + 4u * (kKGroups - 1) * kSumSetFloats);
#pragma unroll
        for (int k = kKGroups - 2; k >= 0; --k) {
          const float4 v = load_cluster_float4(run + 4u * k * kSumSetFloats);
          sum = make_float4(v.x + sum.x, v.y + sum.y, v.z + sum.z, v.w + sum.w);
        }
        return sum;
      } else {
        return load_cluster_float4(run);
      }
    };
    // Split-K, in split order 0, 1, ..., S-1, so the same bits whichever split finishes last:
    //   - in a cluster (sm_90), the splits' sums stay in their shared memory; after a cluster
    //     barrier, split s sums and writes rows first_row + kRowsPerPass (s + S i) from every
    //     split's tile_sums, then waits at a second barrier until its peers have read its own;
    //   - otherwise each split stores its partial in C_tmp ([split][row][column]; 32-bit offsets:
    //     the host splits only where C_tmp holds at most 8 MiB, exec_config.h), and the block that
    //     arrives last sums them and writes the whole tile.
    const int split_stride = split_k ? prob_m * prob_n : 0;
    // The thread's run in the tile's row 0, in C; in C_tmp the same offset fits 32 bits.
    const int64_t out_offset = static_cast<int64_t>(m0) * prob_n + n0 + run_col;
    const int part_offset = split_k ? static_cast<int>(out_offset) : 0;
    bool write_c = true;
    int row_begin = first_row, row_step = kRowsPerPass;
    if (cluster_split) {
      cluster_sync();
      row_begin += split * kRowsPerPass;
      row_step *= splits;
    } else if (split_k) {
      float* const part = C_tmp + split * split_stride + part_offset;
      for (int row = first_row; row < tile_rows; row += kRowsPerPass) {
        __stcg(reinterpret_cast<float4*>(part + row * prob_n), tile_run(row));
      }
      write_c = split_arrival_is_last(locks, tile, splits);
    }
    if (write_c && row_begin < tile_rows) {
      // The epilogue: channelwise scales (kScaleOut), the per-row activation scales (8-bit
      // activations), the NVFP4 global scale, bias, one rounding to the c type; four columns per
      // 8-byte store. The thread's columns' scales and bias are read once per tile.
      float col_scale[4], col_bias[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int col = n0 + run_col + q;
        col_scale[q] = kScaleOut ? load_element<s_type_id>(scales_ptr, col) *
                                       (kWeightFixOut ? Fix::kValue : 1.f)
                                 : 1.f;
        col_bias[q] = has_bias ? load_element<c_type_id>(b_bias_ptr, col) : 0.f;
      }
      unsigned short* const c_out = reinterpret_cast<unsigned short*>(C) + out_offset;
#pragma unroll 1
      for (int first = row_begin; first < tile_rows; first += kUnroll * row_step) {
        float4 sum[kUnroll];
        if (split_k) {
#pragma unroll 1
          for (int sp = 0; sp < splits; ++sp) {
            const float* const part = C_tmp + sp * split_stride + part_offset;
            const uint32_t peer_sums = cluster_peer_address(smem_base, sp);
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
              const int row = first + u * row_step;
              if (row >= tile_rows) break;
              const float4 p = sp == split ? tile_run(row)
                               : cluster_split
                                   ? peer_tile_run(peer_sums, row)
                                   : __ldcg(reinterpret_cast<const float4*>(part + row * prob_n));
              if (sp == 0) {
                sum[u] = p;
              } else {
                sum[u].x += p.x, sum[u].y += p.y, sum[u].z += p.z, sum[u].w += p.w;
              }
            }
          }
        } else {
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            const int row = first + u * row_step;
            if (row < tile_rows) sum[u] = tile_run(row);
          }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int row = first + u * row_step;
          if (row >= tile_rows) break;
          const float v[4] = {sum[u].x, sum[u].y, sum[u].z, sum[u].w};
          const float row_scale = kWidenA ? row_factor * __ldg(a_scales_ptr + m0 + row) *
                                                (kActFixOut ? AFix::kValue : 1.f)
                                          : row_factor;
          uint32_t packed[2] = {0u, 0u};
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            packed[q / 2] |= static_cast<uint32_t>(float_to_output_bits<c_type_id>(fmaf(
                                 kScaleOut ? v[q] * col_scale[q] : v[q], row_scale, col_bias[q])))
                             << (16 * (q % 2));
          }
          *reinterpret_cast<uint2*>(c_out + static_cast<int64_t>(row) * prob_n) =
              make_uint2(packed[0], packed[1]);
        }
      }
    }
    if (cluster_split) cluster_sync();  // the peers have read this block's sums
    __syncthreads();                    // the sums alias the ring the next item's prologue refills
  }
}

}  // namespace detail
}  // namespace marlin
