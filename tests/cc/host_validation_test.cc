// Host-only test of the argument checks that run before any CUDA call: marlin::gemm's
// validate_gemm_args and the packers' validate_pack_*. Pointers are fake addresses that are
// never dereferenced. The log lists every error text (the catalogue in the host-side docs).
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "marlin/csrc/exec_config.h"
#include "marlin/gemm.h"
#include "marlin/prepare.h"
#include "marlin/scalar_type.h"
#include "tests/cc/host_test_util.h"

namespace {

using marlin::Code;
using marlin::GemmArgs;

template <typename T = void>
T* fake(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

// A valid GPTQ int4, group-128, f16 call: M=16, N=4096, K=4096.
GemmArgs valid_args() {
  GemmArgs g;
  g.a = fake(0x10000000);
  g.a_type = marlin::kFloat16.id();
  g.c = fake(0x20000000);
  g.c_type = marlin::kFloat16.id();
  g.b_q_weight = fake(0x30000000);
  g.b_type = marlin::kU4B8.id();
  g.b_scales = fake(0x40000000);
  g.s_type = marlin::kFloat16.id();
  g.num_groups = 32;
  g.workspace = fake(0x50000000);
  g.workspace_bytes = 1 << 22;  // 2 MiB of it is split-K C_tmp (8 x 16 x 4096 fp32)
  g.size_m = 16;
  g.size_n = 4096;
  g.size_k = 4096;
  return g;
}

marlin::Status validate(const GemmArgs& g) {
  marlin::GemmProblem p;
  return marlin::validate_gemm_args(g, &p);
}

void check(const char* label, const std::function<void(GemmArgs&)>& edit, Code code,
           const std::string& needle) {
  GemmArgs g = valid_args();
  edit(g);
  EXPECT_STATUS(validate(g), code, needle, label);
}

void test_valid_calls_resolve() {
  marlin::GemmProblem p;
  GemmArgs g = valid_args();
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "valid");
  EXPECT_EQ(p.group_blocks, 8);
  EXPECT_EQ(p.lda, 4096);
  g.num_groups = 1;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "channelwise");
  EXPECT_EQ(p.group_blocks, -1);
  // Act-order, K full: contiguous groups of K/num_groups rows.
  g = valid_args();
  g.g_idx = fake<const int32_t>(0x60000000);
  g.perm = fake<const int32_t>(0x61000000);
  g.workspace_bytes = marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kFloat16.id(), true);
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "act-order full");
  EXPECT_EQ(p.group_blocks, 8);
  EXPECT_TRUE(p.act_order);
  // Act-order, K not full: the g_idx kernel.
  g.is_k_full = false;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "act-order not full");
  EXPECT_EQ(p.group_blocks, 0);
  // Row-strided A.
  g = valid_args();
  g.lda = 4096 + 64;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "lda");
  EXPECT_EQ(p.lda, 4160);
  // int8 activations: 16-byte rows need lda % 16.
  g = valid_args();
  g.a_type = marlin::kS8.id();
  g.a_scales = fake<const float>(0x70000000);
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "int8");
  EXPECT_EQ(p.a_elem_bytes, 1);
  // NVFP4.
  g = valid_args();
  g.b_type = marlin::kFE2M1f.id();
  g.s_type = marlin::kFE4M3fn.id();
  g.num_groups = 4096 / 16;
  g.global_scale = fake<const float>(0x71000000);
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "nvfp4");
  EXPECT_EQ(p.group_blocks, 1);
  // AWQ with zero points; HQQ float zero points.
  g = valid_args();
  g.b_type = marlin::kU4.id();
  g.b_zeros = fake(0x72000000);
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "awq");
  g.is_zp_float = true;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "hqq");
  // Empty batch: a, c and the workspace may be NULL (nothing is computed or written).
  g = valid_args();
  g.size_m = 0;
  g.a = nullptr;
  g.c = nullptr;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "m=0");
  g.workspace = nullptr;
  g.workspace_bytes = 0;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "m=0 without workspace");
}

