// The pure argument checks of weight preparation (prepare.h), split from prepare.cu so host-only
// tests can run them.
#include <cstdint>
#include <string>

#include "marlin/prepare.h"

namespace marlin {
namespace {

std::string num(int64_t v) { return std::to_string(v); }

bool misaligned(const void* p, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment != 0;
}

// End address of [p, p + bytes), saturating at the top of the address space.
uintptr_t end_of(uintptr_t p, int64_t bytes) {
  uintptr_t end;
  if (__builtin_add_overflow(p, static_cast<uintptr_t>(bytes), &end)) return UINTPTR_MAX;
  return end;
}

bool ranges_overlap(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
  if (a == nullptr || b == nullptr || a_bytes <= 0 || b_bytes <= 0) return false;
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a);
  const uintptr_t b0 = reinterpret_cast<uintptr_t>(b);
  return a0 < end_of(b0, b_bytes) && b0 < end_of(a0, a_bytes);
}

// rows * cols codes of code_bits bits, in bytes; sizes are already bounded by int32, so the
// product fits int64, but it is checked anyway (-1 on overflow).
int64_t code_bytes(int64_t rows, int64_t cols, int code_bits) {
  int64_t codes;
  if (__builtin_mul_overflow(rows, cols, &codes)) return -1;
  return codes / 8 * code_bits + codes % 8 * code_bits / 8;
}

// Descriptor fields and the source's shape: `rows` plays K (or num_groups), `cols` plays N.
Status validate_source(const CodeSource& src, const char* rows_name, int64_t rows,
                       const char* cols_name, int64_t cols) {
  if (src.data == nullptr) return InvalidArgument("src->data is NULL");
  if (src.word_bits != 32 && src.word_bits != 8) {
    return InvalidArgument("src->word_bits must be 32 (int32 words) or 8 (bytes), got " +
                           num(src.word_bits));
  }
  if (src.code_bits != 4 && src.code_bits != 8) {
    return InvalidArgument("src->code_bits must be 4 or 8, got " + num(src.code_bits));
  }
  if (src.awq_order && (src.word_bits != 32 || src.code_bits != 4)) {
    return InvalidArgument(
        "src->awq_order needs word_bits 32 and code_bits 4 (AWQ int4 qweight/qzeros), got "
        "word_bits " +
        num(src.word_bits) + ", code_bits " + num(src.code_bits));
  }
  if (misaligned(src.data, static_cast<uintptr_t>(src.word_bits / 8))) {
    return InvalidArgument("src->data must be " + num(src.word_bits / 8) +
                           "-byte aligned for word_bits " + num(src.word_bits));
  }
  const int codes_per_word = src.word_bits / src.code_bits;
  const int64_t packed_extent = src.packed_along_k ? rows : cols;
  if (packed_extent % codes_per_word != 0) {
    return InvalidArgument(std::string(src.packed_along_k ? rows_name : cols_name) + " (" +
                           num(packed_extent) + ") must be a multiple of " + num(codes_per_word) +
                           ": the source packs " + num(codes_per_word) + " codes per word along " +
                           (src.packed_along_k ? rows_name : cols_name));
  }
  return Status::Ok();
}

}  // namespace

Status validate_pack_weights(const CodeSource& src, const int32_t* perm, int64_t size_k,
                             int64_t size_n, const int32_t* out) {
  if (size_k <= 0 || size_k % 16 != 0) {
    return InvalidArgument("size_k (" + num(size_k) + ") must be a positive multiple of 16");
  }
  if (size_n <= 0 || size_n % 64 != 0) {
    return InvalidArgument("size_n (" + num(size_n) + ") must be a positive multiple of 64");
  }
  if (size_k > INT32_MAX || size_n > INT32_MAX) {
    return InvalidArgument("size_k and size_n must fit in int32");
  }
  Status status = validate_source(src, "size_k", size_k, "size_n", size_n);
  if (!status.ok()) return status;
  if (out == nullptr) return InvalidArgument("out is NULL");
  if (misaligned(out, 16)) {
    return InvalidArgument("out must be 16-byte aligned (gemm reads it as 16-byte vectors)");
  }
  if (misaligned(perm, 4)) return InvalidArgument("perm must be 4-byte aligned");
  const int64_t out_bytes = code_bytes(size_k, size_n, src.code_bits);  // = packed words * 4
  const int64_t src_bytes = out_bytes;
  if (out_bytes < 0) {
    return InvalidArgument("size_k (" + num(size_k) + ") x size_n (" + num(size_n) +
                           ") codes overflow int64");
  }
  if (ranges_overlap(out, out_bytes, src.data, src_bytes)) {
    return InvalidArgument("out overlaps src->data: the packer cannot work in place");
  }
  if (ranges_overlap(out, out_bytes, perm, size_k * 4)) {
    return InvalidArgument("out overlaps perm");
  }
  return Status::Ok();
}

Status validate_pack_zero_points(const CodeSource& src, int64_t num_groups, int64_t size_n,
                                 const int32_t* out) {
  if (num_groups < 1) {
    return InvalidArgument("num_groups must be >= 1, got " + num(num_groups));
  }
  if (size_n <= 0 || size_n % 64 != 0) {
    return InvalidArgument("size_n (" + num(size_n) + ") must be a positive multiple of 64");
  }
  if (num_groups > INT32_MAX || size_n > INT32_MAX) {
    return InvalidArgument("num_groups and size_n must fit in int32");
  }
  Status status = validate_source(src, "num_groups", num_groups, "size_n", size_n);
  if (!status.ok()) return status;
  if (out == nullptr) return InvalidArgument("out is NULL");
  if (misaligned(out, 16)) {
    return InvalidArgument("out must be 16-byte aligned (gemm reads it as 16-byte vectors)");
  }
  const int64_t out_bytes = code_bytes(num_groups, size_n, src.code_bits);
  if (out_bytes < 0) {
    return InvalidArgument("num_groups (" + num(num_groups) + ") x size_n (" + num(size_n) +
                           ") codes overflow int64");
  }
  if (ranges_overlap(out, out_bytes, src.data, out_bytes)) {
    return InvalidArgument("out overlaps src->data: the packer cannot work in place");
  }
  return Status::Ok();
}

}  // namespace marlin
