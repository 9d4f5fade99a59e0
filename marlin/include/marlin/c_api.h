/* rules_marlin C ABI (design.md section 10). Pure C: includable from C and from ctypes
 * generators. All pointers are device pointers unless stated. Every function returning int
 * returns a marlin_status; on failure marlin_last_error() holds a message for this thread.
 * Type fields carry ScalarType ids (marlin/scalar_type.h, identical to upstream's ids). */
#ifndef MARLIN_C_API_H_
#define MARLIN_C_API_H_

#include <stdint.h>

#if defined(_WIN32)
#define MARLIN_API __declspec(dllexport)
#else
#define MARLIN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MARLIN_OK = 0,
  MARLIN_ERR_INVALID_ARGUMENT = 1,
  MARLIN_ERR_NO_KERNEL = 2,
  MARLIN_ERR_CUDA = 3,
  MARLIN_ERR_UNSUPPORTED_DEVICE = 4
} marlin_status;

/* Message of the last failing call on this thread ("" if none); valid until the next failing
 * call on the same thread. Successful calls leave it unchanged. */
MARLIN_API const char* marlin_last_error(void);
MARLIN_API int marlin_abi_version(void); /* 1 */
MARLIN_API int marlin_num_kernels(void); /* compiled instantiations */
/* The 12 template parameters of kernel i in Marlin<...> order: a, b, c, s type ids, threads,
 * thread_m_blocks, thread_n_blocks, thread_k_blocks, m_block_size_8, stages, group_blocks,
 * is_zp_float. out12 is a host pointer. */
MARLIN_API int marlin_kernel_info(int i, int64_t out12[12]);

typedef struct marlin_gemm_args {
  uint32_t struct_size; /* sizeof(marlin_gemm_args) */
  const void* a;
  int64_t lda; /* row stride of a in elements; 0 = size_k */
  int64_t a_type;
  void* c; /* [M, N] contiguous, written */
  int64_t c_type;
  const void* b_q_weight; /* layout v2, int32 [K/16, N*16/pack] */
  int64_t b_type;
  const void* b_scales; /* [num_groups, N] */
  int64_t s_type;
  int64_t num_groups;
  const void* b_zeros;       /* NULL or zero points (int packed or float) */
  const void* b_bias;        /* NULL or [N] c_type */
  const float* a_scales;     /* NULL or [M] float (8-bit activations) */
  const float* global_scale; /* NULL or 1 float (NVFP4) */
  const int32_t* g_idx;      /* both NULL, or both [K] (act-order) */
  const int32_t* perm;
  void* workspace; /* zero-initialised scratch; may be NULL when size_m == 0 */
  int64_t workspace_bytes;
  int64_t size_m, size_n, size_k;
  int32_t is_k_full, use_atomic_add, use_fp32_reduce, is_zp_float;
  void* stream; /* cudaStream_t, NULL = default */
} marlin_gemm_args;

MARLIN_API int marlin_gemm(const marlin_gemm_args* args);

/* For tuning tools (benchmarks/tune_dispatch.py): marlin_gemm with a hand-picked exec config
 * (one M pass of at most 64 rows, or the dispatcher's M loop with this tile for larger M).
 * A config no compiled kernel serves is MARLIN_ERR_NO_KERNEL; splits the workspace or the
 * tile count cannot take are MARLIN_ERR_INVALID_ARGUMENT. */
typedef struct marlin_exec_override {
  uint32_t struct_size;    /* sizeof(marlin_exec_override) */
  int32_t threads;         /* 128 or 256 */
  int32_t thread_k;        /* BK: 64 or 128 */
  int32_t thread_n;        /* BN: 64, 128 or 256 */
  int32_t thread_m_blocks; /* 1..4 (16-row tiles) */
  int32_t m_block_size_8;  /* 1: the 8-row decode tile (M <= 8, 16-bit activations) */
  int32_t splits;          /* split-K factor, >= 1 */
} marlin_exec_override;
MARLIN_API int marlin_gemm_with_config(const marlin_gemm_args* args,
                                       const marlin_exec_override* config);
/* Bytes of workspace marlin_gemm needs (>= needed); -1 (and marlin_last_error) on bad input. */
MARLIN_API int64_t marlin_gemm_workspace_bytes(int64_t size_m, int64_t size_n, int64_t size_k,
                                               int64_t a_type, int32_t has_act_order);

/* Weight preparation: one packer reads codes from a described source layout.
 *   GPTQ qweight = {32, bits, 1, 0, 0}; AWQ qweight = {32, 4, 0, 0, 1};
 *   FP8 [N, K] bytes = {8, 8, 1, 1, 0}; NVFP4/MXFP4 [N, K/2] bytes = {8, 4, 1, 1, 0}. */
typedef struct marlin_code_source {
  uint32_t struct_size;   /* sizeof(marlin_code_source) */
  const void* data;       /* device pointer */
  int32_t word_bits;      /* 32 (int32 words) or 8 (bytes) */
  int32_t code_bits;      /* 4 or 8 */
  int32_t packed_along_k; /* 1: consecutive codes in a word run along K, 0: along N */
  int32_t n_major;        /* 1: storage is [N][K...] (checkpoint [out, in]), 0: [K][N...] */
  int32_t awq_order;      /* 1: AWQ nibble order [0,4,1,5,2,6,3,7] inside each int32 */
} marlin_code_source;

/* out: int32 [K/16, N*16/pack]. With perm (int32 [K]), output row k takes source row perm[k];
 * perm is checked on the host, which synchronises the stream. */
MARLIN_API int marlin_pack_weights(const marlin_code_source* src, const int32_t* perm,
                                   int64_t size_k, int64_t size_n, int32_t* out, void* stream);
/* out: int32 [num_groups, N/pack], packed along N LSB-first. */
MARLIN_API int marlin_pack_zero_points(const marlin_code_source* src, int64_t num_groups,
                                       int64_t size_n, int32_t* out, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MARLIN_C_API_H_ */