// The problem carries the workspace layout the launches use: validation computes it once per
// call, and it is the one marlin_gemm_workspace_bytes sizes.
void test_problem_carries_workspace_layout() {
  for (const bool act_order : {false, true}) {
    GemmArgs g = valid_args();
    if (act_order) {
      g.g_idx = fake<const int32_t>(0x60000000);
      g.perm = fake<const int32_t>(0x61000000);
      g.workspace_bytes = 1 << 23;
    }
    marlin::GemmProblem p;
    EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "layout");
    const marlin::WorkspaceLayout want = marlin::workspace_layout(16, 4096, 4096, 2, act_order);
    EXPECT_EQ(p.workspace.total_bytes, want.total_bytes);
    EXPECT_EQ(p.workspace.total_bytes,
              marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kFloat16.id(), act_order));
    EXPECT_EQ(p.workspace.locks_offset, want.locks_offset);
    EXPECT_EQ(p.workspace.a_perm_offset, want.a_perm_offset);
    EXPECT_EQ(p.workspace.a_perm_bytes, act_order ? 16 * 4096 * 2 : 0);
    EXPECT_EQ(p.workspace.c_tmp_offset, want.c_tmp_offset);
    EXPECT_EQ(p.workspace.c_tmp_bytes, 8 * 16 * 4096 * 4);
  }
}

