// Host-only checks of marlin/kernel_config.h and marlin/scalar_type.h (gcc, no GPU):
//   g++ -std=c++17 -Wall -Wextra -I marlin/include -I /usr/local/cuda/include
//     tests/cc/kernel_config_test.cc -o /tmp/kernel_config_test && /tmp/kernel_config_test
#include <cstdio>
#include <string>

#include "marlin/kernel.h"
#include "marlin/kernel_config.h"
#include "marlin/scalar_type.h"

namespace {

using marlin::KernelConfig;

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what);
    ++failures;
  }
}

constexpr KernelConfig kGptq{marlin::kFloat16.id(),
                             marlin::kU4B8.id(),
                             marlin::kFloat16.id(),
                             marlin::kFloat16.id(),
                             256,
                             1,
                             8,
                             8,
                             true,
                             4,
                             -1,
                             false};

// design.md section 8, by hand: a 0, b 4, c 0, s 0, threads 8, m 1, n 8, k 8, m8 1, stages 4,
// group_blocks + 1 = 0, zp_float 0.
static_assert(marlin::pack_kernel_key(kGptq) ==
                  ((4ull << 37) | (8ull << 24) | (1ull << 21) | (8ull << 16) | (8ull << 11) |
                   (1ull << 10) | (4ull << 7)),
              "key packing");
static_assert(marlin::type_index(marlin::kU8.id()) == 10 && marlin::type_index(12345) == 15,
              "type index");

constexpr KernelConfig with_group(KernelConfig c, int g) {
  c.group_blocks = g;
  return c;
}
constexpr KernelConfig kSorted[] = {with_group(kGptq, -1), with_group(kGptq, 0),
                                    with_group(kGptq, 8)};
constexpr KernelConfig kUnsorted[] = {with_group(kGptq, 8), with_group(kGptq, 0)};
static_assert(marlin::is_strictly_sorted(kSorted), "sorted");
static_assert(!marlin::is_strictly_sorted(kUnsorted), "unsorted");
static_assert(marlin::find_kernel_index(kSorted, with_group(kGptq, 8)) == 2, "hit");
static_assert(marlin::find_kernel_index(kSorted, with_group(kGptq, 4)) == -1, "miss");
static_assert(marlin::find_kernel_index(kSorted, 3, with_group(kGptq, 0)) == 1, "pointer hit");
static_assert(marlin::find_kernel_index(kSorted, 1, with_group(kGptq, 8)) == -1, "pointer size");
static_assert(marlin::find_kernel_index(nullptr, 0, kGptq) == -1, "empty table");

}  // namespace

