// GPU correctness check of the Marlin kernel template, no torch: for each config it builds random
// quantized weights in rules_marlin layout v2 (design.md section 9) on the host, computes a float64
// reference, poisons C (and guard rows around it), launches the kernel and compares.
//
// Build and run (from the repository root; sm_90a SASS, the wgmma variant, + compute_89 PTX):
//   nvcc -std=c++17 -O3 -I marlin/include -gencode arch=compute_90a,code=sm_90a -gencode
//   arch=compute_89,code=compute_89 -static-global-template-stub=false -o /tmp/kernel_gpu_check
//   tests/cc/kernel_gpu_check.cu && /tmp/kernel_gpu_check && CUDA_FORCE_PTX_JIT=1
//   /tmp/kernel_gpu_check
// The second run forces the compute_89 PTX through the JIT (the path an sm_89-only build takes on
// an H100). Exit status 0 iff every case passes.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "marlin/kernel.h"
#include "marlin/kernel_config.h"
#include "marlin/layout_v2.h"
#include "marlin/marlin_template.cuh"
#include "marlin/scalar_type.h"

namespace {

using marlin::KernelConfig;
using marlin::ScalarTypeId;

#define CUDA_CHECK(expr)                                                 \
  do {                                                                   \
    cudaError_t err_ = (expr);                                           \
    if (err_ != cudaSuccess) {                                           \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, \
                   cudaGetErrorString(err_));                            \
      std::exit(2);                                                      \
    }                                                                    \
  } while (0)

struct Case {
  const char* name;
  KernelConfig cfg;
  marlin::MarlinKernelFn fn;
  int k, n;
  bool bias;
  int lda_pad;  // lda = K + lda_pad (elements)
};

// Marlin<...> instantiation and its KernelConfig from one argument list.
#define CASE(NAME, A, B, C, S, T, TM, TN, TK, M8, ST, GB, ZPF, K, N, BIAS, PAD)                    \
  Case {                                                                                           \
    NAME, KernelConfig{marlin::A.id(),                                                             \
                       marlin::B.id(),                                                             \
                       marlin::C.id(),                                                             \
                       marlin::S.id(),                                                             \
                       T,                                                                          \
                       TM,                                                                         \
                       TN,                                                                         \
                       TK,                                                                         \
                       M8,                                                                         \
                       ST,                                                                         \
                       GB,                                                                         \
                       ZPF},                                                                       \
        &marlin::Marlin<marlin::A.id(), marlin::B.id(), marlin::C.id(), marlin::S.id(), T, TM, TN, \
                        TK, M8, ST, GB, ZPF>,                                                      \
        K, N, BIAS, PAD                                                                            \
  }

