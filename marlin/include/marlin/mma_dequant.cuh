// Weight codes -> m16n8k16 B operands in registers, for the tensor-core body (mma_body.cuh); and
// 8-bit activations -> A operands, by the same rules.
//
// A "pair" is one 32-bit B operand register: two 16-bit values of the c type (fp16 or bf16),
// rows (2t, 2t+1) or (2t+8, 2t+9) of one column (layout_v2.h). Codes become exact 16-bit values
// with bit arithmetic only (no conversions, no lookups):
//   - 4-bit integers: the code ORed into the mantissa of a magic number M (1024 in fp16, 128 in
//     bf16, both with an ulp of 1), then M + type bias subtracted: exact;
//   - 8-bit integers: fp16 the same with M = 1024; bf16 through fp32 (M = 2^23), since bf16 has
//     too few mantissa bits for M + 255;
//   - e4m3 / e2m1: sign and magnitude bits moved into place, which yields value * 2^-x exactly
//     (subnormals included); the caller multiplies by FloatFix (2^x), also exact.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "marlin/dequant.cuh"
#include "marlin/scalar_type.h"

namespace marlin {
namespace mma {

template <ScalarTypeId c_type>
struct Vec2Of;
template <>
struct Vec2Of<kFloat16.id()> {
  using T = __half2;
};
template <>
struct Vec2Of<kBFloat16.id()> {
  using T = __nv_bfloat162;
};

template <typename T>
__device__ __forceinline__ T from_bits(uint32_t x) {
  T v;
  memcpy(&v, &x, 4);
  return v;
}
template <typename T>
__device__ __forceinline__ uint32_t to_bits(T v) {
  uint32_t x;
  memcpy(&x, &v, 4);
  return x;
}

// 16-bit pattern of value v (v small, exact) in the c type, duplicated into both halves.
template <ScalarTypeId c_type>
__device__ __forceinline__ uint32_t splat(float v) {
  if constexpr (c_type == kFloat16.id()) {
    return to_bits(__float2half2_rn(v));
  } else {
    return to_bits(__float2bfloat162_rn(v));
  }
}

__device__ __forceinline__ uint32_t splat_bits(uint32_t bits16) { return bits16 | (bits16 << 16); }

// c-type factor that undoes the exponent shift of the float-code tricks below (1 for integers).
template <ScalarTypeId b_type, ScalarTypeId c_type>
struct FloatFix {
  // fp16: e4m3 codes land 2^8 low, e2m1 2^14 low; bf16: 2^120 and 2^126.
  static constexpr bool kNeeded = b_type == kFE4M3fn.id() || b_type == kFE2M1f.id();
  static constexpr uint32_t kBits16 = c_type == kFloat16.id()
                                          ? (b_type == kFE4M3fn.id() ? 0x5C00u : 0x7400u)
                                          : (b_type == kFE4M3fn.id() ? 0x7B80u : 0x7E80u);
  static constexpr float kValue = !kNeeded ? 1.f
                                  : c_type == kFloat16.id()
                                      ? (b_type == kFE4M3fn.id() ? 0x1p8f : 0x1p14f)
                                  : b_type == kFE4M3fn.id() ? 0x1p120f
                                                            : 0x1p126f;
  // Whether a caller that scales fp32 sums anyway may apply kValue there instead of per pair:
  // fp16 holds the shifted codes exactly (the smallest, e2m1's 0.5, is 2^-15) and their products
  // stay far inside fp32's normal range, so the sums scaled by 2^-x round exactly as the fixed
  // ones would. bf16's shift (2^-120) would put products below it.
  static constexpr bool kFoldable = kNeeded && c_type == kFloat16.id();
};

// Whether the fix may scale the fp32 sums even where grouped scales multiply every pair in the c
// type: (code * 2^-x) * s must round to exactly (code * s) * 2^-x. It does for e2m1 codes (at most
// 2 significant bits, the lowest >= 2^-1) times e4m3 scales (at most 4, the lowest >= 2^-9) in
// fp16: the products have at most 6 significant bits and none below 2^-10, so after the 2^-14
// shift none is below 2^-24, fp16's subnormal step, and the largest (6 * 448 * 2^-14) is far from
// its maximum. fp16 scales have 11 significant bits, and their shifted products would round
// differently in fp16's subnormal range.
template <ScalarTypeId b_type, ScalarTypeId c_type, ScalarTypeId s_type>
inline constexpr bool kFixFoldsPastScales =
    (FloatFix<b_type, c_type>::kFoldable) && b_type == kFE2M1f.id() && s_type == kFE4M3fn.id();

// (x & mask) | bits in one LOP3. Written as PTX because C's `&` then `|` of two immediates
// compiles to two LOP3s (the instruction takes one immediate), one more per weight pair.
template <uint32_t kMask, uint32_t kBits>
__device__ __forceinline__ uint32_t and_or(uint32_t x) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  // LUT for (a & b) | c, with a = 0xF0, b = 0xCC, c = 0xAA.
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(r) : "r"(x), "n"(kMask), "n"(kBits));
  return r;
#else
  return (x & kMask) | kBits;
#endif
}

