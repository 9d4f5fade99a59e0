// Scalar conversions used by the reference kernel: storage bits -> fp32 for every element type,
// weight code -> fp32 value (design.md section 9), fp32 -> output type.
//
// Everything is plain fp32 arithmetic on purpose: this is the correctness baseline that faster
// (bit-trick, tensor-core) paths are checked against.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "marlin/scalar_type.h"
#include "marlin/type_traits.cuh"

namespace marlin {

// e8m0 (MX scale): 2^(e - 127); 0xFF is the only NaN.
__device__ __forceinline__ float e8m0_to_float(uint32_t e) {
  if (e == 0xFFu) return __uint_as_float(0x7FC00000u);
  if (e == 0u) return __uint_as_float(0x00400000u);  // 2^-127 is a float subnormal
  return __uint_as_float(e << 23);
}

// e4m3fn -> fp32 without cuda_fp8.h: the 7 magnitude bits shifted into an fp16 land on the right
// mantissa and on an exponent 8 too small (bias 15 vs 7), subnormals included; the fp16 -> fp32
// conversion is exact and the product a normal fp32, so -ftz cannot change it. 0x7F is the only
// NaN magnitude. MARLIN_HOST_DEVICE so the GPU check can compare it with cuda_fp8.h on the host.
MARLIN_HOST_DEVICE inline float e4m3_to_float_bits(uint32_t bits) {
  const unsigned short h =
      static_cast<unsigned short>(((bits & 0x80u) << 8) | ((bits & 0x7Fu) << 7));
  const float f = __half2float(__ushort_as_half(h)) * 256.f;
  return (bits & 0x7Fu) == 0x7Fu ? __half2float(__ushort_as_half(0x7E00)) : f;
}

__device__ __forceinline__ float e4m3_to_float(uint32_t bits) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  // Native cvt on sm_89+.
  const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(bits), __NV_E4M3);
  return __half2float(__half(h));
#else
  // cuda_fp8.h's emulation below sm_89 is long and slow to compile; this is 4 instructions.
  return e4m3_to_float_bits(bits);
#endif
}

// e4m3fn -> fp16 bits, exact (every e4m3 value, NaN aside, is an fp16 value): one conversion on
// sm_89+, where the fp32 route costs two more per scale.
__device__ __forceinline__ unsigned short e4m3_to_half_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  return __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(bits), __NV_E4M3).x;
#else
  return __half_as_ushort(__float2half_rn(e4m3_to_float_bits(bits)));
#endif
}

// e2m1: sign in bit 3, magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. The 8 magnitudes, in half units,
// are a 16-entry (with sign) table packed into one 32-bit constant: a register, not memory, so
// lanes with different codes never serialise on a constant-cache or shared-memory lookup.
__device__ __forceinline__ float e2m1_to_float(uint32_t code) {
  const float mag = static_cast<float>((0xC8643210u >> (4u * (code & 7u))) & 0xFu) * 0.5f;
  return (code & 8u) ? -mag : mag;
}

// Element bits (zero-extended, as read from memory) -> fp32, for element-wise types.
template <ScalarTypeId id>
__device__ __forceinline__ float bits_to_float(uint32_t bits) {
  if constexpr (id == kFloat16.id()) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
  } else if constexpr (id == kBFloat16.id()) {
    return __uint_as_float(bits << 16);  // bf16 is the top half of an fp32
  } else if constexpr (id == kS8.id()) {
    return static_cast<float>(static_cast<int8_t>(bits));
  } else if constexpr (id == kFE4M3fn.id()) {
    return e4m3_to_float(bits);
  } else if constexpr (id == kFE8M0fnu.id()) {
    return e8m0_to_float(bits);
  } else {
    static_assert(id == kFloat16.id(), "bits_to_float: not an element-wise type");
    return 0.f;
  }
}

// Reads element `i` of a global array of type id (2- or 1-byte elements) through the read-only
// path and converts it.
template <ScalarTypeId id>
__device__ __forceinline__ float load_element(const void* base, int64_t i) {
  if constexpr (TypeTraits<id>::kBytes == 2) {
    return bits_to_float<id>(__ldg(static_cast<const unsigned short*>(base) + i));
  } else {
    static_assert(TypeTraits<id>::kBytes == 1, "load_element: 8- or 16-bit types only");
    return bits_to_float<id>(__ldg(static_cast<const unsigned char*>(base) + i));
  }
}

// N consecutive activations from shared memory (16-byte aligned for N * bytes == 16) -> fp32.
template <ScalarTypeId id, int N>
__device__ __forceinline__ void load_activations(const uint8_t* p, float (&out)[N]) {
  constexpr int kBytes = TypeTraits<id>::kBytes;
  constexpr int kWords = N * kBytes / 4;
  static_assert(N * kBytes % 4 == 0 && kWords <= 4, "activation vector must be 4..16 bytes");
  uint32_t w[kWords];
  if constexpr (kWords == 4) {
    const uint4 v = *reinterpret_cast<const uint4*>(p);
    w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
  } else if constexpr (kWords == 2) {
    const uint2 v = *reinterpret_cast<const uint2*>(p);
    w[0] = v.x, w[1] = v.y;
  } else {
    w[0] = *reinterpret_cast<const uint32_t*>(p);
  }
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const uint32_t word = w[i * kBytes / 4];
    const uint32_t shift = (i * kBytes % 4) * 8;
    out[i] = bits_to_float<id>((word >> shift) & ((1u << (8 * kBytes)) - 1u));
  }
}

// One weight code (zero-extended) -> its value with the type's fixed offset applied (kU4B8: q - 8,
// kU8B128: q - 128) but no zero point and no scale.
template <ScalarTypeId b_type>
__device__ __forceinline__ float decode_code(uint32_t q) {
  if constexpr (b_type == kU4B8.id()) {
    return static_cast<float>(static_cast<int>(q) - 8);
  } else if constexpr (b_type == kU8B128.id()) {
    return static_cast<float>(static_cast<int>(q) - 128);
  } else if constexpr (b_type == kU4.id() || b_type == kU8.id()) {
    return static_cast<float>(q);
  } else if constexpr (b_type == kS4.id()) {
    return static_cast<float>(static_cast<int>(q << 28) >> 28);
  } else if constexpr (b_type == kS8.id()) {
    return static_cast<float>(static_cast<int8_t>(q));
  } else if constexpr (b_type == kFE4M3fn.id()) {
    return e4m3_to_float(q);
  } else {
    static_assert(b_type == kFE2M1f.id(), "decode_code: not a weight type");
    return e2m1_to_float(q);
  }
}

// fp32 -> output element bits (round to nearest even, once).
template <ScalarTypeId c_type>
__device__ __forceinline__ unsigned short float_to_output_bits(float x) {
  if constexpr (c_type == kFloat16.id()) {
    return __half_as_ushort(__float2half_rn(x));
  } else {
    static_assert(c_type == kBFloat16.id(), "output type must be kFloat16 or kBFloat16");
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
  }
}

}  // namespace marlin
