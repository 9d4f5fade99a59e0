// Weight preparation: repack checkpoint codes into rules_marlin layout v1 (design.md sections
// 9-10).
//
// One packer reads 4- or 8-bit codes from a described source layout, so GPTQ, AWQ, FP8 and
// NVFP4/MXFP4 checkpoints share one code path:
//   GPTQ qweight int32 [K/pack, N]       {word_bits 32, code_bits 4|8, packed_along_k 1, n_major 0}
//   AWQ qweight int32 [K, N/8]           {32, 4, packed_along_k 0, n_major 0, awq_order 1}
//   FP8 weight bytes [N, K]              {8, 8, 1, 1, 0}
//   NVFP4/MXFP4 weight bytes [N, K/2]    {8, 4, 1, 1, 0}
// Zero points use the same description with num_groups in the role of K (AWQ qzeros
// [num_groups, N/8] = {32, 4, 0, 0, 1}). This header needs no CUDA headers.
#pragma once

#include <cstdint>

#include "marlin/status.h"

namespace marlin {

struct CodeSource {
  const void* data = nullptr;  // device pointer
  int word_bits = 32;          // 32: int32 words, 8: bytes
  int code_bits = 4;           // 4 or 8
  bool packed_along_k = true;  // consecutive codes of a word run along K (else along N)
  bool n_major = false;        // storage is [N][K...] (checkpoint [out, in]); else [K][N...]
  bool awq_order = false;  // AWQ nibble order: logical code j sits in nibble [0,4,1,5,2,6,3,7][j]
};

// int32 words of the packed weights: [K/16, N*16/pack] with pack = 32/code_bits.
inline int64_t packed_weight_words(int64_t size_k, int64_t size_n, int code_bits) {
  return (size_k / 16) * (size_n * code_bits / 2);
}

// Checks that need no GPU (descriptor fields, sizes, alignment, overlap).
Status validate_pack_weights(const CodeSource& src, const int32_t* perm, int64_t size_k,
                             int64_t size_n, const int32_t* out);
Status validate_pack_zero_points(const CodeSource& src, int64_t num_groups, int64_t size_n,
                                 const int32_t* out);

// Writes out = int32 [K/16, N*16/pack] (layout v1). With perm (int32 [K], device), output row k
// takes source row perm[k] (act-order); perm is copied to the host and checked to be a
// permutation of 0..K-1, which synchronises `stream` (preparation runs once per model).
Status pack_weights(const CodeSource& src, const int32_t* perm, int64_t size_k, int64_t size_n,
                    int32_t* out, void* stream);

// Writes out = int32 [num_groups, N/pack], packed along N LSB-first (word j holds columns
// j*pack .. j*pack+pack-1).
Status pack_zero_points(const CodeSource& src, int64_t num_groups, int64_t size_n, int32_t* out,
                        void* stream);

}  // namespace marlin