void test_bad_gemm_args() {
  const Code kBad = Code::kInvalidArgument;
  check(
      "null a", [](GemmArgs& g) { g.a = nullptr; }, kBad, "a is NULL");
  check(
      "null c", [](GemmArgs& g) { g.c = nullptr; }, kBad, "c is NULL");
  check(
      "null b", [](GemmArgs& g) { g.b_q_weight = nullptr; }, kBad, "b_q_weight is NULL");
  check(
      "null scales", [](GemmArgs& g) { g.b_scales = nullptr; }, kBad, "b_scales is NULL");
  check(
      "negative m", [](GemmArgs& g) { g.size_m = -1; }, kBad, "size_m must be >= 0");
  check(
      "zero n", [](GemmArgs& g) { g.size_n = 0; }, kBad, "size_n must be > 0");
  check(
      "huge k", [](GemmArgs& g) { g.size_k = int64_t{1} << 32; }, kBad, "must fit in int32");
  check(
      "a_type", [](GemmArgs& g) { g.a_type = marlin::kU4.id(); }, kBad,
      "a_type kU4 is not an activation type");
  check(
      "a_type unknown", [](GemmArgs& g) { g.a_type = 12345; }, kBad,
      "a_type unknown type id 12345");
  check(
      "c_type", [](GemmArgs& g) { g.c_type = marlin::kS8.id(); }, kBad,
      "c_type kS8 is not an output type");
  check(
      "c != a",
      [](GemmArgs& g) {
        g.c_type = marlin::kBFloat16.id();
        g.s_type = marlin::kBFloat16.id();
      },
      kBad, "c_type kBFloat16 must equal a_type kFloat16 for 16-bit activations");
  check(
      "b_type", [](GemmArgs& g) { g.b_type = marlin::kFloat16.id(); }, kBad,
      "b_type kFloat16 is not a weight type");
  check(
      "s_type", [](GemmArgs& g) { g.s_type = marlin::kBFloat16.id(); }, kBad,
      "s_type kBFloat16 must equal c_type kFloat16");
  check(
      "s_type e4m3 with int4", [](GemmArgs& g) { g.s_type = marlin::kFE4M3fn.id(); }, kBad,
      "kFE4M3fn scales are for NVFP4");
  check(
      "k % 16",
      [](GemmArgs& g) {
        g.size_k = 4104;
        g.num_groups = 1;
      },
      kBad, "size_k (4104) must be a multiple of 16");
  check(
      "n % 64", [](GemmArgs& g) { g.size_n = 4000; }, kBad,
      "size_n (4000) must be a multiple of 64");
  check(
      "k % 64",
      [](GemmArgs& g) {
        g.size_k = 4128;
        g.num_groups = 1;
      },
      kBad, "size_k (4128) must be a multiple of 64 (the smallest K tile)");
  check(
      "lda < k", [](GemmArgs& g) { g.lda = 2048; }, kBad, "lda (2048) must be >= size_k (4096)");
  check(
      "lda % 8", [](GemmArgs& g) { g.lda = 4100; }, kBad,
      "lda (4100) must be a multiple of 8 elements (16-byte rows for kFloat16 activations)");
  check(
      "lda % 16 int8",
      [](GemmArgs& g) {
        g.a_type = marlin::kS8.id();
        g.a_scales = fake<const float>(0x70000000);
        g.lda = 4104;
      },
      kBad, "must be a multiple of 16 elements");
  check(
      "misaligned a", [](GemmArgs& g) { g.a = fake(0x10000008); }, kBad,
      "a (0x10000008) must be 16-byte aligned");
  check(
      "misaligned c", [](GemmArgs& g) { g.c = fake(0x20000002); }, kBad,
      "c (0x20000002) must be 16-byte aligned");
  check(
      "misaligned b", [](GemmArgs& g) { g.b_q_weight = fake(0x30000004); }, kBad,
      "b_q_weight (0x30000004) must be 16-byte aligned");
  check(
      "misaligned scales", [](GemmArgs& g) { g.b_scales = fake(0x40000004); }, kBad,
      "b_scales (0x40000004) must be 16-byte aligned");
  check(
      "g_idx without perm", [](GemmArgs& g) { g.g_idx = fake<const int32_t>(0x60000000); }, kBad,
      "g_idx is given without perm");
  check(
      "perm without g_idx", [](GemmArgs& g) { g.perm = fake<const int32_t>(0x60000000); }, kBad,
      "perm is given without g_idx");
  check(
      "num_groups 0", [](GemmArgs& g) { g.num_groups = 0; }, kBad, "num_groups must be >= 1");
  check(
      "num_groups not dividing", [](GemmArgs& g) { g.num_groups = 3; }, kBad,
      "num_groups (3) does not divide size_k (4096)");
  check(
      "group size % 16", [](GemmArgs& g) { g.num_groups = 512; }, kBad,
      "group size size_k/num_groups = 4096/512 = 8 must be a multiple of 16");
  check(
      "zeros for kU4B8", [](GemmArgs& g) { g.b_zeros = fake(0x72000000); }, kBad,
      "b_zeros is given but b_type kU4B8 has no zero points");
  check(
      "zp float for kU4B8", [](GemmArgs& g) { g.is_zp_float = true; }, kBad,
      "is_zp_float is set but b_type kU4B8 has no zero points");
  check(
      "missing zeros kU4", [](GemmArgs& g) { g.b_type = marlin::kU4.id(); }, kBad,
      "b_zeros is NULL but b_type kU4 needs zero points");
  check(
      "a_scales missing", [](GemmArgs& g) { g.a_type = marlin::kS8.id(); }, kBad,
      "a_scales is NULL but a_type kS8 (8-bit activations) needs one float scale per row");
  check(
      "a_scales for f16", [](GemmArgs& g) { g.a_scales = fake<const float>(0x70000000); }, kBad,
      "a_scales must be NULL for 16-bit activations");
  check(
      "nvfp4 no global scale",
      [](GemmArgs& g) {
        g.b_type = marlin::kFE2M1f.id();
        g.s_type = marlin::kFE4M3fn.id();
        g.num_groups = 256;
      },
      kBad, "global_scale is NULL but NVFP4");
  check(
      "global scale not nvfp4", [](GemmArgs& g) { g.global_scale = fake<const float>(0x71000000); },
      kBad, "global_scale must be NULL: it is for NVFP4 only");
  check(
      "nvfp4 group",
      [](GemmArgs& g) {
        g.b_type = marlin::kFE2M1f.id();
        g.s_type = marlin::kFE4M3fn.id();
        g.global_scale = fake<const float>(0x71000000);
      },
      kBad,
      "NVFP4 (b_type kFE2M1f, s_type kFE4M3fn) uses groups of 16: num_groups must be size_k/16 = "
      "256, got 32");
  check(
      "mxfp4 group",
      [](GemmArgs& g) {
        g.a_type = g.c_type = marlin::kBFloat16.id();
        g.b_type = marlin::kFE2M1f.id();
        g.s_type = marlin::kFE8M0fnu.id();
      },
      kBad, "MXFP4 (b_type kFE2M1f, s_type kFE8M0fnu) uses groups of 32");
  check(
      "workspace null", [](GemmArgs& g) { g.workspace = nullptr; }, kBad,
      "workspace is NULL: this call needs 2101248 bytes");
  check(
      "workspace null m=1",
      [](GemmArgs& g) {
        g.size_m = 1;
        g.workspace = nullptr;
      },
      kBad, "workspace is NULL: this call needs");
  check(
      "workspace small",
      [](GemmArgs& g) {
        g.g_idx = fake<const int32_t>(0x60000000);
        g.perm = fake<const int32_t>(0x61000000);
        g.workspace_bytes = 4096;
      },
      kBad, "workspace is too small: 4096 bytes given, this call needs 2232320");
  check(
      "c overlaps a", [](GemmArgs& g) { g.c = fake(0x10000000 + 4096); }, kBad, "c overlaps a");
  check(
      "c overlaps workspace", [](GemmArgs& g) { g.c = g.workspace; }, kBad, "c overlaps workspace");
}

