// The Marlin kernel body (design.md sections 7 and 9, launch contract).
//
// Reference implementation, written for clarity and exactness rather than speed:
//   - persistent blocks walk the BM x BN output tiles with a grid stride (tile index runs over M
//     first, so concurrently running blocks share one N tile's weights in L2);
//   - K is walked in BK steps through a `stages`-deep shared-memory ring holding the raw A tile
//     and the raw packed B tile (cp.async 16-byte copies on sm_80+, plain 16-byte loads below),
//     prefetching stages - 1 steps ahead;
//   - each thread dequantizes the weights of its 4 columns in fp32 (code, zero point, scale) and
//     accumulates rows_per_thread x 4 outputs with fp32 FMAs; thread groups that split a BK step
//     are summed through shared memory once per tile;
//   - split-K (host's choice, launch contract): with C_tmp set and gridDim.x = S * tiles, S >= 2,
//     block b computes split b / tiles of tile b % tiles (a contiguous run of BK steps), writes its
//     fp32 partial to C_tmp[split][row][n] and takes a ticket in locks[tile]; the last of the S
//     blocks to arrive sums the S partials in split order (deterministic), resets the ticket to 0
//     and runs the epilogue. Otherwise (S = 1) nothing touches C_tmp or locks;
//   - epilogue: per-row activation scale, NVFP4 global scale, bias, one rounding to the c type.
// Tile geometry and the shared-memory size come from kernel_config.h, shared with the host.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "marlin/dequant.cuh"
#include "marlin/kernel.h"
#include "marlin/kernel_config.h"
#include "marlin/scalar_type.h"
#include "marlin/type_traits.cuh"

namespace MARLIN_NAMESPACE_NAME {
namespace detail {

// 16-byte global -> shared copy. When `valid` is false nothing is read and the destination is
// zero-filled (rows of A past prob_m), so the arithmetic on them stays finite.
__device__ __forceinline__ void copy16(void* smem_dst, const void* gmem_src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src),
               "r"(src_bytes)
               : "memory");
#else
  *static_cast<int4*>(smem_dst) =
      valid ? __ldg(static_cast<const int4*>(gmem_src)) : make_int4(0, 0, 0, 0);
#endif
}

__device__ __forceinline__ void copy_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Wait until at most `kPending` committed copy groups are still in flight.
template <int kPending>
__device__ __forceinline__ void copy_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