// clang-format off
const Case kCases[] = {
  CASE("gptq_int4 f16 ch m8",        kFloat16,  kU4B8,    kFloat16,  kFloat16,  256, 1, 8, 8, true,  4, -1, false, 1024, 512, false, 0),
  CASE("gptq_int4 f16 g128",         kFloat16,  kU4B8,    kFloat16,  kFloat16,  128, 1, 8, 4, false, 4,  8, false, 1024, 512, true,  64),
  CASE("gptq_int4 bf16 g64",         kBFloat16, kU4B8,    kBFloat16, kBFloat16, 256, 2, 16, 4, false, 4, 4, false, 640,  768, false, 64),
  CASE("gptq_int4 f16 act-order",    kFloat16,  kU4B8,    kFloat16,  kFloat16,  128, 4, 4, 8, false, 4,  0, false, 1024, 512, true,  0),
  CASE("gptq_int4 bf16 act-order",   kBFloat16, kU4B8,    kBFloat16, kBFloat16, 256, 1, 8, 8, true,  4,  0, false, 1024, 512, false, 64),
  CASE("gptq_int4 bf16 g32",         kBFloat16, kU4B8,    kBFloat16, kBFloat16, 128, 3, 8, 4, false, 4,  2, false, 1024, 512, true,  0),
  CASE("gptq_int8 f16 ch",           kFloat16,  kU8B128,  kFloat16,  kFloat16,  128, 2, 8, 4, false, 4, -1, false, 1024, 512, false, 64),
  CASE("gptq_int8 bf16 act-order",   kBFloat16, kU8B128,  kBFloat16, kBFloat16, 256, 1, 8, 8, true,  4,  0, false, 1024, 512, true,  0),
  CASE("gptq_int8 f16 g128",         kFloat16,  kU8B128,  kFloat16,  kFloat16,  256, 4, 16, 4, false, 4, 8, false, 1024, 512, true,  64),
  CASE("gptq_int8 f16 g32",          kFloat16,  kU8B128,  kFloat16,  kFloat16,  128, 1, 4, 8, false, 4,  2, false, 640,  768, false, 0),
  CASE("awq_int4 f16 g128 m8",       kFloat16,  kU4,      kFloat16,  kFloat16,  256, 1, 8, 8, true,  4,  8, false, 1024, 512, true,  0),
  CASE("awq_int4 bf16 g32",          kBFloat16, kU4,      kBFloat16, kBFloat16, 128, 2, 4, 8, false, 4,  2, false, 1024, 512, false, 64),
  CASE("awq_int4 f16 ch",            kFloat16,  kU4,      kFloat16,  kFloat16,  256, 3, 16, 4, false, 4, -1, false, 640, 768, true,  0),
  CASE("hqq_int4 f16 g64 zpf m8",    kFloat16,  kU4,      kFloat16,  kFloat16,  128, 1, 8, 4, true,  4,  4, true,  1024, 512, false, 0),
  CASE("hqq_int4 f16 g64 zpf",       kFloat16,  kU4,      kFloat16,  kFloat16,  256, 4, 16, 4, false, 4, 4, true,  1024, 512, true,  64),
  CASE("fp8 f16 ch",                 kFloat16,  kFE4M3fn, kFloat16,  kFloat16,  256, 1, 8, 8, false, 4, -1, false, 1024, 512, true,  0),
  CASE("fp8 bf16 g128",              kBFloat16, kFE4M3fn, kBFloat16, kBFloat16, 128, 4, 8, 4, false, 4,  8, false, 1024, 512, false, 64),
  CASE("nvfp4 f16 m8",               kFloat16,  kFE2M1f,  kFloat16,  kFE4M3fn,  256, 1, 8, 8, true,  4,  1, false, 1024, 512, true,  0),
  CASE("nvfp4 bf16",                 kBFloat16, kFE2M1f,  kBFloat16, kFE4M3fn,  128, 2, 4, 8, false, 4,  1, false, 640,  768, false, 64),
  CASE("mxfp4 bf16",                 kBFloat16, kFE2M1f,  kBFloat16, kFE8M0fnu, 256, 2, 16, 4, false, 4, 2, false, 1024, 512, true,  0),
  CASE("mxfp4 bf16 m8",              kBFloat16, kFE2M1f,  kBFloat16, kFE8M0fnu, 128, 1, 8, 4, true,  4,  2, false, 1024, 512, false, 64),
  CASE("awq_int4_a_int8 f16 g128",   kS8,       kU4,      kFloat16,  kFloat16,  128, 1, 8, 4, false, 4,  8, false, 1024, 512, true,  64),
  CASE("awq_int4_a_int8 bf16 ch",    kS8,       kU4,      kBFloat16, kBFloat16, 256, 4, 16, 4, false, 4, -1, false, 1024, 512, false, 0),
  CASE("gptq_int4_a_int8 f16 g32",   kS8,       kU4B8,    kFloat16,  kFloat16,  128, 2, 4, 8, false, 4,  2, false, 1024, 512, false, 64),
  CASE("gptq_int4_a_int8 bf16 g128", kS8,       kU4B8,    kBFloat16, kBFloat16, 256, 1, 8, 8, false, 4,  8, false, 1024, 512, true,  0),
  CASE("gptq_int4_a_fp8 f16 g64",    kFE4M3fn,  kU4B8,    kFloat16,  kFloat16,  256, 1, 8, 8, false, 4,  4, false, 1024, 512, true,  64),
  CASE("gptq_int4_a_fp8 bf16 ch",    kFE4M3fn,  kU4B8,    kBFloat16, kBFloat16, 128, 3, 8, 4, false, 4, -1, false, 640,  768, false, 0),
  CASE("awq_int4_a_fp8 f16 g128",    kFE4M3fn,  kU4,      kFloat16,  kFloat16,  128, 4, 4, 8, false, 4,  8, false, 1024, 512, false, 64),
  CASE("awq_int4_a_fp8 bf16 g32",    kFE4M3fn,  kU4,      kBFloat16, kBFloat16, 256, 2, 16, 4, false, 4, 2, false, 1024, 512, true,  0),
  CASE("mxfp4_a_fp8 bf16",           kFE4M3fn,  kFE2M1f,  kBFloat16, kFE8M0fnu, 128, 1, 8, 4, false, 4,  2, false, 1024, 512, true,  64),
  CASE("mxfp4_a_fp8 bf16 m4",        kFE4M3fn,  kFE2M1f,  kBFloat16, kFE8M0fnu, 256, 4, 16, 4, false, 4, 2, false, 1024, 512, false, 0),
  CASE("sm75 gptq_int4 f16 g128 st2", kFloat16, kU4B8,    kFloat16,  kFloat16,  256, 4, 16, 4, false, 2, 8, false, 1024, 512, true,  0),
  CASE("sm75 gptq_int8 f16 act st2", kFloat16,  kU8B128,  kFloat16,  kFloat16,  128, 4, 4, 8, false, 2,  0, false, 1024, 512, false, 64),
  CASE("sm75 awq_a_int8 f16 st2",    kS8,       kU4,      kFloat16,  kFloat16,  128, 3, 8, 4, false, 2,  8, false, 1024, 512, true,  64),
  CASE("sm75 nvfp4 f16 m8 st2",      kFloat16,  kFE2M1f,  kFloat16,  kFE4M3fn,  128, 1, 8, 4, true,  2,  1, false, 640,  768, false, 0),
};
// clang-format on