void test_workspace_bytes() {
  // locks (4096) [+ act-order A] + split-K C_tmp: max_split_k(16, 4096) = 8 fp32 [16, 4096].
  const int64_t c_tmp = 8 * 16 * 4096 * 4;
  EXPECT_EQ(marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kFloat16.id(), false),
            4096 + c_tmp);
  EXPECT_EQ(marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kFloat16.id(), true),
            4096 + 16 * 4096 * 2 + c_tmp);
  EXPECT_EQ(marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kS8.id(), true),
            4096 + 16 * 4096 + c_tmp);
  // No C_tmp past kSplitKMaxRows rows, or when two partials of M x N exceed the 8 MiB budget.
  EXPECT_EQ(marlin::gemm_workspace_bytes(257, 4096, 4096, marlin::kFloat16.id(), false), 4096);
  // 128 rows: 2 MiB per partial -> 4 partials.
  EXPECT_EQ(marlin::gemm_workspace_bytes(128, 4096, 4096, marlin::kFloat16.id(), false),
            4096 + 4 * 128 * 4096 * 4);
  EXPECT_EQ(marlin::gemm_workspace_bytes(64, 28672, 8192, marlin::kFloat16.id(), false), 4096);
  // The budget bounds the splits: 64 x 8192 fp32 = 2 MiB per partial -> 4 partials.
  EXPECT_EQ(marlin::gemm_workspace_bytes(64, 8192, 8192, marlin::kFloat16.id(), false),
            4096 + 4 * 64 * 8192 * 4);
  EXPECT_EQ(marlin::gemm_workspace_bytes(0, 4096, 4096, marlin::kFloat16.id(), false), 4096);
  EXPECT_EQ(marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kU4.id(), true), -1);
  EXPECT_EQ(marlin::gemm_workspace_bytes(-1, 4096, 4096, marlin::kFloat16.id(), true), -1);
}