// The bias code_pair4 subtracts from pair p of 4-bit integer codes, as a c-type pair: the magic
// number M plus the type's bias (kU4B8: 8). fp16 subtracts M + bias from even pairs and adds
// -(64 + bias) to odd ones (see code_pair4); bf16 subtracts M + bias from every pair. The int
// zero point z of kU4 codes joins it instead of being subtracted on its own (code_bias4_zp:
// (x - (M + z)) is as exact as (x - M) - z and one instruction per pair fewer).
template <ScalarTypeId b_type, ScalarTypeId c_type, int p>
__device__ __forceinline__ uint32_t code_bias4() {
  constexpr bool kF16 = c_type == kFloat16.id();
  constexpr float bias = b_type == kU4B8.id() || b_type == kS4.id() ? 8.f : 0.f;
  if constexpr (kF16 && b_type != kS4.id()) {
    return splat<c_type>(p % 2 == 0 ? 1024.f + bias : -(64.f + bias));
  } else {
    return splat<c_type>((kF16 ? 1024.f : 128.f) + bias);
  }
}

// code_bias4 of kU4 codes with their int zero point z (0..15) folded in, built from bits: each
// bias sits where the c type's step is 1 (M + z) or, for fp16's odd pairs, 1/16 (-(64 + z)), so
// its pattern is the base's plus z or 16z in both halves: one multiply-add (no carries) instead
// of a conversion chain per pair and group.
template <ScalarTypeId b_type, ScalarTypeId c_type, int p>
__device__ __forceinline__ uint32_t code_bias4_zp(uint32_t z) {
  static_assert(b_type == kU4.id(), "int zero points are kU4 codes");
  if constexpr (c_type == kFloat16.id()) {
    return p % 2 == 0 ? z * 0x00010001u + 0x64006400u   // 1024 + z
                      : z * 0x00100010u + 0xD400D400u;  // -(64 + z)
  } else {
    return z * 0x00010001u + 0x43004300u;  // bf16 128 + z
  }
}

