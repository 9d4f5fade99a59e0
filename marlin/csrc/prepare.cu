// Weight preparation kernels: checkpoint codes -> rules_marlin layout v2 (design.md section 9).
// One-off work per model, so clarity over speed: one thread per output word.
#include <cuda_runtime.h>

#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "marlin/csrc/cuda_checks.h"
#include "marlin/layout_v2.h"
#include "marlin/prepare.h"

namespace marlin {
namespace {

// The descriptor plus the logical extent of the source: `rows` plays K (or num_groups).
struct SourceView {
  const void* data;
  int word_bits;
  int code_bits;
  bool packed_along_k;
  bool n_major;
  bool awq_order;
  int64_t rows;
  int64_t cols;
};

// Code (row, col) of the source: locate the word, then the slot inside it (LSB first).
__device__ __forceinline__ uint32_t fetch_code(const SourceView& s, int64_t row, int64_t col) {
  const int codes_per_word = s.word_bits / s.code_bits;
  int64_t word;
  int slot;
  if (!s.n_major) {
    if (s.packed_along_k) {  // [rows/cpw][cols]
      word = (row / codes_per_word) * s.cols + col;
      slot = static_cast<int>(row % codes_per_word);
    } else {  // [rows][cols/cpw]
      word = row * (s.cols / codes_per_word) + col / codes_per_word;
      slot = static_cast<int>(col % codes_per_word);
    }
  } else {
    if (s.packed_along_k) {  // [cols][rows/cpw]
      word = col * (s.rows / codes_per_word) + row / codes_per_word;
      slot = static_cast<int>(row % codes_per_word);
    } else {  // [cols/cpw][rows]
      word = (col / codes_per_word) * s.rows + row;
      slot = static_cast<int>(col % codes_per_word);
    }
  }
  if (s.awq_order) {
    // AWQ stores logical code j of a word in nibble kAwqSlot[j].
    constexpr int kAwqSlot[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    slot = kAwqSlot[slot];
  }
  const uint32_t bits = s.word_bits == 32 ? __ldg(static_cast<const uint32_t*>(s.data) + word)
                                          : __ldg(static_cast<const uint8_t*>(s.data) + word);
  return (bits >> (slot * s.code_bits)) & ((1u << s.code_bits) - 1u);
}

// out word o = unit (k-slab, 64-column block) and word inside it; its codes are the unit
// positions [w * pack, w * pack + pack), LSB first (layout_v2.h).
__global__ void pack_weights_kernel(SourceView src, const int32_t* __restrict__ perm,
                                    uint32_t* __restrict__ out) {
  const int bits = src.code_bits;
  const int pack = 32 / bits;
  const int words = unit_words(bits);
  const int64_t units_per_slab = src.cols / kUnitN;
  const int64_t total = (src.rows / kUnitK) * units_per_slab * words;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t unit = o / words;
    const int w = static_cast<int>(o - unit * words);
    const int64_t slab = unit / units_per_slab;
    const int64_t block = unit - slab * units_per_slab;
    uint32_t word = 0;
    for (int j = 0; j < pack; ++j) {
      const UnitCoord at = unit_coord(w * pack + j, bits);
      const int64_t k = slab * kUnitK + at.k;
      const int64_t source_k = perm != nullptr ? __ldg(perm + k) : k;
      // perm was checked on the host; the guard only keeps a racing overwrite from faulting.
      if (source_k < 0 || source_k >= src.rows) continue;
      word |= fetch_code(src, source_k, block * kUnitN + at.c) << (j * bits);
    }
    out[o] = word;
  }
}

// out[g][j] holds columns j*pack + t (t < pack) of group g at bits t*code_bits.
__global__ void pack_zero_points_kernel(SourceView src, uint32_t* __restrict__ out) {
  const int pack = 32 / src.code_bits;
  const int64_t words_per_row = src.cols / pack;
  const int64_t total = src.rows * words_per_row;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < total;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t group = o / words_per_row;
    const int64_t j = o - group * words_per_row;
    uint32_t word = 0;
    for (int t = 0; t < pack; ++t) {
      word |= fetch_code(src, group, j * pack + t) << (t * src.code_bits);
    }
    out[o] = word;
  }
}

SourceView make_view(const CodeSource& src, int64_t rows, int64_t cols) {
  return SourceView{src.data,    src.word_bits, src.code_bits, src.packed_along_k,
                    src.n_major, src.awq_order, rows,          cols};
}

unsigned grid_for(int64_t total, int threads) {
  const int64_t blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

Status check_pointers(std::initializer_list<std::pair<const void*, const char*>> pointers) {
  int device = 0;
  const cudaError_t error = cudaGetDevice(&device);
  if (error != cudaSuccess) return cuda_error(error, "cudaGetDevice");
  for (const auto& pointer : pointers) {
    Status status = check_device_pointer(pointer.first, pointer.second, device);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Copies perm to the host and checks it is a permutation of 0..size_k-1.
Status check_permutation(const int32_t* perm, int64_t size_k, cudaStream_t stream) {
  std::vector<int32_t> host(static_cast<size_t>(size_k));
  cudaError_t error =
      cudaMemcpyAsync(host.data(), perm, size_k * sizeof(int32_t), cudaMemcpyDeviceToHost, stream);
  if (error != cudaSuccess) return cuda_error(error, "copying perm to the host");
  error = cudaStreamSynchronize(stream);
  if (error != cudaSuccess) return cuda_error(error, "cudaStreamSynchronize (reading perm)");
  std::vector<bool> seen(static_cast<size_t>(size_k), false);
  for (int64_t k = 0; k < size_k; ++k) {
    const int32_t v = host[static_cast<size_t>(k)];
    if (v < 0 || v >= size_k) {
      return InvalidArgument("perm is not a permutation of 0..size_k-1: perm[" + std::to_string(k) +
                             "] = " + std::to_string(v) + " (size_k " + std::to_string(size_k) +
                             ")");
    }
    if (seen[static_cast<size_t>(v)]) {
      return InvalidArgument("perm is not a permutation of 0..size_k-1: " + std::to_string(v) +
                             " appears twice (again at perm[" + std::to_string(k) + "])");
    }
    seen[static_cast<size_t>(v)] = true;
  }
  return Status::Ok();
}

Status pack_weights_impl(const CodeSource& src, const int32_t* perm, int64_t size_k, int64_t size_n,
                         int32_t* out, cudaStream_t stream) {
  Status status = validate_pack_weights(src, perm, size_k, size_n, out);
  if (!status.ok()) return status;
  status = check_pointers({{src.data, "src->data"}, {perm, "perm"}, {out, "out"}});
  if (!status.ok()) return status;
  if (perm != nullptr) {
    status = check_permutation(perm, size_k, stream);
    if (!status.ok()) return status;
  }
  constexpr int kThreads = 256;
  const int64_t total = packed_weight_words(size_k, size_n, src.code_bits);
  pack_weights_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(
      make_view(src, size_k, size_n), perm, reinterpret_cast<uint32_t*>(out));
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return cuda_error(error, "launching pack_weights_kernel");
  return Status::Ok();
}

Status pack_zero_points_impl(const CodeSource& src, int64_t num_groups, int64_t size_n,
                             int32_t* out, cudaStream_t stream) {
  Status status = validate_pack_zero_points(src, num_groups, size_n, out);
  if (!status.ok()) return status;
  status = check_pointers({{src.data, "src->data"}, {out, "out"}});
  if (!status.ok()) return status;
  constexpr int kThreads = 256;
  const int64_t total = num_groups * (size_n * src.code_bits / 32);
  pack_zero_points_kernel<<<grid_for(total, kThreads), kThreads, 0, stream>>>(
      make_view(src, num_groups, size_n), reinterpret_cast<uint32_t*>(out));
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return cuda_error(error, "launching pack_zero_points_kernel");
  return Status::Ok();
}

}  // namespace

Status pack_weights(const CodeSource& src, const int32_t* perm, int64_t size_k, int64_t size_n,
                    int32_t* out, void* stream) {
  try {
    return pack_weights_impl(src, perm, size_k, size_n, out, static_cast<cudaStream_t>(stream));
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::kCuda, "marlin::pack_weights: out of host memory");
  }
}

Status pack_zero_points(const CodeSource& src, int64_t num_groups, int64_t size_n, int32_t* out,
                        void* stream) {
  try {
    return pack_zero_points_impl(src, num_groups, size_n, out, static_cast<cudaStream_t>(stream));
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::kCuda, "marlin::pack_zero_points: out of host memory");
  }
}

}  // namespace marlin