void test_prepare_args() {
  using marlin::CodeSource;
  const Code kBad = Code::kInvalidArgument;
  CodeSource gptq;
  gptq.data = fake(0x10000000);
  int32_t* out = fake<int32_t>(0x20000000);
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4096, 4096, out), Code::kOk, "",
                "gptq");
  CodeSource awq = gptq;
  awq.packed_along_k = false;
  awq.awq_order = true;
  EXPECT_STATUS(marlin::validate_pack_weights(awq, nullptr, 4096, 4096, out), Code::kOk, "", "awq");
  CodeSource fp4 = gptq;
  fp4.word_bits = 8;
  fp4.n_major = true;
  fp4.data = fake(0x10000001);  // bytes need no alignment
  EXPECT_STATUS(marlin::validate_pack_weights(fp4, nullptr, 4096, 4096, out), Code::kOk, "",
                "nvfp4 bytes");
  EXPECT_EQ(marlin::packed_weight_words(4096, 4096, 4), 4096 * 4096 / 8);
  EXPECT_EQ(marlin::packed_weight_words(4096, 4096, 8), 4096 * 4096 / 4);

  CodeSource bad = gptq;
  bad.data = nullptr;
  EXPECT_STATUS(marlin::validate_pack_weights(bad, nullptr, 4096, 4096, out), kBad,
                "src->data is NULL", "pack null");
  bad = gptq;
  bad.word_bits = 16;
  EXPECT_STATUS(marlin::validate_pack_weights(bad, nullptr, 4096, 4096, out), kBad,
                "src->word_bits must be 32 (int32 words) or 8 (bytes), got 16", "word bits");
  bad = gptq;
  bad.code_bits = 3;
  EXPECT_STATUS(marlin::validate_pack_weights(bad, nullptr, 4096, 4096, out), kBad,
                "src->code_bits must be 4 or 8, got 3", "code bits");
  bad = gptq;
  bad.code_bits = 8;
  bad.awq_order = true;
  EXPECT_STATUS(marlin::validate_pack_weights(bad, nullptr, 4096, 4096, out), kBad,
                "src->awq_order needs word_bits 32 and code_bits 4", "awq 8-bit");
  bad = gptq;
  bad.data = fake(0x10000002);
  EXPECT_STATUS(marlin::validate_pack_weights(bad, nullptr, 4096, 4096, out), kBad,
                "src->data must be 4-byte aligned", "src align");
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4104, 4096, out), kBad,
                "size_k (4104) must be a positive multiple of 16", "pack k");
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4096, 4000, out), kBad,
                "size_n (4000) must be a positive multiple of 64", "pack n");
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4096, 4096, nullptr), kBad,
                "out is NULL", "pack out null");
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4096, 4096, fake<int32_t>(0x20000004)),
                kBad, "out must be 16-byte aligned", "pack out align");
  EXPECT_STATUS(
      marlin::validate_pack_weights(gptq, fake<const int32_t>(0x30000002), 4096, 4096, out), kBad,
      "perm must be 4-byte aligned", "perm align");
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 4096, 4096, fake<int32_t>(0x10000000)),
                kBad, "out overlaps src->data", "pack in place");

  // Zero points: AWQ qzeros [num_groups, N/8].
  CodeSource zeros = awq;
  EXPECT_STATUS(marlin::validate_pack_zero_points(zeros, 32, 4096, out), Code::kOk, "", "zp");
  EXPECT_STATUS(marlin::validate_pack_zero_points(zeros, 0, 4096, out), kBad,
                "num_groups must be >= 1, got 0", "zp groups");
  CodeSource zeros_along_groups = gptq;  // packed along the group dimension: groups % 8
  EXPECT_STATUS(
      marlin::validate_pack_zero_points(zeros_along_groups, 12, 4096, out), kBad,
      "num_groups (12) must be a multiple of 8: the source packs 8 codes per word along num_groups",
      "zp packed dim");
}

// Issue 8: sizes whose products overflow int64 (SIGFPE in max_split_k before the fix) and sizes
// marlin::gemm refuses are an error naming the sizes, never a crash or a small workspace.
void test_workspace_size_overflow() {
  const int64_t f16 = marlin::kFloat16.id();
  EXPECT_EQ(marlin::max_split_k(1, int64_t{1} << 62), 1);
  EXPECT_EQ(marlin::max_split_k(64, INT64_MAX), 1);
  EXPECT_EQ(marlin::gemm_workspace_bytes(1, int64_t{1} << 62, 64, f16, false), -1);
  EXPECT_EQ(marlin::gemm_workspace_bytes(16, int64_t{1} << 60, 64, f16, false), -1);
  EXPECT_EQ(
      marlin::gemm_workspace_bytes(int64_t{1} << 40, int64_t{1} << 40, int64_t{1} << 40, f16, true),
      -1);
  EXPECT_EQ(marlin::gemm_workspace_bytes(INT64_MAX, 64, 64, f16, false), -1);
  EXPECT_EQ(marlin::workspace_layout(int64_t{1} << 40, 64, int64_t{1} << 40, 2, true).total_bytes,
            -1);
  EXPECT_EQ(marlin::workspace_layout(64, INT64_MAX, 64, 2, false).total_bytes, 4096);
  // The largest sizes gemm accepts still have an exact workspace.
  const int64_t big = INT32_MAX;
  EXPECT_EQ(marlin::gemm_workspace_bytes(big, big, big, f16, true),
            4096 + (big * big * 2 + 15) / 16 * 16);

  int64_t bytes = 0;
  const Code kBad = Code::kInvalidArgument;
  EXPECT_STATUS(marlin::workspace_bytes_for(-1, 64, 64, f16, false, &bytes), kBad,
                "size_m=-1 size_n=64 size_k=64: size_m must be >= 0", "ws negative m");
  EXPECT_TRUE(marlin::workspace_bytes_for(-1, 64, 64, f16, false, &bytes).message.find("a_type") ==
              std::string::npos);
  EXPECT_STATUS(marlin::workspace_bytes_for(16, 64, -64, f16, false, &bytes), kBad,
                "size_k must be >= 0", "ws negative k");
  EXPECT_STATUS(marlin::workspace_bytes_for(1, int64_t{1} << 62, 64, f16, false, &bytes), kBad,
                "size_m=1 size_n=4611686018427387904 size_k=64: each must fit in int32",
                "ws huge n");
  EXPECT_STATUS(marlin::workspace_bytes_for(16, 64, 64, marlin::kU4.id(), false, &bytes), kBad,
                "a_type kU4 is not an activation type", "ws a_type");
  EXPECT_STATUS(marlin::workspace_bytes_for(16, 64, 64, f16, false, &bytes), Code::kOk, "",
                "ws ok");
  EXPECT_EQ(bytes, 4096 + 8 * 16 * 64 * 4);
}

