// marlin::ScalarType: a constexpr description of the number formats Marlin kernels handle.
//
// The id packs the fields LSB-first in declaration order (exponent 8 bits, mantissa 8, signed 1,
// bias 32, finite_values_only 1, nan_repr 8) so that it equals upstream's ScalarType::id() bit for
// bit: ids travel across the C ABI and appear as template arguments in generated files.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MARLIN_HOST_DEVICE __host__ __device__
#else
#define MARLIN_HOST_DEVICE
#endif

namespace marlin {

using ScalarTypeId = int64_t;

enum class NanRepr : uint8_t {
  kNone = 0,             // no NaN encoding (e.g. e2m1)
  kIeee754 = 1,          // IEEE: all-ones exponent with a non-zero mantissa
  kExtdRangeMaxMin = 2,  // only the all-ones pattern is NaN (e4m3fn, e8m0fnu)
};

struct ScalarType {
  uint8_t exponent;
  uint8_t mantissa;
  bool is_signed;
  int32_t bias;
  bool finite_values_only;
  NanRepr nan_repr;

  MARLIN_HOST_DEVICE constexpr ScalarType(uint8_t exponent_, uint8_t mantissa_, bool is_signed_,
                                          int32_t bias_, bool finite_values_only_ = false,
                                          NanRepr nan_repr_ = NanRepr::kIeee754)
      : exponent(exponent_),
        mantissa(mantissa_),
        is_signed(is_signed_),
        bias(bias_),
        finite_values_only(finite_values_only_),
        nan_repr(nan_repr_) {}

  MARLIN_HOST_DEVICE static constexpr ScalarType int_(uint8_t bits, int32_t bias_ = 0) {
    return ScalarType(0, static_cast<uint8_t>(bits - 1), true, bias_);
  }
  MARLIN_HOST_DEVICE static constexpr ScalarType uint(uint8_t bits, int32_t bias_ = 0) {
    return ScalarType(0, bits, false, bias_);
  }
  MARLIN_HOST_DEVICE static constexpr ScalarType float_ieee754(uint8_t exponent_,
                                                               uint8_t mantissa_) {
    return ScalarType(exponent_, mantissa_, true, 0);
  }
  MARLIN_HOST_DEVICE static constexpr ScalarType float_(uint8_t exponent_, uint8_t mantissa_,
                                                        bool finite_values_only_,
                                                        NanRepr nan_repr_) {
    return ScalarType(exponent_, mantissa_, true, 0, finite_values_only_, nan_repr_);
  }

  MARLIN_HOST_DEVICE constexpr int64_t id() const {
    return static_cast<int64_t>(exponent) | (static_cast<int64_t>(mantissa) << 8) |
           (static_cast<int64_t>(is_signed) << 16) |
           (static_cast<int64_t>(static_cast<uint32_t>(bias)) << 17) |
           (static_cast<int64_t>(finite_values_only) << 49) |
           (static_cast<int64_t>(nan_repr) << 50);
  }

  MARLIN_HOST_DEVICE constexpr int size_bits() const {
    return exponent + mantissa + (is_signed ? 1 : 0);
  }
  MARLIN_HOST_DEVICE constexpr bool is_integer() const { return exponent == 0; }
  MARLIN_HOST_DEVICE constexpr bool is_floating_point() const { return exponent != 0; }