// Pair p (0..3) of a 4-bit word: codes at bits [4p, 4p+4) and [4p+16, 4p+20) -> value pair with
// the bias pair removed (code_bias4: kU4B8 q - 8, kU4 q; code_bias4_zp: kU4 q - z; e2m1 * 2^-x,
// no bias).
template <ScalarTypeId b_type, ScalarTypeId c_type, int p>
__device__ __forceinline__ uint32_t code_pair4(uint32_t word,
                                               uint32_t bias = code_bias4<b_type, c_type, p>()) {
  const uint32_t w = p == 0 ? word : word >> (4 * p);
  using T = typename Vec2Of<c_type>::T;
  if constexpr (b_type == kFE2M1f.id()) {
    // sign bit 3 -> bit 15; magnitude bits 0..2 (e1 e0 m) -> the exponent's low bits and the
    // mantissa's top bit.
    (void)bias;
    constexpr int kShift = c_type == kFloat16.id() ? 9 : 6;
    return ((w & 0x00070007u) << kShift) | ((w & 0x00080008u) << 12);
  } else {
    static_assert(b_type == kU4B8.id() || b_type == kU4.id() || b_type == kS4.id(),
                  "code_pair4: 4-bit integer or e2m1 codes");
    constexpr bool kF16 = c_type == kFloat16.id();
    constexpr uint32_t kMagic = kF16 ? 0x64006400u : 0x43004300u;
    if constexpr (kF16 && b_type != kS4.id()) {
      // fp16 saves shifts: pairs 0/1 and 2/3 share one word, the odd pair masked in place as
      // 1024 + 16q (exact: the ulp there is 1), then q - bias = x / 16 - (64 + bias) in one
      // exact fma.
      const uint32_t base = p >= 2 ? word >> 8 : word;
      if constexpr (p % 2 == 0) {
        const uint32_t x = and_or<0x000F000Fu, kMagic>(base);
        return to_bits(__hsub2(from_bits<T>(x), from_bits<T>(bias)));
      } else {
        const uint32_t x = and_or<0x00F000F0u, kMagic>(base);
        return to_bits(
            __hfma2(from_bits<T>(x), from_bits<T>(splat<c_type>(1.f / 16.f)), from_bits<T>(bias)));
      }
    } else if constexpr (b_type == kS4.id()) {
      // Two's complement nibble: flip the sign bit, then it is an offset-8 code.
      const uint32_t x = and_or<0x000F000Fu, kMagic>(w ^ 0x00080008u);
      return to_bits(__hsub2(from_bits<T>(x), from_bits<T>(bias)));
    } else {
      const uint32_t x = and_or<0x000F000Fu, kMagic>(w);
      return to_bits(__hsub2(from_bits<T>(x), from_bits<T>(bias)));
    }
  }
}

// Pair hi (0: bytes 0,1; 1: bytes 2,3) of an 8-bit word -> value pair, fixed bias removed.
template <ScalarTypeId b_type, ScalarTypeId c_type, int hi>
__device__ __forceinline__ uint32_t code_pair8(uint32_t word) {
  using T = typename Vec2Of<c_type>::T;
  if constexpr (b_type == kFE4M3fn.id()) {
    // Bytes into the high byte of each half, then the 7 magnitude bits moved down past the
    // wider exponent: 1 bit for fp16 (e5 vs e4), 4 for bf16 (e8 vs e4).
    const uint32_t y = __byte_perm(word, 0u, hi == 0 ? 0x1404u : 0x3424u);
    if constexpr (c_type == kFloat16.id()) {
      return (y & 0x80008000u) | ((y >> 1) & 0x3F803F80u);
    } else {
      return (y & 0x80008000u) | ((y >> 4) & 0x07F007F0u);
    }
  } else {
    static_assert(b_type == kU8B128.id() || b_type == kU8.id() || b_type == kS8.id(),
                  "code_pair8: 8-bit integer or e4m3 codes");
    // kS8 is two's complement: flipping bit 7 makes it an offset-128 code.
    const uint32_t w = b_type == kS8.id() ? word ^ 0x80808080u : word;
    constexpr float kBias = b_type == kU8.id() ? 0.f : 128.f;
    if constexpr (c_type == kFloat16.id()) {
      const uint32_t x = __byte_perm(w, 0x64646464u, hi == 0 ? 0x4140u : 0x4342u);
      return to_bits(__hsub2(from_bits<T>(x), from_bits<T>(splat<c_type>(1024.f + kBias))));
    } else {
      const float lo = __uint_as_float(__byte_perm(w, 0x4B000000u, hi == 0 ? 0x7650u : 0x7652u));
      const float up = __uint_as_float(__byte_perm(w, 0x4B000000u, hi == 0 ? 0x7651u : 0x7653u));
      constexpr float kOffset = 8388608.f + kBias;
      return to_bits(__floats2bfloat162_rn(lo - kOffset, up - kOffset));
    }
  }
}

// (v - z) * s per half, the zero point optional (z_bits unused when !kZp).
template <ScalarTypeId c_type, bool kZp>
__device__ __forceinline__ uint32_t apply_zero_scale(uint32_t v, uint32_t z, uint32_t s) {
  using T = typename Vec2Of<c_type>::T;
  T x = from_bits<T>(v);
  if constexpr (kZp) x = __hsub2(x, from_bits<T>(z));
  return to_bits(__hmul2(x, from_bits<T>(s)));
}