// Issue 8: an act-order K shard (is_k_full = false) groups rows by g_idx: its row count need not
// be a multiple of the checkpoint's groups (upstream's group_size 0).
void test_act_order_shard_groups() {
  marlin::GemmProblem p;
  GemmArgs g = valid_args();
  g.g_idx = fake<const int32_t>(0x60000000);
  g.perm = fake<const int32_t>(0x61000000);
  g.workspace_bytes = marlin::gemm_workspace_bytes(16, 4096, 4096, marlin::kFloat16.id(), true);
  g.is_k_full = false;
  g.num_groups = 86;  // e.g. a 4096-row shard of a layer with 86 groups of 128 rows
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kOk, "", "shard groups");
  EXPECT_EQ(p.group_blocks, 0);
  EXPECT_EQ(p.group_size, 0);
  EXPECT_EQ(p.num_groups, 86);
  g.is_k_full = true;  // contiguous groups: they must divide K
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kInvalidArgument,
                "num_groups (86) does not divide size_k (4096)", "full K uneven groups");
  g.is_k_full = false;
  g.num_groups = int64_t{1} << 31;
  EXPECT_STATUS(marlin::validate_gemm_args(g, &p), Code::kInvalidArgument,
                "num_groups (2147483648) must fit in int32", "num_groups int32");
}

// Issue 8: byte counts of the packers are overflow-checked (the overlap check wrapped before).
void test_prepare_size_overflow() {
  marlin::CodeSource awq;
  awq.data = fake(0x10000000);
  awq.packed_along_k = false;
  awq.awq_order = true;
  const int64_t groups = INT32_MAX;
  const int64_t n = 2147483584;  // the largest multiple of 64 in int32
  int32_t* far_out = fake<int32_t>(0x10000000 + (uintptr_t{1} << 40));  // inside 2^61 bytes of src
  EXPECT_STATUS(marlin::validate_pack_zero_points(awq, groups, n, far_out), Code::kInvalidArgument,
                "out overlaps src->data", "zp huge overlap");
  marlin::CodeSource gptq;
  gptq.data = fake(0x10000000);
  EXPECT_STATUS(marlin::validate_pack_weights(gptq, nullptr, 2147483632, n, far_out),
                Code::kInvalidArgument, "out overlaps src->data", "pack huge overlap");
  // A range that reaches past the top of the address space saturates instead of wrapping.
  marlin::CodeSource top = gptq;
  top.data = fake(UINTPTR_MAX - 4095);
  EXPECT_STATUS(
      marlin::validate_pack_weights(top, nullptr, 4096, 4096, fake<int32_t>(UINTPTR_MAX - 2047)),
      Code::kInvalidArgument, "out overlaps src->data", "pack near top");
}

}  // namespace

int main() {
  test_valid_calls_resolve();
  test_problem_carries_workspace_layout();
  test_bad_gemm_args();
  test_workspace_bytes();
  test_prepare_args();
  test_workspace_size_overflow();
  test_act_order_shard_groups();
  test_prepare_size_overflow();
  return TEST_MAIN_RESULT();
}
