// Compile-time facts about the ScalarType ids the kernel is instantiated with.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "marlin/scalar_type.h"

namespace marlin {

// Element storage of the types that are read or written element-wise (activations, output,
// scales, float zero points, bias). Packed weight types have no element storage: `type` is void.
template <ScalarTypeId id>
struct StorageOf {
  using type = void;
};
template <>
struct StorageOf<kFloat16.id()> {
  using type = __half;
};
template <>
struct StorageOf<kBFloat16.id()> {
  using type = __nv_bfloat16;
};
template <>
struct StorageOf<kS8.id()> {
  using type = int8_t;
};
template <>
struct StorageOf<kFE4M3fn.id()> {
  using type = __nv_fp8_storage_t;
};
template <>
struct StorageOf<kFE8M0fnu.id()> {
  using type = uint8_t;
};

template <ScalarTypeId id>
struct TypeTraits {
  static constexpr int kBits = scalar_type_size_bits(id);
  static constexpr int kBytes = kBits / 8;  // 0 for sub-byte types
  static constexpr bool kIs16Bit = is_16bit_activation(id);
  static constexpr bool kIs8BitActivation = is_8bit_activation(id);
  static constexpr bool kNeedsZeroPoint = takes_zero_points(id);
  static constexpr bool kIsWeightType = is_weight_type(id);
  // Values per 32-bit word of packed weights (design.md section 9: pack = 32 / bits).
  static constexpr int kPack = kBits > 0 ? 32 / kBits : 0;
};

}  // namespace marlin