  MARLIN_HOST_DEVICE friend constexpr bool operator==(const ScalarType& a, const ScalarType& b) {
    return a.id() == b.id();
  }
  MARLIN_HOST_DEVICE friend constexpr bool operator!=(const ScalarType& a, const ScalarType& b) {
    return a.id() != b.id();
  }
};

// Names follow upstream's constants; the comment gives the format.
inline constexpr ScalarType kFloat16 = ScalarType::float_ieee754(5, 10);  // IEEE fp16
inline constexpr ScalarType kBFloat16 = ScalarType::float_ieee754(8, 7);  // bfloat16
inline constexpr ScalarType kU4 = ScalarType::uint(4);                    // uint4, zero points
inline constexpr ScalarType kU4B8 = ScalarType::uint(4, 8);               // uint4 - 8 (GPTQ)
inline constexpr ScalarType kU8 = ScalarType::uint(8);                    // uint8, zero points
inline constexpr ScalarType kU8B128 = ScalarType::uint(8, 128);           // uint8 - 128 (GPTQ)
inline constexpr ScalarType kS4 = ScalarType::int_(4);                    // two's complement
inline constexpr ScalarType kS8 = ScalarType::int_(8);                    // two's complement
// OCP e4m3fn, e2m1 and e8m0 (the MX scale format).
inline constexpr ScalarType kFE4M3fn = ScalarType::float_(4, 3, true, NanRepr::kExtdRangeMaxMin);
inline constexpr ScalarType kFE2M1f = ScalarType::float_(2, 1, true, NanRepr::kNone);
inline constexpr ScalarType kFE8M0fnu = ScalarType(8, 0, false, 0, true, NanRepr::kExtdRangeMaxMin);

// The reference table's decimals are authoritative; a mismatch is a build error, not a bug report.
static_assert(kFloat16.id() == 1125899906910725LL, "kFloat16 id");
static_assert(kBFloat16.id() == 1125899906909960LL, "kBFloat16 id");
static_assert(kU4.id() == 1125899906843648LL, "kU4 id");
static_assert(kU4B8.id() == 1125899907892224LL, "kU4B8 id");
static_assert(kU8B128.id() == 1125899923621888LL, "kU8B128 id");
static_assert(kS8.id() == 1125899906909952LL, "kS8 id");
static_assert(kFE4M3fn.id() == 2814749767172868LL, "kFE4M3fn id");
static_assert(kFE2M1f.id() == 562949953487106LL, "kFE2M1f id");
static_assert(kFE8M0fnu.id() == 2814749767106568LL, "kFE8M0fnu id");
// Not in the table; derived from the same packing (uint(8) and int(4) as upstream builds them).
static_assert(kU8.id() == 0x4000000000800LL, "kU8 id");
static_assert(kS4.id() == 0x4000000010300LL, "kS4 id");

// Width in bits of the stored value of a known id; 0 for an unknown id.
MARLIN_HOST_DEVICE constexpr int scalar_type_size_bits(ScalarTypeId id) {
  return id == kFloat16.id()    ? 16
         : id == kBFloat16.id() ? 16
         : id == kU4.id()       ? 4
         : id == kU4B8.id()     ? 4
         : id == kU8.id()       ? 8
         : id == kU8B128.id()   ? 8
         : id == kS4.id()       ? 4
         : id == kS8.id()       ? 8
         : id == kFE4M3fn.id()  ? 8
         : id == kFE2M1f.id()   ? 4
         : id == kFE8M0fnu.id() ? 8
                                : 0;
}

// Type roles, for the kernel's static checks, the shared-memory layout and the host's argument
// checks alike.
MARLIN_HOST_DEVICE constexpr bool is_16bit_activation(ScalarTypeId t) {
  return t == kFloat16.id() || t == kBFloat16.id();
}
MARLIN_HOST_DEVICE constexpr bool is_8bit_activation(ScalarTypeId t) {
  return t == kS8.id() || t == kFE4M3fn.id();
}
MARLIN_HOST_DEVICE constexpr bool is_weight_type(ScalarTypeId t) {
  return t == kU4B8.id() || t == kU8B128.id() || t == kU4.id() || t == kU8.id() || t == kS4.id() ||
         t == kS8.id() || t == kFE4M3fn.id() || t == kFE2M1f.id();
}
// Integer weight types whose offset comes from runtime zero points rather than a fixed bias.
MARLIN_HOST_DEVICE constexpr bool takes_zero_points(ScalarTypeId b) {
  return b == kU4.id() || b == kU8.id();
}

// Upstream's constant name ("kU4B8"), or "unknown" for an id outside the list above. Host only:
// it exists for error messages.
inline const char* scalar_type_name(ScalarTypeId id) {
  if (id == kFloat16.id()) return "kFloat16";
  if (id == kBFloat16.id()) return "kBFloat16";
  if (id == kU4.id()) return "kU4";
  if (id == kU4B8.id()) return "kU4B8";
  if (id == kU8.id()) return "kU8";
  if (id == kU8B128.id()) return "kU8B128";
  if (id == kS4.id()) return "kS4";
  if (id == kS8.id()) return "kS8";
  if (id == kFE4M3fn.id()) return "kFE4M3fn";
  if (id == kFE2M1f.id()) return "kFE2M1f";
  if (id == kFE8M0fnu.id()) return "kFE8M0fnu";
  return "unknown";
}

}  // namespace marlin
