// The reference kernel body (design.md section 9): fp32 FMA, no tensor cores. Runs the sm75
// family (kernel_config.h uses_mma_body), and is the baseline the tensor-core body
// (mma_body.cuh) is checked against.
//
//   - persistent blocks walk the BM x BN output tiles with a grid stride (tile index runs over M
//     first, so concurrently running blocks share one N tile's weights in L2);
//   - K is walked in BK steps through a `stages`-deep shared-memory ring holding the raw A tile
//     and the raw packed B tile (cp.async 16-byte copies on sm_80+, plain 16-byte loads below),
//     prefetching stages - 1 steps ahead;
//   - each thread gathers the codes of its 4 columns from the layout-v2 units, dequantizes them
//     in fp32 (code, zero point, scale) and accumulates rows_per_thread x 4 outputs with fp32
//     FMAs; thread groups that split a BK step are summed through shared memory once per tile;
//   - split-K (launch contract): block b computes split b / tiles of tile b % tiles, writes its
//     fp32 partial to C_tmp[split][row][n]; the last of the S blocks to arrive sums the S partials
//     in split order (deterministic) and runs the epilogue;
//   - epilogue: per-row activation scale, NVFP4 global scale, bias, one rounding to the c type.
// Tile geometry and the shared-memory size come from kernel_config.h, shared with the host.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "marlin/dequant.cuh"
#include "marlin/kernel.h"
#include "marlin/kernel_common.cuh"
#include "marlin/kernel_config.h"
#include "marlin/layout_v2.h"
#include "marlin/scalar_type.h"
#include "marlin/type_traits.cuh"