const int kMs[] = {1, 7, 16, 26, 64, 257};
constexpr int kMaxM = 257;

// ---- host encoders/decoders; decoding goes through CUDA's host conversions, not the kernel's ----
uint16_t f16_bits(float x) {
  __half h = __float2half_rn(x);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
double f16_value(uint16_t b) {
  __half h;
  std::memcpy(&h, &b, 2);
  return __half2float(h);
}
uint16_t bf16_bits(float x) {
  __nv_bfloat16 h = __float2bfloat16_rn(x);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
double bf16_value(uint16_t b) {
  __nv_bfloat16 h;
  std::memcpy(&h, &b, 2);
  return __bfloat162float(h);
}
uint8_t e4m3_bits(float x) { return __nv_fp8_e4m3(x).__x; }
double e4m3_value(uint8_t b) {
  __nv_fp8_e4m3 v;
  v.__x = b;
  return static_cast<float>(v);
}
double e2m1_value(uint32_t code) {
  static const double kMag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  return (code & 8) ? -kMag[code & 7] : kMag[code & 7];
}

// Stores x (rounded to `type`) into a 16-bit element vector and returns the stored value.
double store16(ScalarTypeId type, std::vector<uint16_t>& v, size_t i, float x) {
  if (type == marlin::kFloat16.id()) {
    v[i] = f16_bits(x);
    return f16_value(v[i]);
  }
  v[i] = bf16_bits(x);
  return bf16_value(v[i]);
}

template <typename T>
T* to_device(const std::vector<T>& h) {
  if (h.empty()) return nullptr;
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, h.size() * sizeof(T)));
  CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

struct Result {
  int passed = 0, failed = 0;
};

// The dequantization primitives alone (mma_dequant.cuh), exhaustively. Integer codes: every
// 4-bit code at every pair position of a word whose other nibbles are all ones, with every int
// zero point folded into the bias (kU4, code_bias4_zp, as mma_body.cuh builds it) and with the
// type's own bias (kU4B8): both halves must be exactly q - z. Float codes in fp16: every e4m3 and
// e2m1 code left unfixed (the FloatFix fold of mma_body.cuh) must be exactly its value times 2^-8
// / 2^-14; and every e2m1 code left unfixed times every e4m3 scale, multiplied in fp16 as the
// kernel does (kFixFoldsPastScales), exactly code * scale * 2^-14.
constexpr int kIntCodeCases = 17 * 16 * 4;  // (zero point 0..15 | kU4B8) x code x pair

template <ScalarTypeId c_type, int p>
__device__ uint32_t int_pair(uint32_t word, int z) {
  using namespace marlin::mma;
  if (z == 16) return code_pair4<marlin::kU4B8.id(), c_type, p>(word);
  return code_pair4<marlin::kU4.id(), c_type, p>(word,
                                                 code_bias4_zp<marlin::kU4.id(), c_type, p>(z));
}

template <ScalarTypeId c_type>
__device__ float2 pair_values(uint32_t v) {
  if constexpr (c_type == marlin::kFloat16.id()) {
    return __half22float2(marlin::mma::from_bits<__half2>(v));
  } else {
    return __bfloat1622float2(marlin::mma::from_bits<__nv_bfloat162>(v));
  }
}

template <ScalarTypeId c_type>
__global__ void int_code_kernel(float2* out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= kIntCodeCases) return;
  const int z = i / 64, q = (i / 4) % 16, p = i % 4;
  const uint32_t nibbles = (0xFu << (4 * p)) | (0xFu << (4 * p + 16));
  const uint32_t word = (~nibbles) | (static_cast<uint32_t>(q) * 0x00010001u << (4 * p));
  uint32_t v = 0;
  switch (p) {
    case 0:
      v = int_pair<c_type, 0>(word, z);
      break;
    case 1:
      v = int_pair<c_type, 1>(word, z);
      break;
    case 2:
      v = int_pair<c_type, 2>(word, z);
      break;
    default:
      v = int_pair<c_type, 3>(word, z);
      break;
  }
  out[i] = pair_values<c_type>(v);
}