template <int kValue>
struct IntConst {
  static constexpr int value = kValue;
};

}  // namespace detail

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
  using ::marlin::TypeTraits;
  using ATraits = TypeTraits<a_type_id>;
  using BTraits = TypeTraits<b_type_id>;

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
  static_assert(::marlin::is_valid_tile_shape(kCfg), "no thread layout fits this tile");
  constexpr ::marlin::TileShape kTile = ::marlin::tile_shape(kCfg);
  constexpr int kBM = kTile.bm;
  constexpr int kBN = kTile.bn;
  constexpr int kBK = kTile.bk;
  constexpr int kColGroups = kTile.col_groups;
  constexpr int kRowGroups = kTile.row_groups;
  constexpr int kSplit = kTile.k_split;
  constexpr int kTM = kTile.rows_per_thread;
  constexpr int kTN = ::marlin::kColsPerThread;
  constexpr int kSlabsPerSplit = kTile.slabs_per_split;

  constexpr int kABytes = ATraits::kBytes;
  constexpr int kBits = BTraits::kBits;
  constexpr int kPack = BTraits::kPack;  // weights per 32-bit word
  constexpr int kW = 16 / kPack;         // words per column per 16-row slab
  constexpr int kSlabWords = kBN * kW;   // one slab of the B tile, in words
  constexpr int kATileBytes = ::marlin::smem_a_tile_bytes(kCfg);
  constexpr int kStageBytes = ::marlin::smem_stage_bytes(kCfg);
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
    s = ::marlin::load_element<s_type_id>(scales_ptr, gn);
    float z = 0.f;
    if constexpr (is_zp_float) {
      z = ::marlin::load_element<c_type_id>(zp_ptr, gn);
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
        detail::copy16(slot + r * kARowBytes + c * 16, src, valid);
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
        detail::copy16(slot + kATileBytes + (s * kSlabWords + c * 4) * 4, src, true);
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
      detail::copy_commit();
    }

    // The main loop, for kRows <= kTM rows per thread: rows kRows..kTM-1 of this thread are past
    // prob_m (zero-filled A, never written), so their FMAs are skipped at compile time.
    auto main_loop = [&](auto rows_c) {
      constexpr int kRows = decltype(rows_c)::value;
      static_assert(kRows >= 1 && kRows <= kTM, "rows per thread");
#pragma unroll 1
      for (int kt = kt_begin; kt < kt_end; ++kt) {
        detail::copy_wait<stages - 2>();
        // Makes step kt visible to all threads, and ensures nobody still reads the slot refilled
        // next (it held step kt - 1).
        __syncthreads();
        if (kt + stages - 1 < kt_end) load_stage(kt + stages - 1);
        detail::copy_commit();

        const uint8_t* const a_tile = smem + (kt % stages) * kStageBytes;
        const uint32_t* const b_tile = reinterpret_cast<const uint32_t*>(a_tile + kATileBytes);

#pragma unroll 1
        for (int ls = 0; ls < kSlabsPerSplit; ++ls) {
          const int slab = k_group * kSlabsPerSplit + ls;  // 16-row slab within the BK step
          const int k_slab = kt * kBK + slab * 16;         // its first global k

          if constexpr (group_blocks > 0) {
            // A slab never straddles groups: groups are whole multiples of 16 rows.
#pragma unroll
            for (int j = 0; j < kTN; ++j) {
              group_params(k_slab / (16 * group_blocks), cols[j], scale[j], zscale[j]);
            }
          }

          uint32_t words[kTN][kW];
#pragma unroll
          for (int j = 0; j < kTN; ++j) {
            const uint32_t* p = b_tile + slab * kSlabWords + (col_group + kColGroups * j) * kW;
            if constexpr (kW == 4) {
              const uint4 v = *reinterpret_cast<const uint4*>(p);
              words[j][0] = v.x, words[j][1] = v.y, words[j][2] = v.z, words[j][3] = v.w;
            } else {
              static_assert(kW == 2, "4- or 8-bit weights");
              const uint2 v = *reinterpret_cast<const uint2*>(p);
              words[j][0] = v.x, words[j][1] = v.y;
            }
          }

#pragma unroll
          for (int wi = 0; wi < kW; ++wi) {
            const int k_word = slab * 16 + wi * kPack;  // first k of this word, within the tile
            float w[kTN][kPack];
#pragma unroll
            for (int j = 0; j < kTN; ++j)
              ::marlin::decode_weight_word<b_type_id>(words[j][wi], w[j]);

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
              ::marlin::load_activations<a_type_id, kPack>(
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
        main_loop(detail::IntConst<1>{});
      } else if (active_rows <= 2) {
        main_loop(detail::IntConst<2>{});
      } else if (active_rows <= 4) {
        main_loop(detail::IntConst<4>{});
      } else {
        main_loop(detail::IntConst<kTM>{});
      }
    } else {
      main_loop(detail::IntConst<kTM>{});
    }

    // Drain the (empty) trailing groups and let every thread finish reading the ring before it
    // is reused for the reduction or the next tile's prologue.
    detail::copy_wait<0>();
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
      __threadfence();
      __syncthreads();
      bool last = false;
      if (tid == 0) {
        last = atomicAdd(locks + tile, 1) == splits - 1;
        if (last) atomicExch(locks + tile, 0);  // every split has arrived: ready for the next call
      }
      // Barrier and broadcast in one, without static shared memory (the dynamic size may be the
      // whole 48 KiB that needs no opt-in).
      write_c = __syncthreads_or(last) != 0;
      if (write_c) {
        __threadfence();
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
        bias[j] = has_bias ? ::marlin::load_element<c_type_id>(b_bias_ptr, cols[j]) : 0.f;
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
                ::marlin::float_to_output_bits<c_type_id>(fmaf(acc[m][j], row_scale, bias[j]));
          }
        }
      }
    }

    if constexpr (kSplit > 1) {
      __syncthreads();  // the reduction buffer aliases the ring the next prologue refills
    }
  }
}

}  // namespace MARLIN_NAMESPACE_NAME
