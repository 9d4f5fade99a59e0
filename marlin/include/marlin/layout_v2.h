// Weight layout v2 (design.md section 9): where each weight code sits in b_q_weight.
//
// B is cut into units of 16 rows (k) x 64 columns (n), 1024 codes each. Units are stored in
// row-major unit order (all units of k-slab 0, then k-slab 1, ...), so row r of the int32
// [K/16, N*16/pack] tensor is k-slab r and a tile's units of one slab are contiguous. Inside a
// unit the 1024 codes are reordered so that lane L of a warp finds, in its 16 (4-bit) or 32
// (8-bit) consecutive bytes, exactly the B fragments of m16n8k16 mma.sync for the unit's eight
// n8 column blocks: lane L = 4g + t holds column 8j + g, rows 2t, 2t+1, 2t+8, 2t+9 of block j.
// Codes are packed LSB first, 32/bits per word:
//   4-bit: lane word w (0..3) covers blocks j = 2w, 2w+1; nibble q = p + 4 * (k % 2) with pair
//          p = 2 * (j % 2) + (k >= 8). So (w >> 4p) & 0x000F000F is one half2 operand: the
//          codes of rows (2t, 2t+1) or (2t+8, 2t+9) in the low bits of each 16-bit half.
//   8-bit: lane word j covers block j; byte q = 2 * (k >= 8) + k % 2.
// Host and device; includable by a host-only C++17 compiler.
#pragma once

#include <cstdint>

#include "marlin/scalar_type.h"

namespace marlin {

inline constexpr int kUnitK = 16;
inline constexpr int kUnitN = 64;
inline constexpr int kUnitCodes = kUnitK * kUnitN;

// 32-bit words of one unit: 128 for 4-bit codes, 256 for 8-bit codes.
MARLIN_HOST_DEVICE constexpr int unit_words(int bits) { return kUnitCodes * bits / 32; }

// Position (0..1023) of code (k, c) of a unit, k < 16, c < 64; word = position / (32 / bits),
// bit offset = (position % (32 / bits)) * bits.
MARLIN_HOST_DEVICE constexpr int unit_position(int k, int c, int bits) {
  const int j = c / 8, g = c % 8, t = (k % 8) / 2, hi = k / 8, par = k % 2;
  const int lane = g * 4 + t;
  if (bits == 4) return (lane * 4 + j / 2) * 8 + 2 * (j % 2) + hi + 4 * par;
  return (lane * 8 + j) * 4 + 2 * hi + par;
}

struct UnitCoord {
  int k;
  int c;
};

// Inverse of unit_position.
MARLIN_HOST_DEVICE constexpr UnitCoord unit_coord(int position, int bits) {
  int lane = 0, j = 0, hi = 0, par = 0;
  if (bits == 4) {
    const int word = position / 8, q = position % 8;
    lane = word / 4;
    const int p = q % 4;
    j = 2 * (word % 4) + p / 2;
    hi = p % 2;
    par = q / 4;
  } else {
    const int word = position / 4, q = position % 4;
    lane = word / 8;
    j = word % 8;
    hi = q / 2;
    par = q % 2;
  }
  const int g = lane / 4, t = lane % 4;
  return UnitCoord{2 * t + par + 8 * hi, 8 * j + g};
}

// Word index in b_q_weight and bit offset of code (k, n) for a [K, N] weight.
struct CodeLocation {
  int64_t word;
  int shift;
};

MARLIN_HOST_DEVICE constexpr CodeLocation code_location(int64_t k, int64_t n, int64_t size_n,
                                                        int bits) {
  const int pack = 32 / bits;
  const int64_t unit = (k / kUnitK) * (size_n / kUnitN) + n / kUnitN;
  const int position =
      unit_position(static_cast<int>(k % kUnitK), static_cast<int>(n % kUnitN), bits);
  return CodeLocation{unit * unit_words(bits) + position / pack, (position % pack) * bits};
}

// The 16 codes (k order) of column c (< 64) of one unit: 4 words, one per lane t of group c % 8.
template <int kBits>
MARLIN_HOST_DEVICE inline void unit_column_codes(const uint32_t* unit, int c,
                                                 uint32_t (&codes)[16]) {
  const int j = c / 8, g = c % 8;
  constexpr uint32_t kMask = (1u << kBits) - 1u;
#pragma unroll
  for (int t = 0; t < 4; ++t) {
    const int lane = g * 4 + t;
    const uint32_t word = kBits == 4 ? unit[lane * 4 + j / 2] : unit[lane * 8 + j];
#pragma unroll
    for (int hi = 0; hi < 2; ++hi) {
#pragma unroll
      for (int par = 0; par < 2; ++par) {
        const int q = kBits == 4 ? 2 * (j % 2) + hi + 4 * par : 2 * hi + par;
        codes[2 * t + par + 8 * hi] = (word >> (q * kBits)) & kMask;
      }
    }
  }
}

}  // namespace marlin