__global__ void float_code_kernel(float2* out) {
  using namespace marlin::mma;
  constexpr ScalarTypeId kF16 = marlin::kFloat16.id();
  const uint32_t code = threadIdx.x;  // 0..255 e4m3, then 0..15 e2m1 in out[256 + code]
  out[code] = pair_values<kF16>(code_pair8<marlin::kFE4M3fn.id(), kF16, 0>(code * 0x0101u));
  if (code < 16) {
    out[256 + code] = pair_values<kF16>(code_pair4<marlin::kFE2M1f.id(), kF16, 0>(code * 0x10001u));
  }
}

// Block s (an e4m3 scale code), thread c (an e2m1 code): out[16 s + c] = the kernel's fp16 pair
// product; out[4096 + s] = the scale as the kernel converts it.
__global__ void scaled_fp4_kernel(float2* out) {
  using namespace marlin::mma;
  constexpr ScalarTypeId kF16 = marlin::kFloat16.id();
  const uint32_t s = blockIdx.x, c = threadIdx.x;
  const uint32_t scale = splat_bits(marlin::e4m3_to_half_bits(s));
  const uint32_t code = code_pair4<marlin::kFE2M1f.id(), kF16, 0>(c * 0x10001u);
  out[16 * s + c] = pair_values<kF16>(mul2<kF16>(code, scale));
  if (c == 0) out[4096 + s] = pair_values<kF16>(scale);
}

int check_scaled_fp4() {
  float2* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, (4096 + 256) * sizeof(float2)));
  scaled_fp4_kernel<<<256, 16>>>(d);
  CUDA_CHECK(cudaGetLastError());
  std::vector<float2> h(4096 + 256);
  CUDA_CHECK(cudaMemcpy(h.data(), d, h.size() * sizeof(float2), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d));
  int bad = 0;
  for (uint32_t s = 0; s < 256; ++s) {
    const double scale = e4m3_value(static_cast<uint8_t>(s));
    if (std::isnan(scale)) {
      bad += !std::isnan(h[4096 + s].x);
      continue;
    }
    bad += h[4096 + s].x != scale || h[4096 + s].y != scale;
    for (uint32_t c = 0; c < 16; ++c) {
      const double want = e2m1_value(c) * scale;
      const float2 got = h[16 * s + c];
      bad += got.x * 0x1p14 != want || got.y * 0x1p14 != want;
    }
  }
  return bad;
}