// v - z per half (zero points only).
template <ScalarTypeId c_type>
__device__ __forceinline__ uint32_t sub2(uint32_t v, uint32_t z) {
  using T = typename Vec2Of<c_type>::T;
  return to_bits(__hsub2(from_bits<T>(v), from_bits<T>(z)));
}

template <ScalarTypeId c_type>
__device__ __forceinline__ uint32_t mul2(uint32_t x, uint32_t y) {
  using T = typename Vec2Of<c_type>::T;
  return to_bits(__hmul2(from_bits<T>(x), from_bits<T>(y)));
}

// Two 8-bit activations (bytes 0 and 1 of x) -> their c-type pair (the A operand pair of rows
// 2t, 2t+1 or 2t+8, 2t+9), exact: the weight-code rules of code_pair8 (kS8 as an offset-128
// code, e4m3 bits moved into place), then for e4m3 the FloatFix factor unless the caller applies
// it to the fp32 sums (kApplyFix false, FloatFix::kFoldable).
template <ScalarTypeId a_type, ScalarTypeId c_type, bool kApplyFix = true>
__device__ __forceinline__ uint32_t activation_pair8(uint32_t x) {
  static_assert(a_type == kS8.id() || a_type == kFE4M3fn.id(), "8-bit activations: kS8 or e4m3");
  const uint32_t v = code_pair8<a_type, c_type, 0>(x);
  using Fix = FloatFix<a_type, c_type>;
  static_assert(kApplyFix || !Fix::kNeeded || Fix::kFoldable, "this fix must be applied per pair");
  if constexpr (Fix::kNeeded && kApplyFix) return mul2<c_type>(v, splat_bits(Fix::kBits16));
  return v;
}

// Scale bits (as stored, zero-extended) -> c-type 16-bit pattern. Exact for every s type the
// table uses: the c type itself, e4m3 (NVFP4; exact in fp16 and bf16) and e8m0 (MXFP4, bf16).
template <ScalarTypeId s_type, ScalarTypeId c_type>
__device__ __forceinline__ uint32_t scale_bits16(uint32_t raw) {
  if constexpr (s_type == c_type) {
    return raw;
  } else if constexpr (s_type == kFE8M0fnu.id()) {
    static_assert(c_type == kBFloat16.id(), "e8m0 scales need bf16 (fp16 cannot hold 2^+-127)");
    // 2^(e-127): the exponent field itself; e = 0 is the bf16 subnormal 2^-127; 0xFF is NaN.
    return raw == 0xFFu ? 0x7FC0u : raw == 0u ? 0x0040u : raw << 7;
  } else {
    static_assert(s_type == kFE4M3fn.id(), "scales: the c type, e4m3 or e8m0");
    if constexpr (c_type == kFloat16.id()) {
      return e4m3_to_half_bits(raw);
    } else {
      return __bfloat16_as_ushort(__float2bfloat16_rn(e4m3_to_float(raw)));
    }
  }
}

// D += A * B, m16n8k16, fp32 accumulators.
template <ScalarTypeId c_type>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (c_type == kFloat16.id()) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  (void)d, (void)a, (void)b0, (void)b1;
  __trap();  // the mma body is compiled for sm_80+ only (uses_mma_body)
#endif
}

// D = A * B, m16n8k16, fp32: the zero accumulator input becomes RZ in SASS, no moves.
template <ScalarTypeId c_type>
__device__ __forceinline__ void mma_16816_fresh(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                uint32_t b1) {
  d[0] = d[1] = d[2] = d[3] = 0.f;
  mma_16816<c_type>(d, a, b0, b1);
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_addr) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr));
#else
  (void)r, (void)smem_addr;
#endif
}

__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, uint32_t smem_addr) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(smem_addr));
#else
  (void)r0, (void)r1, (void)smem_addr;
#endif
}

}  // namespace mma
}  // namespace marlin