int main() {
  // Every thread config the preset uses, for every a/b type pair, must tile and fit: stage 4 in
  // sm_89/sm_86's 99 KiB opt-in, stage 2 in sm_75's 64 KiB.
  const marlin::ScalarTypeId a_types[] = {marlin::kFloat16.id(), marlin::kBFloat16.id(),
                                          marlin::kS8.id(), marlin::kFE4M3fn.id()};
  const marlin::ScalarTypeId b_types[] = {marlin::kU4.id(), marlin::kU4B8.id(),
                                          marlin::kU8B128.id(), marlin::kFE4M3fn.id(),
                                          marlin::kFE2M1f.id()};
  struct Threads {
    int threads, n_blocks, k_blocks;
    bool small_m;
  };
  const Threads thread_cfgs[] = {{256, 8, 8, true},  {256, 16, 4, false}, {128, 8, 4, true},
                                 {128, 8, 4, false}, {128, 4, 8, true},   {128, 4, 8, false}};
  int checked = 0, wgmma_checked = 0, wide_checked = 0, max_smem = 0;
  for (auto a : a_types) {
    for (auto b : b_types) {
      for (const Threads& t : thread_cfgs) {
        for (int m = 0; m <= 4; ++m) {  // m 0 stands for m_block_size_8
          if ((m <= 1) != t.small_m) continue;
          for (int stages : {2, 4}) {
            KernelConfig c{a,
                           b,
                           marlin::kFloat16.id(),
                           marlin::kFloat16.id(),
                           t.threads,
                           m == 0 ? 1 : m,
                           t.n_blocks,
                           t.k_blocks,
                           m == 0,
                           stages,
                           8,
                           false};
            const int smem = marlin::required_shared_mem(c);
            expect(marlin::is_valid_config(c), "preset config has a valid body layout");
            expect(smem <= (stages == 2 ? 64 * 1024 : 99 * 1024), "preset config fits smem");
            // Both bodies fold their k groups into the tile's sums, row-major in the ring.
            if (marlin::uses_mma_body(c)) {
              expect(marlin::mma_sum_bytes(c) ==
                         (c.m_block_size_8 ? 8 : 16 * m) * (16 * t.n_blocks + 4) * 4,
                     "the tile's sums: bm x (bn + 4) fp32");
              expect(marlin::mma_sum_bytes(c) <= smem, "the tile's sums fit the shared memory");
            }
            const marlin::TileShape s = marlin::tile_shape(c);
            expect(s.col_groups * s.row_groups * s.k_split == t.threads, "all threads used");
            // The sm_90a wgmma variant: exactly the 32-64-row tensor-core tiles of 16-bit
            // activations, whole
            // warpgroups, 1/2/4 units each, an even number of slices per group (two register
            // sets) and 1024-byte A tiles.
            const marlin::WgmmaShape w = marlin::wgmma_shape(c);
            const bool wants_wgmma =
                marlin::uses_mma_body(c) && marlin::is_16bit_activation(a) && m >= 2;
            expect(w.valid == wants_wgmma, "wgmma serves exactly the 32-64-row mma tiles");
            if (w.valid) {
              expect(w.n_groups * w.k_groups * 128 == t.threads, "whole warpgroups");
              expect(w.n_groups * w.units * 64 == 16 * t.n_blocks, "units cover the tile");
              expect(w.units == 1 || w.units == 2 || w.units == 4, "1, 2 or 4 units");
              expect(w.slices_per_group % 2 == 0, "even slices per group");
              expect(marlin::mma_a_bytes(c) % 1024 == 0, "A tiles on 1024 bytes");
              // The wide 128-row tile: exactly the 64-row configs of 4-bit weights and one unit
              // per warpgroup (4-stage rings); the same warp layout; more shared memory than the
              // config's, which is how a launch asks for it; two 128-thread blocks still share a
              // Hopper SM (228 KiB, 1 KiB reserved per block).
              const bool wants_wide =
                  m == 4 && w.units == 1 && stages == 4 && marlin::scalar_type_size_bits(b) == 4;
              expect(marlin::has_wide_tile(c) == wants_wide, "wide tile: 64 rows, one unit");
              if (wants_wide) {
                const KernelConfig wide = marlin::wide_tile_config(c);
                const marlin::WgmmaShape ww = marlin::wgmma_shape(wide);
                expect(ww.valid && ww.units == 1 && ww.n_groups == w.n_groups &&
                           ww.k_groups == w.k_groups,
                       "the wide tile keeps the warp layout");
                const int wide_smem = marlin::required_shared_mem(wide);
                expect(wide_smem > smem, "the wide tile's shared memory selects it");
                expect(marlin::runs_wide_tile(c, 65, wide_smem) &&
                           !marlin::runs_wide_tile(c, 64, wide_smem) &&
                           !marlin::runs_wide_tile(c, 128, smem),
                       "more than 64 rows and the wide tile's shared memory");
                if (t.threads == 128) {
                  expect(2 * (wide_smem + 1024) <= 228 * 1024, "two wide blocks per SM");
                }
                ++wide_checked;
              }
              ++wgmma_checked;
            }
            max_smem = smem > max_smem ? smem : max_smem;
            ++checked;
          }
        }
      }
    }
  }
  KernelConfig bad = kGptq;
  bad.threads = 96;  // not a multiple of the 32 column groups
  expect(marlin::required_shared_mem(bad) == 0x7fffffff, "invalid config never fits");
  expect(std::string(marlin::scalar_type_name(marlin::kFE8M0fnu.id())) == "kFE8M0fnu", "name");
  expect(wgmma_checked > 0, "some preset configs use the wgmma variant");
  expect(wide_checked > 0, "some preset configs have the wide tile");
  std::printf("%d configs checked (%d with a wgmma variant), max smem %d B; %s\n", checked,
              wgmma_checked, max_smem, failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}