template <ScalarTypeId c_type>
int check_int_codes() {
  float2* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, kIntCodeCases * sizeof(float2)));
  int_code_kernel<c_type><<<(kIntCodeCases + 255) / 256, 256>>>(d);
  CUDA_CHECK(cudaGetLastError());
  std::vector<float2> h(kIntCodeCases);
  CUDA_CHECK(cudaMemcpy(h.data(), d, h.size() * sizeof(float2), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d));
  int bad = 0;
  for (int i = 0; i < kIntCodeCases; ++i) {
    const int z = i / 64, q = (i / 4) % 16;
    const float want = static_cast<float>(q - (z == 16 ? 8 : z));
    bad += h[i].x != want || h[i].y != want;
  }
  return bad;
}

int check_float_codes() {
  float2* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, 272 * sizeof(float2)));
  float_code_kernel<<<1, 256>>>(d);
  CUDA_CHECK(cudaGetLastError());
  std::vector<float2> h(272);
  CUDA_CHECK(cudaMemcpy(h.data(), d, h.size() * sizeof(float2), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d));
  int bad = 0;
  for (uint32_t code = 0; code < 256; ++code) {
    const double want = e4m3_value(static_cast<uint8_t>(code));
    if (std::isnan(want)) continue;  // 0x7F / 0xFF: no weight or activation holds them
    bad += h[code].x * 0x1p8 != want || h[code].y * 0x1p8 != want;
  }
  for (uint32_t code = 0; code < 16; ++code) {
    const double want = e2m1_value(code);
    bad += h[256 + code].x * 0x1p14 != want || h[256 + code].y * 0x1p14 != want;
  }
  return bad;
}

