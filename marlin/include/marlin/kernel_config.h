// KernelConfig (the 12 template parameters of Marlin<...> as a value), the selector key packing of
// design.md section 8, and the kernel's tile/shared-memory geometry.
//
// Host and device: the generated selector table, the host dispatch and the kernel all derive the
// shared-memory size from the same constexpr functions here, so they cannot disagree. Includable
// by a host-only C++17 compiler.
#pragma once

#include <cstdint>

#include "marlin/scalar_type.h"

namespace marlin {

struct KernelConfig {
  ScalarTypeId a_type;
  ScalarTypeId b_type;
  ScalarTypeId c_type;
  ScalarTypeId s_type;
  int threads;
  int thread_m_blocks;
  int thread_n_blocks;
  int thread_k_blocks;
  bool m_block_size_8;
  int stages;
  int group_blocks;
  bool is_zp_float;
};

MARLIN_HOST_DEVICE constexpr bool operator==(const KernelConfig& x, const KernelConfig& y) {
  return x.a_type == y.a_type && x.b_type == y.b_type && x.c_type == y.c_type &&
         x.s_type == y.s_type && x.threads == y.threads && x.thread_m_blocks == y.thread_m_blocks &&
         x.thread_n_blocks == y.thread_n_blocks && x.thread_k_blocks == y.thread_k_blocks &&
         x.m_block_size_8 == y.m_block_size_8 && x.stages == y.stages &&
         x.group_blocks == y.group_blocks && x.is_zp_float == y.is_zp_float;
}

// Selector type index (design.md section 8); 15 marks a type no table ever contains.
MARLIN_HOST_DEVICE constexpr int type_index(ScalarTypeId id) {
  return id == kFloat16.id()    ? 0
         : id == kBFloat16.id() ? 1
         : id == kS8.id()       ? 2
         : id == kU4.id()       ? 3
         : id == kU4B8.id()     ? 4
         : id == kU8B128.id()   ? 5
         : id == kFE4M3fn.id()  ? 6
         : id == kFE2M1f.id()   ? 7
         : id == kFE8M0fnu.id() ? 8
         : id == kS4.id()       ? 9
         : id == kU8.id()       ? 10
                                : 15;
}

// Field widths 4,4,4,4,5,3,5,5,1,3,6,1 bits. Python (tools/marlin_gen) packs identically; the
// generated table's static_assert(is_strictly_sorted(...)) catches any divergence at build time.
MARLIN_HOST_DEVICE constexpr uint64_t pack_kernel_key(const KernelConfig& c) {
  return static_cast<uint64_t>(type_index(c.a_type)) << 41 |
         static_cast<uint64_t>(type_index(c.b_type)) << 37 |
         static_cast<uint64_t>(type_index(c.c_type)) << 33 |
         static_cast<uint64_t>(type_index(c.s_type)) << 29 |
         static_cast<uint64_t>(c.threads / 32) << 24 |
         static_cast<uint64_t>(c.thread_m_blocks) << 21 |
         static_cast<uint64_t>(c.thread_n_blocks) << 16 |
         static_cast<uint64_t>(c.thread_k_blocks) << 11 |
         static_cast<uint64_t>(c.m_block_size_8 ? 1 : 0) << 10 |
         static_cast<uint64_t>(c.stages) << 7 | static_cast<uint64_t>(c.group_blocks + 1) << 1 |
         static_cast<uint64_t>(c.is_zp_float ? 1 : 0);
}

template <int N>
MARLIN_HOST_DEVICE constexpr bool is_strictly_sorted(const KernelConfig (&table)[N]) {
  for (int i = 1; i < N; ++i) {
    if (!(pack_kernel_key(table[i - 1]) < pack_kernel_key(table[i]))) return false;
  }
  return true;
}

// Binary search over `size` configs sorted by pack_kernel_key; -1 on a miss. The final
// field-by-field comparison guards against keys that alias because a field overflowed its width.
MARLIN_HOST_DEVICE constexpr int find_kernel_index(const KernelConfig* table, int size,
                                                   const KernelConfig& cfg) {
  const uint64_t key = pack_kernel_key(cfg);
  int lo = 0;
  int hi = size - 1;
  while (lo <= hi) {
    const int mid = lo + (hi - lo) / 2;
    const uint64_t k = pack_kernel_key(table[mid]);
    if (k == key) return table[mid] == cfg ? mid : -1;
    if (k < key) {
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return -1;
}

template <int N>
MARLIN_HOST_DEVICE constexpr int find_kernel_index(const KernelConfig (&table)[N],
                                                   const KernelConfig& cfg) {
  return find_kernel_index(table, N, cfg);
}

// How a block of `threads` threads covers one BM x BN output tile (design.md, launch contract).
// Each thread owns kColsPerThread columns, strided by col_groups so that a warp's shared-memory
// reads of B are contiguous, and rows_per_thread consecutive rows; the k_split thread groups left
// over take disjoint 16-row slabs of every BK step and are summed through shared memory at the end.
struct TileShape {
  int bm, bn, bk;
  int col_groups;       // bn / kColsPerThread
  int row_groups;       // 0 when no split fits: the config is invalid
  int k_split;          // thread groups splitting each BK step
  int rows_per_thread;  // bm / row_groups
  int slabs_per_split;  // 16-row slabs per BK step per k group
};

inline constexpr int kColsPerThread = 4;
// Bounds the fp32 accumulators per thread (rows_per_thread * kColsPerThread <= 64).
inline constexpr int kMaxRowsPerThread = 16;

MARLIN_HOST_DEVICE constexpr TileShape tile_shape(const KernelConfig& c) {
  TileShape t{};
  t.bm = c.m_block_size_8 ? 8 : 16 * c.thread_m_blocks;
  t.bn = 16 * c.thread_n_blocks;
  t.bk = 16 * c.thread_k_blocks;
  t.col_groups = t.bn / kColsPerThread;
  t.row_groups = 0;
  if (t.bm <= 0 || t.bn <= 0 || t.bk <= 0 || c.threads <= 0 || c.threads % 32 != 0 ||
      c.threads % t.col_groups != 0) {
    return t;
  }
  const int rest = c.threads / t.col_groups;
  // Fewest row groups (least duplicated dequantization) that keeps the accumulators bounded and
  // leaves at most one k group per slab.
  for (int rg = 1; rg <= rest; rg *= 2) {
    if (rest % rg != 0 || t.bm % rg != 0 || t.bm / rg > kMaxRowsPerThread) continue;
    const int ks = rest / rg;
    if (c.thread_k_blocks % ks != 0) continue;
    t.row_groups = rg;
    t.k_split = ks;
    t.rows_per_thread = t.bm / rg;
    t.slabs_per_split = c.thread_k_blocks / ks;
    return t;
  }
  return t;
}

// Which kernel body a config compiles to. The sm80 family (stages > 2; the sm75 family is the
// 2-stage one, schemes.STAGES_SM75, and has no m16n8k16) runs the tensor-core body, 8-bit
// activations widened exactly to the c type in registers; sm_75 runs the fp32 reference body, as
// would an 8-row tile of 8-bit activations (no scheme instantiates one: schemes.M_BLOCKS_8BIT).
MARLIN_HOST_DEVICE constexpr bool uses_mma_body(const KernelConfig& c) {
  return c.stages > 2 && (is_16bit_activation(c.a_type) || !c.m_block_size_8);
}

// How the tensor-core body covers one BM x BN x BK step: each warp owns 64 columns (one layout-v2
// unit wide, eight m16n8k16 column blocks) and all BM rows; the warps left over split each BK step
// into runs of 16-row slices and are summed through shared memory once per tile.
struct MmaShape {
  int bm, bn, bk;
  int m_tiles;          // 16-row mma tiles (1 for the 8-row decode tile)
  int n_warps;          // bn / 64
  int k_warps;          // warps / n_warps
  int slices_per_warp;  // (bk / 16) / k_warps
  bool valid;
};

inline constexpr int kMmaWarpN = 64;
// thread_m_blocks of the wide wgmma tile (wide_tile_config): never a template value.
inline constexpr int kWideTileBlocks = 8;

MARLIN_HOST_DEVICE constexpr MmaShape mma_shape(const KernelConfig& c) {
  MmaShape s{};
  s.bm = c.m_block_size_8 ? 8 : 16 * c.thread_m_blocks;
  s.bn = 16 * c.thread_n_blocks;
  s.bk = 16 * c.thread_k_blocks;
  s.m_tiles = c.m_block_size_8 ? 1 : c.thread_m_blocks;
  const int warps = c.threads / 32;
  // bk: whole 64-wide k halves, the A tile's swizzle unit (mma_a_offset).
  s.valid = c.threads > 0 && c.threads % 32 == 0 && s.bn % kMmaWarpN == 0 && s.bk % 64 == 0 &&
            s.m_tiles >= 1 && (s.m_tiles <= 4 || s.m_tiles == kWideTileBlocks) &&
            (c.m_block_size_8 ? c.thread_m_blocks == 1 : true);
  if (!s.valid) return s;
  s.n_warps = s.bn / kMmaWarpN;
  s.valid = warps % s.n_warps == 0;
  if (!s.valid) return s;
  s.k_warps = warps / s.n_warps;
  s.valid = (s.bk / 16) % s.k_warps == 0;
  if (s.valid) s.slices_per_warp = (s.bk / 16) / s.k_warps;
  return s;
}

// The Hopper variant of the tensor-core body (sm_90a, design.md section 11): a tile of 32-64
// rows multiplies through wgmma. Warpgroups (128 threads) split the tile's 64-column units
// evenly, each taking `units` of them (one m64 wgmma per unit and 16-row slice, the tile's rows
// as its N); the warpgroups left over split each BK step into runs of slices, like k_warps.
struct WgmmaShape {
  int n_groups;          // warpgroups across the columns
  int k_groups;          // warpgroups across each BK step
  int units;             // 64-column units per warpgroup (1, 2 or 4)
  int slices_per_group;  // 16-row slices of a BK step per warpgroup
  bool valid;
};

MARLIN_HOST_DEVICE constexpr WgmmaShape wgmma_shape(const KernelConfig& c) {
  WgmmaShape w{};
  const MmaShape s = mma_shape(c);
  // Tiles of 8 or 16 rows stay on mma.sync: wgmma with N = 8 or 16 was measured no faster there
  // and up to 1.11x slower at M = 16 (docs/benchmarks.md run 8). 8-bit activations too: the
  // shared-memory operand of a 16-bit wgmma must already hold 16-bit values.
  if (!uses_mma_body(c) || !is_16bit_activation(c.a_type) || !s.valid || c.m_block_size_8 ||
      c.thread_m_blocks < 2 || c.threads % 128 != 0) {
    return w;
  }
  const int groups = c.threads / 128;
  const int units = s.bn / kMmaWarpN;
  w.n_groups = groups < units ? groups : units;
  if (units % w.n_groups != 0 || groups % w.n_groups != 0) return w;
  w.units = units / w.n_groups;
  w.k_groups = groups / w.n_groups;
  if (4 % w.units != 0 || (s.bk / 16) % w.k_groups != 0) return w;
  w.slices_per_group = (s.bk / 16) / w.k_groups;
  // Batches of slices alternate two register sets: a step must hold an even number of them.
  w.valid = w.slices_per_group % 2 == 0;
  return w;
}

// The wide wgmma tile (sm_90a, design.md section 11): a launch of more than 64 rows on a 64-row
// wgmma config of 4-bit weights whose warpgroups own one 64-column unit each runs 128-row tiles
// instead, so that each weight is dequantized once per 128 rows rather than twice (one m64n128
// wgmma per unit and slice). Its ring has one stage fewer than the config's: the A tiles double,
// and two 128-thread blocks still share an SM. 8-bit weights keep the 64-row tile: the wide
// tile was measured for 4-bit weights, and for 8-bit ones it measured no better (0.93-1.14x the
// 64-row tile at M = 256 where the table picks it, docs/benchmarks.md run 14). The host
// chooses it by launching with at least its shared memory (runs_wide_tile); the kernel computes
// its tiles itself, so a build without wgmma that gets such a launch runs the config's own
// tiles, only slower.
MARLIN_HOST_DEVICE constexpr bool has_wide_tile(const KernelConfig& c) {
  const WgmmaShape w = wgmma_shape(c);
  return w.valid && w.units == 1 && c.thread_m_blocks == 4 && c.stages >= 4 &&
         scalar_type_size_bits(c.b_type) == 4;
}
MARLIN_HOST_DEVICE constexpr KernelConfig wide_tile_config(const KernelConfig& c) {
  KernelConfig w = c;
  w.thread_m_blocks = kWideTileBlocks;
  w.stages = c.stages - 1;
  return w;
}

// Rows of grouped scales (and zero points) one BK step touches: BK / group rows, or 1 when a
// group spans whole BK steps. 0 when the step does not stage them (channelwise, act-order).
MARLIN_HOST_DEVICE constexpr int staged_group_rows(const KernelConfig& c) {
  if (c.group_blocks <= 0) return 0;
  const int group_rows = 16 * c.group_blocks;
  const int bk = 16 * c.thread_k_blocks;
  return bk > group_rows ? bk / group_rows : 1;
}

MARLIN_HOST_DEVICE constexpr int scalar_bytes(ScalarTypeId id) {
  return scalar_type_size_bits(id) / 8;
}

// Tensor-core body, per ring slot: [A: bm x bk activations as 128-byte k runs (64 16-bit or 128
// 8-bit activations) of bm rows x 128 bytes, 16-byte chunks XOR-swizzled by row (mma_a_offset: the
// 128-byte swizzle wgmma reads) | B: bk/16 x bn/64 layout-v2 units | scales: staged_group_rows x bn
// (s type) | zero points: staged_group_rows x bn (int codes packed as in memory, or float in the c
// type)]. The wgmma variant keeps the `stages` A tiles together at the front instead (each
// 1024-byte aligned), then the slots' rest: the same bytes. Then, aliased onto the ring after the
// last step, the tile's sums (mma_sum_bytes). One A row: bk activations, padded to whole 128-byte
// swizzle rows (mma_a_offset XORs a row's chunk index with r % 8, so even 4 chunks of 8-bit
// activations at bk = 64 span 128 bytes).
MARLIN_HOST_DEVICE constexpr int mma_a_row_bytes(const KernelConfig& c) {
  const int bytes = mma_shape(c).bk * scalar_type_size_bits(c.a_type) / 8;
  return (bytes + 127) / 128 * 128;
}
MARLIN_HOST_DEVICE constexpr int mma_a_bytes(const KernelConfig& c) {
  return mma_shape(c).bm * mma_a_row_bytes(c);
}
MARLIN_HOST_DEVICE constexpr int mma_b_bytes(const KernelConfig& c) {
  return mma_shape(c).bk * mma_shape(c).bn * scalar_type_size_bits(c.b_type) / 8;
}
MARLIN_HOST_DEVICE constexpr int mma_s_bytes(const KernelConfig& c) {
  return staged_group_rows(c) * mma_shape(c).bn * scalar_bytes(c.s_type);
}
MARLIN_HOST_DEVICE constexpr int mma_z_bytes(const KernelConfig& c) {
  if (!takes_zero_points(c.b_type)) return 0;
  const int per_column_bits = c.is_zp_float ? 16 : scalar_type_size_bits(c.b_type);
  return staged_group_rows(c) * mma_shape(c).bn * per_column_bits / 8;
}
// Byte offset of 16-byte chunk ch (bytes 16ch..16ch+15 of the row's activations) of row r in an
// A tile of bm rows.
MARLIN_HOST_DEVICE constexpr int mma_a_offset(int bm, int r, int ch) {
  return (ch / 8) * bm * 128 + r * 128 + ((ch % 8) ^ (r % 8)) * 16;
}
MARLIN_HOST_DEVICE constexpr int mma_stage_bytes(const KernelConfig& c) {
  // Each part is a multiple of 16 bytes: bn is a multiple of 64, bk of 16.
  return mma_a_bytes(c) + mma_b_bytes(c) + mma_s_bytes(c) + mma_z_bytes(c);
}
// The tile's fp32 sums after the main loop (the k groups fold into them; the epilogue reads
// them), row-major, rows padded by 4 floats so that the accumulators' scatter is conflict-free.
MARLIN_HOST_DEVICE constexpr int mma_sum_stride(const KernelConfig& c) {
  return mma_shape(c).bn + 4;
}
MARLIN_HOST_DEVICE constexpr int mma_sum_bytes(const KernelConfig& c) {
  return mma_shape(c).bm * mma_sum_stride(c) * 4;
}

// Reference body, shared-memory layout (bytes), used verbatim by the kernel:
//   ring:   `stages` slots, each [A tile | B tile]: A is bm x bk activations, row-major; B is
//           bk/16 slabs of bn*16/pack packed words, in the global layout's order.
//   reduce: bm x bn fp32 partial sums (only when k_split > 1), aliased onto the ring after the
//           last K step.
MARLIN_HOST_DEVICE constexpr int smem_a_tile_bytes(const KernelConfig& c) {
  return tile_shape(c).bm * tile_shape(c).bk * (scalar_type_size_bits(c.a_type) / 8);
}
MARLIN_HOST_DEVICE constexpr int smem_b_tile_bytes(const KernelConfig& c) {
  return tile_shape(c).bk * tile_shape(c).bn * scalar_type_size_bits(c.b_type) / 8;
}
MARLIN_HOST_DEVICE constexpr int smem_stage_bytes(const KernelConfig& c) {
  return smem_a_tile_bytes(c) + smem_b_tile_bytes(c);
}
MARLIN_HOST_DEVICE constexpr int smem_reduce_bytes(const KernelConfig& c) {
  return tile_shape(c).k_split > 1 ? tile_shape(c).bm * tile_shape(c).bn * 4 : 0;
}

MARLIN_HOST_DEVICE constexpr bool is_valid_config(const KernelConfig& c) {
  const bool types =
      scalar_type_size_bits(c.a_type) >= 8 &&
      (scalar_type_size_bits(c.b_type) == 4 || scalar_type_size_bits(c.b_type) == 8) &&
      c.stages >= 2;
  return types && (uses_mma_body(c) ? mma_shape(c).valid : tile_shape(c).row_groups > 0);
}

// Dynamic shared memory the kernel needs; INT32_MAX (never fits a device) for an invalid config.
MARLIN_HOST_DEVICE constexpr int required_shared_mem(const KernelConfig& c) {
  if (!is_valid_config(c)) return 0x7fffffff;
  const int ring = c.stages * (uses_mma_body(c) ? mma_stage_bytes(c) : smem_stage_bytes(c));
  const int reduce = uses_mma_body(c) ? mma_sum_bytes(c) : smem_reduce_bytes(c);
  return ring > reduce ? ring : reduce;
}

// Whether a launch of config c over prob_m rows with max_shared_mem bytes runs the wide tile.
MARLIN_HOST_DEVICE constexpr bool runs_wide_tile(const KernelConfig& c, int prob_m,
                                                 int max_shared_mem) {
  return has_wide_tile(c) && prob_m > 16 * c.thread_m_blocks &&
         max_shared_mem >= required_shared_mem(wide_tile_config(c));
}

}  // namespace marlin