namespace marlin {
namespace detail {

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks, bool is_zp_float>
__device__ __forceinline__ void reference_body(MARLIN_KERNEL_PARAMS) {
  using ATraits = TypeTraits<a_type_id>;
  using BTraits = TypeTraits<b_type_id>;

  constexpr KernelConfig kCfg{a_type_id,      b_type_id,       c_type_id,       s_type_id,
                              threads,        thread_m_blocks, thread_n_blocks, thread_k_blocks,
                              m_block_size_8, stages,          group_blocks,    is_zp_float};
  static_assert(tile_shape(kCfg).row_groups > 0, "no thread layout fits this tile");
  constexpr TileShape kTile = tile_shape(kCfg);
  constexpr int kBM = kTile.bm;
  constexpr int kBN = kTile.bn;
  constexpr int kBK = kTile.bk;
  constexpr int kColGroups = kTile.col_groups;
  constexpr int kRowGroups = kTile.row_groups;
  constexpr int kSplit = kTile.k_split;
  constexpr int kTM = kTile.rows_per_thread;
  constexpr int kTN = kColsPerThread;
  constexpr int kSlabsPerSplit = kTile.slabs_per_split;

  constexpr int kABytes = ATraits::kBytes;
  constexpr int kBits = BTraits::kBits;
  constexpr int kPack = BTraits::kPack;  // weights per 32-bit word
  constexpr int kW = 16 / kPack;         // words per column per 16-row slab
  constexpr int kSlabWords = kBN * kW;   // one slab of the B tile, in words
  constexpr int kATileBytes = smem_a_tile_bytes(kCfg);
  constexpr int kStageBytes = smem_stage_bytes(kCfg);
  constexpr int kARowBytes = kBK * kABytes;
  constexpr bool kActOrder = group_blocks == 0;
  constexpr bool kIntZp = BTraits::kNeedsZeroPoint && !is_zp_float;
  constexpr bool kHasGlobalScale = s_type_id == kFE4M3fn.id();
  static_assert(kARowBytes % 16 == 0 && kSlabWords % 4 == 0, "tiles must be 16-byte rows");

  (void)use_atomic_add, (void)use_fp32_reduce, (void)max_shared_mem, (void)num_groups;

  extern __shared__ int4 smem_raw[];  // int4: 16-byte alignment for the copies
  uint8_t* const smem = reinterpret_cast<uint8_t*>(smem_raw);

  const int tid = static_cast<int>(threadIdx.x);
  const int col_group = tid % kColGroups;
  const int row_group = (tid / kColGroups) % kRowGroups;
  const int k_group = tid / (kColGroups * kRowGroups);

  const int m_tiles = (prob_m + kBM - 1) / kBM;
  const int n_tiles = prob_n / kBN;
  const int k_tiles = prob_k / kBK;
  const int num_tiles = m_tiles * n_tiles;
  // Split-K is on when the host passes C_tmp and launches S >= 2 blocks per tile (exactly S * tiles
  // blocks); S = 1 is the plain persistent walk over the tiles.
  const int splits = (C_tmp != nullptr && static_cast<int>(gridDim.x) >= 2 * num_tiles)
                         ? static_cast<int>(gridDim.x) / num_tiles
                         : 1;
  const int num_items = num_tiles * splits;
  const int64_t b_row_words = static_cast<int64_t>(prob_n) * kW;

  const uint8_t* const a_bytes = reinterpret_cast<const uint8_t*>(A);
  const uint32_t* const b_words = reinterpret_cast<const uint32_t*>(B);
  const uint32_t* const zp_words = reinterpret_cast<const uint32_t*>(zp_ptr);
  const float global_scale = kHasGlobalScale ? __ldg(global_scale_ptr) : 1.f;

  // Scale and zero point of (group, column n), folded so that w = code * s - zs.
  auto group_params = [&](int group, int n, float& s, float& zs) {
    const int64_t gn = static_cast<int64_t>(group) * prob_n + n;
    s = load_element<s_type_id>(scales_ptr, gn);
    float z = 0.f;
    if constexpr (is_zp_float) {
      z = load_element<c_type_id>(zp_ptr, gn);
    } else if constexpr (kIntZp) {
      const int64_t word = static_cast<int64_t>(group) * (prob_n / kPack) + n / kPack;
      z = static_cast<float>((__ldg(zp_words + word) >> ((n % kPack) * kBits)) &
                             ((1u << kBits) - 1u));
    }
    zs = z * s;
  };

#pragma unroll 1
  for (int item = blockIdx.x; item < num_items; item += gridDim.x) {
    const int tile = item % num_tiles;
    const int split = item / num_tiles;
    // This split's BK steps: [kt_begin, kt_end), all of K when splits == 1.
    const int kt_begin = static_cast<int>(static_cast<int64_t>(k_tiles) * split / splits);
    const int kt_end = static_cast<int>(static_cast<int64_t>(k_tiles) * (split + 1) / splits);
    const int m0 = (tile % m_tiles) * kBM;
    const int n0 = (tile / m_tiles) * kBN;
    const int tile_rows = min(kBM, prob_m - m0);

    // Issue the copies of K step `kt` into ring slot kt % stages.
    auto load_stage = [&](int kt) {
      uint8_t* const slot = smem + (kt % stages) * kStageBytes;
      constexpr int kAChunksPerRow = kARowBytes / 16;
      constexpr int kAChunks = kBM * kAChunksPerRow;
#pragma unroll
      for (int it = 0; it < (kAChunks + threads - 1) / threads; ++it) {
        const int i = tid + it * threads;
        if (kAChunks % threads != 0 && i >= kAChunks) break;
        const int r = i / kAChunksPerRow;
        const int c = i % kAChunksPerRow;
        const bool valid = r < tile_rows;
        // Rows past prob_m point at row m0 (always valid) and copy nothing.
        const int64_t row = m0 + (valid ? r : 0);
        const uint8_t* src =
            a_bytes + (row * lda + static_cast<int64_t>(kt) * kBK) * kABytes + c * 16;
        copy16(slot + r * kARowBytes + c * 16, src, valid);
      }
      constexpr int kBChunksPerSlab = kSlabWords / 4;
      constexpr int kBChunks = (kBK / 16) * kBChunksPerSlab;
#pragma unroll
      for (int it = 0; it < (kBChunks + threads - 1) / threads; ++it) {
        const int i = tid + it * threads;
        if (kBChunks % threads != 0 && i >= kBChunks) break;
        const int s = i / kBChunksPerSlab;
        const int c = i % kBChunksPerSlab;
        const uint32_t* src = b_words + (static_cast<int64_t>(kt) * (kBK / 16) + s) * b_row_words +
                              static_cast<int64_t>(n0) * kW + c * 4;
        copy16(slot + kATileBytes + (s * kSlabWords + c * 4) * 4, src, true);
      }
    };

    // Columns owned by this thread: n0 + col_group + kColGroups * j (a warp reads contiguously).
    int cols[kTN];
#pragma unroll
    for (int j = 0; j < kTN; ++j) cols[j] = n0 + col_group + kColGroups * j;

    float scale[kTN];
    float zscale[kTN];
    if constexpr (group_blocks == -1) {
#pragma unroll
      for (int j = 0; j < kTN; ++j) group_params(0, cols[j], scale[j], zscale[j]);
    }

    float acc[kTM][kTN];
#pragma unroll
    for (int m = 0; m < kTM; ++m) {
#pragma unroll
      for (int j = 0; j < kTN; ++j) acc[m][j] = 0.f;
    }

    // Prologue: stages - 1 steps in flight. One commit per step, even when empty, so that
    // wait_group<stages - 2> below always means "step kt has landed".
#pragma unroll 1
    for (int kt = kt_begin; kt < kt_begin + stages - 1; ++kt) {
      if (kt < kt_end) load_stage(kt);
      copy_commit();
    }

    // The main loop, for kRows <= kTM rows per thread: rows kRows..kTM-1 of this thread are past
    // prob_m (zero-filled A, never written), so their FMAs are skipped at compile time.
    auto main_loop = [&](auto rows_c) {
      constexpr int kRows = decltype(rows_c)::value;
      static_assert(kRows >= 1 && kRows <= kTM, "rows per thread");
#pragma unroll 1
      for (int kt = kt_begin; kt < kt_end; ++kt) {
        copy_wait<stages - 2>();
        // Makes step kt visible to all threads, and ensures nobody still reads the slot refilled
        // next (it held step kt - 1).
        __syncthreads();
        if (kt + stages - 1 < kt_end) load_stage(kt + stages - 1);
        copy_commit();

        const uint8_t* const a_tile = smem + (kt % stages) * kStageBytes;
        const uint32_t* const b_tile = reinterpret_cast<const uint32_t*>(a_tile + kATileBytes);

#pragma unroll 1
        for (int ls = 0; ls < kSlabsPerSplit; ++ls) {
          const int slab = k_group * kSlabsPerSplit + ls;  // 16-row slab within the BK step

          if constexpr (group_blocks > 0) {
            // A slab never straddles groups: groups are whole multiples of 16 rows.
            const int k_slab = kt * kBK + slab * 16;  // the slab's first global k
#pragma unroll
            for (int j = 0; j < kTN; ++j) {
              group_params(k_slab / (16 * group_blocks), cols[j], scale[j], zscale[j]);
            }
          }

          // The 16 codes of each of this thread's columns in this slab (layout v2 units).
          uint32_t codes[kTN][16];
#pragma unroll
          for (int j = 0; j < kTN; ++j) {
            const int c = col_group + kColGroups * j;  // column within the tile
            const uint32_t* unit = b_tile + slab * kSlabWords + (c / kUnitN) * unit_words(kBits);
            unit_column_codes<kBits>(unit, c % kUnitN, codes[j]);
          }

#pragma unroll
          for (int wi = 0; wi < kW; ++wi) {
            const int k_word = slab * 16 + wi * kPack;  // first k of this word, within the tile
            float w[kTN][kPack];
#pragma unroll
            for (int j = 0; j < kTN; ++j) {
#pragma unroll
              for (int i = 0; i < kPack; ++i)
                w[j][i] = decode_code<b_type_id>(codes[j][wi * kPack + i]);
            }

            if constexpr (kActOrder) {
              // Every row has its own group: g_idx[k].
#pragma unroll
              for (int i = 0; i < kPack; ++i) {
                const int group = __ldg(g_idx + kt * kBK + k_word + i);
#pragma unroll
                for (int j = 0; j < kTN; ++j) {
                  float s, zs;
                  group_params(group, cols[j], s, zs);
                  w[j][i] = fmaf(w[j][i], s, -zs);
                }
              }
            } else {
#pragma unroll
              for (int j = 0; j < kTN; ++j) {
#pragma unroll
                for (int i = 0; i < kPack; ++i) w[j][i] = fmaf(w[j][i], scale[j], -zscale[j]);
              }
            }

#pragma unroll
            for (int m = 0; m < kRows; ++m) {
              float a[kPack];
              load_activations<a_type_id, kPack>(
                  a_tile + (row_group * kTM + m) * kARowBytes + k_word * kABytes, a);
#pragma unroll
              for (int j = 0; j < kTN; ++j) {
#pragma unroll
                for (int i = 0; i < kPack; ++i) acc[m][j] = fmaf(a[i], w[j][i], acc[m][j]);
              }
            }
          }
        }
      }
    };
    // Decode tiles (8 rows, M < 8): compute only the rows that exist, rounded up to 1, 2 or 4.
    // Block-uniform when one row group spans the tile (the decode configs); other tiles always
    // take the full path.
    if constexpr (m_block_size_8 && kTM == 8) {
      const int active_rows = tile_rows - row_group * kTM;
      if (active_rows <= 1) {
        main_loop(IntConst<1>{});
      } else if (active_rows <= 2) {
        main_loop(IntConst<2>{});
      } else if (active_rows <= 4) {
        main_loop(IntConst<4>{});
      } else {
        main_loop(IntConst<kTM>{});
      }
    } else {
      main_loop(IntConst<kTM>{});
    }

    // Drain the (empty) trailing groups and let every thread finish reading the ring before it
    // is reused for the reduction or the next tile's prologue.
    copy_wait<0>();
    __syncthreads();

    if constexpr (kSplit > 1) {
      // k groups kSplit-1 .. 1 fold their partial sums into a bm x bn fp32 buffer in turn; k
      // group 0 adds it to its own. Fixed order: results do not depend on timing.
      float* const red = reinterpret_cast<float*>(smem);
#pragma unroll 1
      for (int g = kSplit - 1; g >= 1; --g) {
        if (k_group == g) {
#pragma unroll
          for (int m = 0; m < kTM; ++m) {
#pragma unroll
            for (int j = 0; j < kTN; ++j) {
              const int idx = (row_group * kTM + m) * kBN + col_group + kColGroups * j;
              red[idx] = g == kSplit - 1 ? acc[m][j] : red[idx] + acc[m][j];
            }
          }
        }
        __syncthreads();
      }
      if (k_group == 0) {
#pragma unroll
        for (int m = 0; m < kTM; ++m) {
#pragma unroll
          for (int j = 0; j < kTN; ++j) {
            acc[m][j] += red[(row_group * kTM + m) * kBN + col_group + kColGroups * j];
          }
        }
      }
    }

    bool write_c = true;
    if (splits > 1) {
      // Publish this split's partial tile, then take a ticket; the last split to arrive reduces.
      if (k_group == 0) {
#pragma unroll
        for (int m = 0; m < kTM; ++m) {
          const int row = m0 + row_group * kTM + m;
          if (row < prob_m) {
            float* const dst = C_tmp + (static_cast<int64_t>(split) * prob_m + row) * prob_n;
#pragma unroll
            for (int j = 0; j < kTN; ++j) dst[cols[j]] = acc[m][j];
          }
        }
      }
      write_c = split_arrival_is_last(locks, tile, splits);
      if (write_c) {
        if (k_group == 0) {
          // Sum in split order (0, 1, ..., S-1): the same bits whichever split arrives last.
          // Split-outer, so each step issues all of this thread's loads at once.
#pragma unroll 1
          for (int sp = 0; sp < splits; ++sp) {
            const float* const part = C_tmp + static_cast<int64_t>(sp) * prob_m * prob_n;
#pragma unroll
            for (int m = 0; m < kTM; ++m) {
              const int row = m0 + row_group * kTM + m;
              if (row < prob_m) {
#pragma unroll
                for (int j = 0; j < kTN; ++j) {
                  const float v = __ldcg(part + static_cast<int64_t>(row) * prob_n + cols[j]);
                  acc[m][j] = sp == 0 ? v : acc[m][j] + v;
                }
              }
            }
          }
        }
      }
    }

    if (k_group == 0 && write_c) {
      unsigned short* const c_out = reinterpret_cast<unsigned short*>(C);
      float bias[kTN];
#pragma unroll
      for (int j = 0; j < kTN; ++j) {
        bias[j] = has_bias ? load_element<c_type_id>(b_bias_ptr, cols[j]) : 0.f;
      }
#pragma unroll
      for (int m = 0; m < kTM; ++m) {
        const int row = m0 + row_group * kTM + m;
        if (row < prob_m) {
          float row_scale = global_scale;
          if constexpr (ATraits::kIs8BitActivation) row_scale *= __ldg(a_scales_ptr + row);
#pragma unroll
          for (int j = 0; j < kTN; ++j) {
            c_out[static_cast<int64_t>(row) * prob_n + cols[j]] =
                float_to_output_bits<c_type_id>(fmaf(acc[m][j], row_scale, bias[j]));
          }
        }
      }
    }

    if constexpr (kSplit > 1) {
      __syncthreads();  // the reduction buffer aliases the ring the next prologue refills
    }
  }
}

}  // namespace detail
}  // namespace marlin