void run_case(const Case& cs, int sm_count, int max_smem, std::mt19937& rng, Result& res) {
  const KernelConfig& c = cs.cfg;
  const int K = cs.k, N = cs.n, lda = cs.k + cs.lda_pad;
  const int bits = marlin::scalar_type_size_bits(c.b_type);
  const int pack = 32 / bits;
  const bool a8 = c.a_type == marlin::kS8.id() || c.a_type == marlin::kFE4M3fn.id();
  const bool int_zp = (c.b_type == marlin::kU4.id()) && !c.is_zp_float;
  const bool nvfp4 = c.s_type == marlin::kFE4M3fn.id();
  const int group = c.group_blocks > 0 ? 16 * c.group_blocks : c.group_blocks == 0 ? 128 : K;
  const int num_groups = K / group;
  std::uniform_real_distribution<float> unif(-1.f, 1.f);
  std::uniform_real_distribution<float> pos(0.5f, 1.5f);

  // Activations [kMaxM, lda], the padding columns filled with garbage the kernel must not use.
  std::vector<double> a_val(static_cast<size_t>(kMaxM) * K);
  std::vector<uint16_t> a16;
  std::vector<uint8_t> a8v;
  std::vector<float> a_scales;
  if (a8) {
    a8v.resize(static_cast<size_t>(kMaxM) * lda, 0x7F);  // garbage: e4m3 NaN / int8 127
    a_scales.resize(kMaxM);
    for (int m = 0; m < kMaxM; ++m) a_scales[m] = 0.01f * pos(rng);
  } else {
    a16.resize(static_cast<size_t>(kMaxM) * lda, 0x7E00);  // garbage: f16 NaN
  }
  for (int m = 0; m < kMaxM; ++m) {
    for (int k = 0; k < K; ++k) {
      const size_t i = static_cast<size_t>(m) * lda + k;
      double v;
      if (c.a_type == marlin::kS8.id()) {
        const int q = static_cast<int>(std::lround(unif(rng) * 127.f));
        a8v[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        v = q;
      } else if (c.a_type == marlin::kFE4M3fn.id()) {
        a8v[i] = e4m3_bits(unif(rng) * 8.f);
        v = e4m3_value(a8v[i]);
      } else {
        v = store16(c.a_type, a16, i, unif(rng));
      }
      a_val[static_cast<size_t>(m) * K + k] = v;
    }
  }

  // Weight codes -> B [K/16, N*16/pack] in layout v2.
  std::vector<uint32_t> b(static_cast<size_t>(K / 16) * N * 16 / pack, 0);
  std::vector<double> code_val(static_cast<size_t>(K) * N);  // code value, type offset applied
  std::vector<uint32_t> raw_code(static_cast<size_t>(K) * N);
  for (int k = 0; k < K; ++k) {
    for (int n = 0; n < N; ++n) {
      uint32_t q;
      double v;
      if (c.b_type == marlin::kFE4M3fn.id()) {
        q = e4m3_bits(unif(rng) * 4.f);
        v = e4m3_value(static_cast<uint8_t>(q));
      } else if (c.b_type == marlin::kFE2M1f.id()) {
        q = rng() & 15u;
        v = e2m1_value(q);
      } else {
        q = rng() & ((1u << bits) - 1u);
        v = c.b_type == marlin::kU4B8.id()     ? static_cast<double>(q) - 8
            : c.b_type == marlin::kU8B128.id() ? static_cast<double>(q) - 128
                                               : static_cast<double>(q);
      }
      const marlin::CodeLocation at = marlin::code_location(k, n, N, bits);
      b[static_cast<size_t>(at.word)] |= q << at.shift;
      code_val[static_cast<size_t>(k) * N + n] = v;
      raw_code[static_cast<size_t>(k) * N + n] = q;
    }
  }

  // Scales [num_groups, N] in s_type; zero points; g_idx; bias; global scale.
  std::vector<double> s_val(static_cast<size_t>(num_groups) * N), z_val(s_val.size(), 0.0);
  std::vector<uint16_t> s16;
  std::vector<uint8_t> s8;
  std::vector<uint32_t> zp_int;
  std::vector<uint16_t> zp_f;
  const float s_mag = bits == 8 ? 0.001f : 0.02f;
  if (c.s_type == marlin::kFE4M3fn.id() || c.s_type == marlin::kFE8M0fnu.id()) {
    s8.resize(s_val.size());
  } else {
    s16.resize(s_val.size());
  }
  if (int_zp) zp_int.resize(static_cast<size_t>(num_groups) * N / pack, 0);
  if (c.is_zp_float) zp_f.resize(s_val.size());
  for (int g = 0; g < num_groups; ++g) {
    for (int n = 0; n < N; ++n) {
      const size_t i = static_cast<size_t>(g) * N + n;
      if (c.s_type == marlin::kFE4M3fn.id()) {
        s8[i] = e4m3_bits(pos(rng));
        s_val[i] = e4m3_value(s8[i]);
      } else if (c.s_type == marlin::kFE8M0fnu.id()) {
        s8[i] = static_cast<uint8_t>(120 + rng() % 8);  // 2^-7 .. 2^0
        s_val[i] = std::ldexp(1.0, static_cast<int>(s8[i]) - 127);
      } else {
        s_val[i] = store16(c.s_type, s16, i, s_mag * pos(rng));
      }
      if (int_zp) {
        const uint32_t z = rng() & ((1u << bits) - 1u);
        zp_int[static_cast<size_t>(g) * (N / pack) + n / pack] |= z << ((n % pack) * bits);
        z_val[i] = z;
      } else if (c.is_zp_float) {
        z_val[i] = store16(c.c_type, zp_f, i, 7.5f + 4.f * unif(rng));
      }
    }
  }
  std::vector<int> g_idx;
  if (c.group_blocks == 0) {
    g_idx.resize(K);
    for (int k = 0; k < K; ++k) g_idx[k] = static_cast<int>(rng() % num_groups);  // unsorted
  }
  std::vector<uint16_t> bias16(cs.bias ? N : 0);
  std::vector<double> bias_val(N, 0.0);
  if (cs.bias) {
    for (int n = 0; n < N; ++n) bias_val[n] = store16(c.c_type, bias16, n, unif(rng));
  }
  const float global_scale = 0.05f;
  std::vector<float> gs_vec(nvfp4 ? 1 : 0, global_scale);

  // Float64 reference for all kMaxM rows.
  std::vector<double> w(static_cast<size_t>(K) * N);
  for (int k = 0; k < K; ++k) {
    const int g = c.group_blocks == 0 ? g_idx[k] : k / group;
    for (int n = 0; n < N; ++n) {
      const size_t gi = static_cast<size_t>(g) * N + n;
      w[static_cast<size_t>(k) * N + n] = (code_val[static_cast<size_t>(k) * N + n] - z_val[gi]) *
                                          s_val[gi] * (nvfp4 ? global_scale : 1.0);
    }
  }
  std::vector<double> ref(static_cast<size_t>(kMaxM) * N, 0.0);
  for (int m = 0; m < kMaxM; ++m) {
    double* out = &ref[static_cast<size_t>(m) * N];
    for (int k = 0; k < K; ++k) {
      const double a = a_val[static_cast<size_t>(m) * K + k];
      const double* wr = &w[static_cast<size_t>(k) * N];
      for (int n = 0; n < N; ++n) out[n] += a * wr[n];
    }
    const double as = a8 ? a_scales[m] : 1.0;
    for (int n = 0; n < N; ++n) out[n] = out[n] * as + bias_val[n];
  }

  // Device buffers. C has one guard row before and two after, all poisoned (0xFFFF is NaN in
  // both f16 and bf16), so unwritten and out-of-range writes both show.
  const void* d_a = a8 ? static_cast<const void*>(to_device(a8v)) : to_device(a16);
  uint32_t* d_b = to_device(b);
  void* d_s = s8.empty() ? static_cast<void*>(to_device(s16)) : to_device(s8);
  void* d_zp = int_zp          ? static_cast<void*>(to_device(zp_int))
               : c.is_zp_float ? static_cast<void*>(to_device(zp_f))
                               : nullptr;
  int* d_gidx = to_device(g_idx);
  uint16_t* d_bias = to_device(bias16);
  float* d_as = to_device(a_scales);
  float* d_gs = to_device(gs_vec);
  const size_t c_elems = static_cast<size_t>(kMaxM + 3) * N;
  uint16_t* d_c_base = nullptr;
  CUDA_CHECK(cudaMalloc(&d_c_base, c_elems * 2));
  uint16_t* d_c = d_c_base + N;
  std::vector<uint16_t> c_host(c_elems);

  const int smem = marlin::required_shared_mem(c);
  const marlin::TileShape t = marlin::tile_shape(c);
  if (smem > max_smem) {
    std::printf("%-32s SKIP smem %d > %d\n", cs.name, smem, max_smem);
    return;
  }
  CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(cs.fn),
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, smem));

  for (size_t mi = 0; mi < sizeof(kMs) / sizeof(kMs[0]); ++mi) {
    const int M = kMs[mi];
    const int tiles = (M + t.bm - 1) / t.bm * (N / t.bn);
    // Alternate one-block-per-tile and a small persistent grid to exercise the grid stride.
    const int grid = mi % 2 == 0 ? (tiles < sm_count ? tiles : sm_count) : (tiles < 3 ? tiles : 3);
    CUDA_CHECK(cudaMemset(d_c_base, 0xFF, c_elems * 2));
    cs.fn<<<grid, c.threads, smem>>>(
        static_cast<const int4*>(d_a), reinterpret_cast<const int4*>(d_b),
        reinterpret_cast<int4*>(d_c), nullptr, reinterpret_cast<const int4*>(d_bias), d_as,
        static_cast<const int4*>(d_s), d_gs, static_cast<const int4*>(d_zp), d_gidx, num_groups, M,
        N, K, lda, nullptr, cs.bias, false, false, max_smem);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(c_host.data(), d_c_base, c_elems * 2, cudaMemcpyDeviceToHost));

    double sum_err = 0, sum_ref = 0, max_err = 0;
    long bad = 0, guard = 0;
    for (size_t i = 0; i < c_elems; ++i) {
      const long row = static_cast<long>(i / N) - 1;
      if (row < 0 || row >= M) {
        guard += c_host[i] != 0xFFFF;
        continue;
      }
      const double out =
          c.c_type == marlin::kFloat16.id() ? f16_value(c_host[i]) : bf16_value(c_host[i]);
      const double r = ref[static_cast<size_t>(row) * N + i % N];
      if (!std::isfinite(out)) {
        ++bad;
        continue;
      }
      sum_err += std::fabs(out - r);
      sum_ref += std::fabs(r);
      max_err = std::fmax(max_err, std::fabs(out - r));
    }
    const double mean_ref = sum_ref / (static_cast<double>(M) * N);
    const double mean_rel = sum_err / (sum_ref > 0 ? sum_ref : 1);
    const double max_rel = max_err / (mean_ref > 0 ? mean_ref : 1);
    const bool ok = bad == 0 && guard == 0 && mean_rel < 0.04 && sum_ref > 0;
    std::printf(
        "%-32s M=%-3d K=%-4d N=%-3d lda=%-4d grid=%-3d smem=%-6d mean_rel=%.2e "
        "max_rel=%.2e nonfinite=%ld guard=%ld %s\n",
        cs.name, M, K, N, lda, grid, smem, mean_rel, max_rel, bad, guard, ok ? "PASS" : "FAIL");
    (ok ? res.passed : res.failed)++;
  }

  CUDA_CHECK(cudaFree(const_cast<void*>(d_a)));
  CUDA_CHECK(cudaFree(d_b));
  CUDA_CHECK(cudaFree(d_s));
  if (d_zp) CUDA_CHECK(cudaFree(d_zp));
  if (d_gidx) CUDA_CHECK(cudaFree(d_gidx));
  if (d_bias) CUDA_CHECK(cudaFree(d_bias));
  if (d_as) CUDA_CHECK(cudaFree(d_as));
  if (d_gs) CUDA_CHECK(cudaFree(d_gs));
  CUDA_CHECK(cudaFree(d_c_base));
}

}  // namespace

int main() {
  Result res;
  // The kernel's pre-sm_89 e4m3 decoder must agree with cuda_fp8.h on all 256 codes.
  int fp8_mismatch = 0;
  for (uint32_t bits = 0; bits < 256; ++bits) {
    const double ours = marlin::e4m3_to_float_bits(bits), ref = e4m3_value(bits);
    if (!(ours == ref || (std::isnan(ours) && std::isnan(ref)))) ++fp8_mismatch;
  }
  std::printf("e4m3 host decoder vs cuda_fp8.h: %d mismatches %s\n", fp8_mismatch,
              fp8_mismatch == 0 ? "PASS" : "FAIL");
  (fp8_mismatch == 0 ? res.passed : res.failed)++;

  const int int_bad_f16 = check_int_codes<marlin::kFloat16.id()>();
  const int int_bad_bf16 = check_int_codes<marlin::kBFloat16.id()>();
  const int float_bad = check_float_codes();
  std::printf("4-bit int codes (zero points folded into the bias): %d / %d mismatches %s\n",
              int_bad_f16 + int_bad_bf16, 2 * kIntCodeCases,
              int_bad_f16 + int_bad_bf16 == 0 ? "PASS" : "FAIL");
  (int_bad_f16 + int_bad_bf16 == 0 ? res.passed : res.failed)++;
  std::printf("fp16 e4m3 / e2m1 codes left unfixed: %d mismatches %s\n", float_bad,
              float_bad == 0 ? "PASS" : "FAIL");
  (float_bad == 0 ? res.passed : res.failed)++;
  const int fp4_bad = check_scaled_fp4();
  std::printf("fp16 e2m1 codes left unfixed x e4m3 scales: %d mismatches %s\n", fp4_bad,
              fp4_bad == 0 ? "PASS" : "FAIL");
  (fp4_bad == 0 ? res.passed : res.failed)++;

  int dev = 0, sm_count = 0, max_smem = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  std::printf("device: %s (sm_%d%d, %d SMs, %d B smem opt-in)\n", prop.name, prop.major, prop.minor,
              sm_count, max_smem);

  std::mt19937 rng(12345);
  for (const Case& cs : kCases) run_case(cs, sm_count, max_smem, rng, res);
  std::printf("%d passed, %d failed\n", res.passed, res.failed);
  return res.failed == 0 ? 0 : 1;
}
