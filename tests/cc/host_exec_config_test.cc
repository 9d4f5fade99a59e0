// Host-only test of marlin::choose_exec_config / check_device_support / find_kernel /
// scheme_for over fake selector tables and fake device limits (no GPU, no generated code).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "marlin/csrc/exec_config.h"
#include "marlin/kernel_config.h"
#include "marlin/scalar_type.h"
#include "tests/cc/host_test_util.h"

namespace {

using marlin::Code;
using marlin::DeviceLimits;
using marlin::ExecPass;
using marlin::GemmProblem;
using marlin::KernelConfig;
using marlin::KernelTable;
using marlin::ScalarTypeId;

// Every kernel upstream's generator emits for one (a, b, c, s) and a set of group_blocks: the
// three thread configs of each priority list, m blocks 1..4 (+ the 8-row tile for 16-bit a).
std::vector<KernelConfig> scheme_kernels(ScalarTypeId a, ScalarTypeId b, ScalarTypeId c,
                                         ScalarTypeId s, std::vector<int> groups, int stages,
                                         int max_m_blocks = 4, bool zp_float = false) {
  struct TC {
    int k, n, threads;
  };
  const TC small[] = {{128, 128, 256}, {64, 128, 128}, {128, 64, 128}};
  const TC large[] = {{64, 256, 256}, {64, 128, 128}, {128, 64, 128}};
  const bool a16 = a == marlin::kFloat16.id() || a == marlin::kBFloat16.id();
  std::vector<KernelConfig> out;
  for (int g : groups) {
    for (int mb = 1; mb <= max_m_blocks; ++mb) {
      for (int mb8 = 0; mb8 <= (mb == 1 && a16 ? 1 : 0); ++mb8) {
        for (const TC& tc : mb > 1 ? large : small) {
          out.push_back(KernelConfig{a, b, c, s, tc.threads, mb, tc.n / 16, tc.k / 16, mb8 == 1,
                                     stages, g, zp_float});
        }
      }
    }
  }
  return out;
}

struct FakeTable {
  std::vector<KernelConfig> configs;
  KernelTable view;

  explicit FakeTable(std::vector<KernelConfig> c, bool fp8 = false, bool sm75 = false)
      : configs(std::move(c)) {
    std::sort(configs.begin(), configs.end(), [](const KernelConfig& x, const KernelConfig& y) {
      return marlin::pack_kernel_key(x) < marlin::pack_kernel_key(y);
    });
    configs.erase(std::unique(configs.begin(), configs.end()), configs.end());
    view.configs = configs.data();
    view.size = static_cast<int>(configs.size());
    view.fp8_activation_built = fp8;
    view.sm75_built = sm75;
  }
};

DeviceLimits h100() {
  DeviceLimits d;
  d.device = 0;
  d.cc_major = 9;
  d.cc_minor = 0;
  d.num_sms = 132;
  d.max_shared_mem_optin = 232448;
  return d;
}

GemmProblem problem(int64_t m, int64_t n, int64_t k, ScalarTypeId a = marlin::kFloat16.id(),
                    int group_blocks = -1, ScalarTypeId b = marlin::kU4B8.id()) {
  GemmProblem p;
  p.a_type = a;
  p.b_type = b;
  p.c_type = (a == marlin::kBFloat16.id()) ? a : marlin::kFloat16.id();
  p.s_type = p.c_type;
  p.m = m;
  p.n = n;
  p.k = k;
  p.lda = k;
  p.group_blocks = group_blocks;
  p.group_size = group_blocks > 0 ? 16 * group_blocks : -1;
  p.num_groups = group_blocks > 0 ? k / p.group_size : 1;
  p.a_elem_bytes = (a == marlin::kFloat16.id() || a == marlin::kBFloat16.id()) ? 2 : 1;
  return p;
}

void expect_pass(const ExecPass& pass, int64_t row_begin, int64_t rows, int threads, int m_blocks,
                 int n_blocks, int k_blocks, bool mb8) {
  EXPECT_EQ(pass.row_begin, row_begin);
  EXPECT_EQ(pass.rows, rows);
  EXPECT_EQ(pass.config.threads, threads);
  EXPECT_EQ(pass.config.thread_m_blocks, m_blocks);
  EXPECT_EQ(pass.config.thread_n_blocks, n_blocks);
  EXPECT_EQ(pass.config.thread_k_blocks, k_blocks);
  EXPECT_EQ(pass.config.m_block_size_8, mb8);
  EXPECT_TRUE(pass.kernel_index >= 0);
  EXPECT_EQ(pass.shared_mem_bytes, marlin::required_shared_mem(pass.config));
}

// No measurements: the heuristic path (the measured one has its own tests below).
const marlin::DispatchTable kHeuristicOnly{};

const ScalarTypeId kF16 = marlin::kFloat16.id();
const ScalarTypeId kBF16 = marlin::kBFloat16.id();
const ScalarTypeId kU4B8 = marlin::kU4B8.id();
const ScalarTypeId kInt8Act = marlin::kS8.id();

void test_find_kernel() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  for (int i = 0; i < table.view.size; ++i) {
    EXPECT_EQ(marlin::find_kernel(table.view, table.configs[i]), i);
  }
  KernelConfig missing = table.configs[0];
  missing.group_blocks = 4;
  EXPECT_EQ(marlin::find_kernel(table.view, missing), -1);
  KernelTable empty;
  EXPECT_EQ(marlin::find_kernel(empty, table.configs[0]), -1);
}

void test_small_m() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  std::vector<ExecPass> passes;
  // M=1, N=4096: 32 tiles of 128 columns, 32*4 <= 132 SMs -> upstream's occupancy switch to
  // the 64-column tile (128 threads).
  auto status = marlin::choose_exec_config(problem(1, 4096, 4096), h100(), table.view, &passes,
                                           nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=1 n=4096");
  EXPECT_EQ(passes.size(), 1u);
  if (passes.size() == 1) expect_pass(passes[0], 0, 1, 128, 1, 4, 8, true);
  EXPECT_EQ(passes[0].tiles, 64);

  // M=1, N=12288: enough tiles, first choice (k128, n128, 256 threads).
  status = marlin::choose_exec_config(problem(1, 12288, 4096), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=1 n=12288");
  if (passes.size() == 1) expect_pass(passes[0], 0, 1, 256, 1, 8, 8, true);

  // M=16: no 8-row tile (16 > 8).
  status = marlin::choose_exec_config(problem(16, 12288, 4096), h100(), table.view, &passes,
                                      nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=16");
  if (passes.size() == 1) expect_pass(passes[0], 0, 16, 256, 1, 8, 8, false);

  // K not a multiple of 128: falls to (k64, n128, 128 threads).
  status = marlin::choose_exec_config(problem(5, 12288, 4160), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "k=4160");
  if (passes.size() == 1) expect_pass(passes[0], 0, 5, 128, 1, 8, 4, true);
}

void test_split_k() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  std::vector<ExecPass> passes;
  // M=1, 4096x4096: 64 tiles on 132 SMs, 32 BK steps. S = 2 puts one work item of 16 steps on
  // 128 SMs (cost 16 + 1 vs 32); S = 4 (2 items of 8) and 8 tie, the fewest splits win.
  auto status = marlin::choose_exec_config(problem(1, 4096, 4096), h100(), table.view, &passes,
                                           nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "split m=1");
  if (passes.size() == 1) EXPECT_EQ(passes[0].splits, 2);
  // K = 28672 (224 steps), N = 8192 (64 tiles of 128 columns): 2 splits too.
  status = marlin::choose_exec_config(problem(1, 8192, 28672), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 64);
    EXPECT_EQ(passes[0].splits, 2);
  }
  // Short K bounds the splits: 8 BK steps of 128 -> at most 2 splits of 4 steps.
  status = marlin::choose_exec_config(problem(1, 4096, 1024), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) EXPECT_EQ(passes[0].splits, 2);
  status = marlin::choose_exec_config(problem(1, 4096, 512), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) EXPECT_EQ(passes[0].splits, 1);
  // Few tiles: capped by kMaxSplitK (and by max_split_k of the workspace).
  status = marlin::choose_exec_config(problem(1, 1024, 8192), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 16);
    EXPECT_EQ(passes[0].splits, marlin::kMaxSplitK);
  }
  // More tiles than SMs (4096x22016, M=1: 172 tiles, 2 waves of 32 steps = 64): S = 3 gives
  // 4 waves of 11 steps (45).
  status = marlin::choose_exec_config(problem(1, 22016, 4096), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 172);
    EXPECT_EQ(passes[0].splits, 3);
  }
  // M = 64: the occupancy switch gives 64 tiles of 64 x 64, 32 BK steps -> 2 splits.
  status = marlin::choose_exec_config(problem(64, 4096, 4096), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 64);
    EXPECT_EQ(passes[0].splits, 2);
  }
  // 16-row tiles: at most one work item per SM. M = 16, 4096x12288: 96 tiles -> no split;
  // 28672x8192: 64 tiles -> 2 splits (128 items).
  status = marlin::choose_exec_config(problem(16, 12288, 4096), h100(), table.view, &passes,
                                      nullptr, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 96);
    EXPECT_EQ(passes[0].splits, 1);
  }
  status = marlin::choose_exec_config(problem(16, 8192, 28672), h100(), table.view, &passes,
                                      nullptr, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_EQ(passes[0].tiles, 64);
    EXPECT_EQ(passes[0].splits, 2);
  }
  // 8-row tiles may share an SM: M = 1, 4096x12288 (96 tiles) -> 4 splits, 384 items.
  status = marlin::choose_exec_config(problem(1, 12288, 4096), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  if (passes.size() == 1) EXPECT_EQ(passes[0].splits, 4);
  EXPECT_EQ(marlin::max_split_k(64, 4096), 8);
  EXPECT_EQ(marlin::max_split_k(64, 8192), 4);
  EXPECT_EQ(marlin::max_split_k(64, 28672), 1);
  EXPECT_EQ(marlin::max_split_k(256, 4096), 2);
  EXPECT_EQ(marlin::max_split_k(257, 64), 1);
  // Several launches: never split; the workspace has C_tmp for one launch only.
  status = marlin::choose_exec_config(problem(200, 4096, 4096), h100(), table.view, &passes,
                                      nullptr, kHeuristicOnly);
  for (const ExecPass& pass : passes) EXPECT_EQ(pass.splits, 1);
}

void test_m_loop() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  std::vector<ExecPass> passes;
  // N <= 4096: max_par 128 -> 192 rows in one pass (thread_m_blocks 4), then the 8 left over.
  auto status = marlin::choose_exec_config(problem(200, 4096, 4096), h100(), table.view, &passes,
                                           nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=200");
  EXPECT_EQ(passes.size(), 2u);
  if (passes.size() == 2) {
    expect_pass(passes[0], 0, 192, 256, 4, 16, 4, false);
    expect_pass(passes[1], 192, 8, 128, 1, 4, 8, true);  // 8 rows: occupancy switch to n64
  }
  // N > 4096: max_par 16 -> passes of 1024 rows, then the 52 left over (thread_m_blocks 4).
  status = marlin::choose_exec_config(problem(2100, 8192, 4096), h100(), table.view, &passes,
                                      nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=2100");
  EXPECT_EQ(passes.size(), 3u);
  if (passes.size() == 3) {
    expect_pass(passes[0], 0, 1024, 256, 4, 16, 4, false);
    expect_pass(passes[1], 1024, 1024, 256, 4, 16, 4, false);
    // 32 tiles * 4 <= 132 SMs: the occupancy switch picks the 64-column tile.
    expect_pass(passes[2], 2048, 52, 128, 4, 4, 8, false);
    EXPECT_EQ(passes[0].tiles, 16 * (8192 / 256));
  }
  // M = 0: nothing to launch.
  status = marlin::choose_exec_config(problem(0, 8192, 4096), h100(), table.view, &passes, nullptr,
                                      kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "m=0");
  EXPECT_EQ(passes.size(), 0u);
}

// The wide wgmma tile (kernel_config.h): on sm_90, passes of more than 64 rows of a 64-row
// config whose warpgroups own one unit each run 128-row tiles, with the wide tile's shared memory
// (which is how the kernel knows); elsewhere, and for every other pass, the config's own tiles.
void test_wide_tile() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {8}, 4));
  std::vector<ExecPass> passes;
  marlin::ExecOverride one_unit;  // 128 threads, 64 columns: one warpgroup, one unit
  one_unit.threads = 128;
  one_unit.thread_k = 128;
  one_unit.thread_n = 64;
  one_unit.thread_m_blocks = 4;
  auto status = marlin::choose_exec_config(problem(128, 8192, 28672, kF16, 8), h100(), table.view,
                                           &passes, &one_unit, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "wide m=128");
  EXPECT_EQ(passes.size(), 1u);
  if (passes.size() == 1) {
    const ExecPass& pass = passes[0];
    EXPECT_TRUE(pass.wide_tile);
    EXPECT_EQ(pass.tiles, 8192 / 64);  // one 128-row tile per 64 columns
    EXPECT_EQ(pass.splits, 1);
    const KernelConfig wide = marlin::wide_tile_config(pass.config);
    EXPECT_EQ(wide.thread_m_blocks, marlin::kWideTileBlocks);
    EXPECT_EQ(pass.shared_mem_bytes, marlin::required_shared_mem(wide));
    EXPECT_TRUE(marlin::runs_wide_tile(pass.config, 128, pass.shared_mem_bytes));
    EXPECT_TRUE(
        !marlin::runs_wide_tile(pass.config, 128, marlin::required_shared_mem(pass.config)));
  }
  // Split: 128 wide tiles x 2 partials of 128 x 8192 fp32 (4 MiB each, the workspace's 8 MiB).
  marlin::ExecOverride split = one_unit;
  split.splits = 2;
  status = marlin::choose_exec_config(problem(128, 8192, 28672, kF16, 8), h100(), table.view,
                                      &passes, &split, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "wide m=128 split 2");
  if (passes.size() == 1) {
    EXPECT_TRUE(passes[0].wide_tile);
    EXPECT_EQ(passes[0].splits, 2);
  }
  split.splits = 3;  // a third partial does not fit the workspace
  status = marlin::choose_exec_config(problem(128, 8192, 28672, kF16, 8), h100(), table.view,
                                      &passes, &split, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kInvalidArgument, "forced splits=3", "wide m=128 split 3");
  // 65 rows: one wide tile; 64 rows: the config's own, which the kernel also runs.
  status = marlin::choose_exec_config(problem(65, 8192, 28672, kF16, 8), h100(), table.view,
                                      &passes, &one_unit, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_TRUE(passes[0].wide_tile);
    EXPECT_EQ(passes[0].tiles, 128);
  }
  status = marlin::choose_exec_config(problem(64, 8192, 28672, kF16, 8), h100(), table.view,
                                      &passes, &one_unit, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_TRUE(!passes[0].wide_tile);
    expect_pass(passes[0], 0, 64, 128, 4, 4, 8, false);
    EXPECT_TRUE(!marlin::runs_wide_tile(passes[0].config, 64, passes[0].shared_mem_bytes));
  }
  // sm_80 (no wgmma): the config's own tiles, two per 64 columns.
  DeviceLimits a100 = h100();
  a100.cc_major = 8;
  a100.num_sms = 108;
  a100.max_shared_mem_optin = 166912;
  status = marlin::choose_exec_config(problem(128, 8192, 28672, kF16, 8), a100, table.view, &passes,
                                      &one_unit, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_TRUE(!passes[0].wide_tile);
    expect_pass(passes[0], 0, 128, 128, 4, 4, 8, false);
    EXPECT_EQ(passes[0].tiles, 2 * 128);
  }
  // Two units per warpgroup (128 threads, 128 columns): no wide tile (its accumulators would
  // not fit the registers).
  marlin::ExecOverride two_units = one_unit;
  two_units.thread_k = 64;
  two_units.thread_n = 128;
  status = marlin::choose_exec_config(problem(128, 8192, 28672, kF16, 8), h100(), table.view,
                                      &passes, &two_units, kHeuristicOnly);
  if (passes.size() == 1) {
    EXPECT_TRUE(!passes[0].wide_tile);
    EXPECT_EQ(passes[0].tiles, 2 * 64);
  }
}

void test_retry_fewer_m_blocks() {
  // A table without thread_m_blocks 4 (and 3): M=64 must fall back to 2.
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1}, 4, /*max_m_blocks=*/2));
  std::vector<ExecPass> passes;
  auto status = marlin::choose_exec_config(problem(64, 8192, 4096), h100(), table.view, &passes,
                                           nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "retry");
  if (passes.size() == 1) {
    expect_pass(passes[0], 0, 64, 256, 2, 16, 4, false);
    EXPECT_EQ(passes[0].tiles, 2 * (8192 / 256));
  }
}

void test_missing_kernel_messages() {
  FakeTable f16_only(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  std::vector<ExecPass> passes;
  // bf16 not built.
  auto status = marlin::choose_exec_config(problem(1, 4096, 4096, kBF16), h100(), f16_only.view,
                                           &passes, nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kNoKernel,
                "no kernel for a=kBFloat16 b=kU4B8 c=kBFloat16 s=kBFloat16 group_blocks=-1 "
                "(channelwise)",
                "bf16 missing");
  EXPECT_STATUS(status, Code::kNoKernel,
                "build scheme gptq_int4 for this GPU's arch (--cuda_archs=sm_90)",
                "bf16 missing: scheme");
  // group 64 (group_blocks 4) not in the table.
  status = marlin::choose_exec_config(problem(1, 4096, 4096, kF16, 4), h100(), f16_only.view,
                                      &passes, nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kNoKernel, "group_blocks=4 (group size 64)", "group 64 missing");
  // A combination no scheme has: int8 activations with act-order over g_idx.
  GemmProblem p = problem(32, 4096, 4096, marlin::kS8.id(), 0);
  status = marlin::choose_exec_config(p, h100(), f16_only.view, &passes, nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kNoKernel, "no scheme of the vllm preset has these types",
                "no scheme");
  // sm_75: stage-2 kernels are what is missing, and the message names sm_75.
  DeviceLimits turing = h100();
  turing.cc_major = 7;
  turing.cc_minor = 5;
  turing.max_shared_mem_optin = 65536;
  status = marlin::choose_exec_config(problem(1, 4096, 4096), turing, f16_only.view, &passes,
                                      nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kNoKernel, "stages=2", "sm75 stages");
  EXPECT_STATUS(status, Code::kNoKernel, "--cuda_archs=sm_75", "sm75 arch");
  FakeTable sm75(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1}, 2), false, true);
  status = marlin::choose_exec_config(problem(1, 4096, 4096), turing, sm75.view, &passes, nullptr,
                                      kHeuristicOnly);
  EXPECT_STATUS(status, Code::kOk, "", "sm75 built");
  if (!passes.empty()) EXPECT_EQ(passes[0].config.stages, 2);
}

void test_shape_and_smem_errors() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  std::vector<ExecPass> passes;
  auto status = marlin::choose_exec_config(problem(1, 4096, 4112), h100(), table.view, &passes,
                                           nullptr, kHeuristicOnly);
  EXPECT_STATUS(status, Code::kInvalidArgument, "size_k must be a multiple of 64", "k=4112");
  DeviceLimits tiny = h100();
  tiny.max_shared_mem_optin = 1024;
  status = marlin::choose_exec_config(problem(1, 4096, 4096), tiny, table.view, &passes, nullptr,
                                      kHeuristicOnly);
  EXPECT_STATUS(status, Code::kUnsupportedDevice, "1024 available", "smem");
}

void test_device_support() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1}, 4));
  DeviceLimits volta = h100();
  volta.cc_major = 7;
  volta.cc_minor = 0;
  EXPECT_STATUS(marlin::check_device_support(problem(1, 64, 64), volta, table.view),
                Code::kUnsupportedDevice, "compute capability >= 7.5; device 0 is sm_70", "sm70");
  GemmProblem fp8 = problem(16, 4096, 4096, marlin::kFE4M3fn.id());
  EXPECT_STATUS(marlin::check_device_support(fp8, h100(), table.view), Code::kNoKernel,
                "marlin kernel with fp8 activation is not built (add sm_89/sm_120 or compute_89 to "
                "--cuda_archs)",
                "fp8 not built");
  FakeTable fp8_table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1}, 4), /*fp8=*/true);
  DeviceLimits ampere = h100();
  ampere.cc_major = 8;
  ampere.cc_minor = 0;
  EXPECT_STATUS(marlin::check_device_support(fp8, ampere, fp8_table.view), Code::kUnsupportedDevice,
                "need compute capability >= 8.9", "fp8 on sm80");
  EXPECT_STATUS(marlin::check_device_support(fp8, h100(), fp8_table.view), Code::kOk, "",
                "fp8 on sm90");
  DeviceLimits turing = h100();
  turing.cc_major = 7;
  turing.cc_minor = 5;
  EXPECT_STATUS(marlin::check_device_support(problem(1, 64, 64, kBF16), turing, table.view),
                Code::kUnsupportedDevice, "on sm_75 marlin runs only kFloat16 or kS8", "sm75 bf16");
  EXPECT_STATUS(marlin::check_device_support(problem(1, 64, 64), turing, table.view),
                Code::kNoKernel, "add sm_75 to --cuda_archs", "sm75 not built");
}

void test_scheme_for() {
  using namespace marlin;
  auto name = [](const char* s) { return std::string(s ? s : "(none)"); };
  EXPECT_TRUE(name(scheme_for(kF16, kU4B8, kF16, kF16, 8, false)) == "gptq_int4");
  EXPECT_TRUE(name(scheme_for(kBF16, kU4B8, kBF16, kBF16, 0, false)) == "gptq_int4");
  EXPECT_TRUE(name(scheme_for(kF16, kU4.id(), kF16, kF16, 4, false)) == "awq_int4");
  EXPECT_TRUE(name(scheme_for(kF16, kU4.id(), kF16, kF16, 4, true)) == "hqq_int4");
  EXPECT_TRUE(name(scheme_for(kF16, kU8B128.id(), kF16, kF16, -1, false)) == "gptq_int8");
  EXPECT_TRUE(name(scheme_for(kBF16, kFE4M3fn.id(), kBF16, kBF16, 8, false)) == "fp8");
  EXPECT_TRUE(name(scheme_for(kF16, kFE2M1f.id(), kF16, kFE4M3fn.id(), 1, false)) == "nvfp4");
  EXPECT_TRUE(name(scheme_for(kBF16, kFE2M1f.id(), kBF16, kFE8M0fnu.id(), 2, false)) == "mxfp4");
  EXPECT_TRUE(name(scheme_for(kS8.id(), kU4.id(), kBF16, kBF16, 2, false)) == "awq_int4_a_int8");
  EXPECT_TRUE(name(scheme_for(kS8.id(), kU4B8, kF16, kF16, -1, false)) == "gptq_int4_a_int8");
  EXPECT_TRUE(name(scheme_for(kFE4M3fn.id(), kU4B8, kF16, kF16, 8, false)) == "gptq_int4_a_fp8");
  EXPECT_TRUE(name(scheme_for(kFE4M3fn.id(), kU4.id(), kF16, kF16, 8, false)) == "awq_int4_a_fp8");
  EXPECT_TRUE(name(scheme_for(kFE4M3fn.id(), kFE2M1f.id(), kBF16, kFE8M0fnu.id(), 2, false)) ==
              "mxfp4_a_fp8");
  // Not in the preset: fp8 weights with group 64, int8 activations with g_idx, mxfp4 with f16.
  EXPECT_TRUE(name(scheme_for(kF16, kFE4M3fn.id(), kF16, kF16, 4, false)) == "(none)");
  EXPECT_TRUE(name(scheme_for(kS8.id(), kU4B8, kF16, kF16, 0, false)) == "(none)");
  EXPECT_TRUE(name(scheme_for(kF16, kFE2M1f.id(), kF16, kFE8M0fnu.id(), 2, false)) == "(none)");
}

}  // namespace

// The generated table: every entry is a config the preset instantiates and the dispatcher
// takes for its own shape on a GPU with its SM count, with activations and weights of its
// widths (int8 activations for the 8-bit entries: no 8-row tile; GPTQ int8 weights for b_bits 8).
void test_measured_table() {
  FakeTable table16(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  FakeTable table16_b8(scheme_kernels(kF16, marlin::kU8B128.id(), kF16, kF16, {-1, 8}, 4));
  FakeTable table8(scheme_kernels(kInt8Act, kU4B8, kF16, kF16, {-1, 8}, 4));
  const marlin::DispatchTable& measured = marlin::measured_dispatch();
  EXPECT_TRUE(measured.size > 0);
  for (int i = 0; i < measured.size; ++i) {
    const marlin::DispatchEntry& e = measured.entries[i];
    EXPECT_TRUE(e.a_bits == 16 || e.a_bits == 8);
    EXPECT_TRUE(e.b_bits == 4 || (e.b_bits == 8 && e.a_bits == 16));
    EXPECT_TRUE(e.splits >= 1 && e.splits <= marlin::kMaxSplitK);
    EXPECT_TRUE(!e.m_block_size_8 || (e.thread_m_blocks == 1 && e.m <= 8 && e.a_bits == 16));
    DeviceLimits d = h100();
    d.num_sms = e.sms;
    std::vector<ExecPass> passes;
    const bool a16 = e.a_bits == 16;
    const bool b8 = e.b_bits == 8;
    const ScalarTypeId b = b8 ? marlin::kU8B128.id() : kU4B8;
    auto status = marlin::choose_exec_config(problem(e.m, e.n, e.k, a16 ? kF16 : kInt8Act, 8, b), d,
                                             !a16 ? table8.view
                                             : b8 ? table16_b8.view
                                                  : table16.view,
                                             &passes, nullptr, measured);
    EXPECT_STATUS(status, Code::kOk, "", "measured entry");
    EXPECT_TRUE(!passes.empty());
    if (passes.empty()) continue;
    const KernelConfig& c = passes[0].config;
    EXPECT_EQ(c.threads, e.threads);
    EXPECT_EQ(16 * c.thread_k_blocks, e.thread_k);
    EXPECT_EQ(16 * c.thread_n_blocks, e.thread_n);
    EXPECT_EQ(c.thread_m_blocks, e.thread_m_blocks);
    EXPECT_EQ(c.m_block_size_8, e.m_block_size_8);
    EXPECT_EQ(passes[0].splits, e.splits);
  }
}

// Lookup rules on a hand-made table: SM count, M bucket, nearest shape, clamped splits, and the
// heuristic when the measured config does not serve the problem.
void test_measured_lookup() {
  FakeTable table(scheme_kernels(kF16, kU4B8, kF16, kF16, {-1, 8}, 4));
  const marlin::DispatchEntry entries[] = {
      {132, 16, 4, 4096, 4096, 1, 128, 64, 128, 1, false, 8, 10.f},
      {132, 16, 4, 4096, 4096, 16, 256, 128, 128, 1, false, 4, 12.f},
      {132, 16, 4, 8192, 28672, 1, 128, 64, 128, 1, true, 4, 60.f},
      {132, 16, 4, 4096, 4096, 256, 256, 128, 128, 4, false, 1, 40.f},  // no such kernel
      {132, 8, 4, 4096, 4096, 1, 128, 128, 64, 1, false, 3, 11.f},
      {132, 16, 8, 4096, 4096, 1, 256, 128, 128, 1, true, 2, 12.f},
  };
  const marlin::DispatchTable dispatch{entries, 6};
  std::vector<ExecPass> passes;
  // M = 1 near 4096x4096 (4096x5120): entry 0.
  auto status = marlin::choose_exec_config(problem(1, 5120, 4096), h100(), table.view, &passes,
                                           nullptr, dispatch);
  EXPECT_STATUS(status, Code::kOk, "", "m=1 lookup");
  if (passes.size() == 1) {
    expect_pass(passes[0], 0, 1, 128, 1, 8, 4, false);
    EXPECT_EQ(passes[0].splits, 8);
  }
  // M = 2..16 take the M = 16 entry; K = 512 allows only 8 BK steps of 64 (fine) -> 4 splits.
  status = marlin::choose_exec_config(problem(9, 4096, 4096), h100(), table.view, &passes, nullptr,
                                      dispatch);
  if (passes.size() == 1) expect_pass(passes[0], 0, 9, 256, 1, 8, 8, false);
  // Splits clamped to what the BK steps allow: K = 256 has 4 steps of 64.
  status = marlin::choose_exec_config(problem(1, 4096, 256), h100(), table.view, &passes, nullptr,
                                      dispatch);
  if (passes.size() == 1) EXPECT_EQ(passes[0].splits, 4);
  // Nearest shape of a large problem: entry 2 (8-row tile).
  status = marlin::choose_exec_config(problem(1, 28672, 8192), h100(), table.view, &passes, nullptr,
                                      dispatch);
  if (passes.size() == 1) expect_pass(passes[0], 0, 1, 128, 1, 8, 4, true);
  // The M = 256 entry names no compiled kernel: the heuristic decides (not an error).
  status = marlin::choose_exec_config(problem(256, 4096, 4096), h100(), table.view, &passes,
                                      nullptr, dispatch);
  EXPECT_STATUS(status, Code::kOk, "", "fallback");
  // 8-bit activations take the 8-bit entry of the nearest shape, 16-bit ones never do.
  FakeTable table8(scheme_kernels(kInt8Act, kU4B8, kF16, kF16, {-1, 8}, 4));
  status = marlin::choose_exec_config(problem(1, 28672, 8192, kInt8Act), h100(), table8.view,
                                      &passes, nullptr, dispatch);
  EXPECT_STATUS(status, Code::kOk, "", "8-bit lookup");
  if (passes.size() == 1) {
    expect_pass(passes[0], 0, 1, 128, 1, 4, 8, false);
    EXPECT_EQ(passes[0].splits, 3);
  }
  // 8-bit weights take the entry measured with them; 4-bit weights never do (entry 0 above).
  FakeTable table_b8(scheme_kernels(kF16, marlin::kU8B128.id(), kF16, kF16, {-1, 8}, 4));
  status = marlin::choose_exec_config(problem(1, 4096, 4096, kF16, -1, marlin::kU8B128.id()),
                                      h100(), table_b8.view, &passes, nullptr, dispatch);
  EXPECT_STATUS(status, Code::kOk, "", "8-bit weights lookup");
  if (passes.size() == 1) {
    expect_pass(passes[0], 0, 1, 256, 1, 8, 8, true);
    EXPECT_EQ(passes[0].splits, 2);
  }
  // With no entry of their width, 8-bit weights take the 4-bit ones (entry 0).
  const marlin::DispatchTable only_b4{entries, 5};
  status = marlin::choose_exec_config(problem(1, 5120, 4096, kF16, -1, marlin::kU8B128.id()),
                                      h100(), table_b8.view, &passes, nullptr, only_b4);
  if (passes.size() == 1) {
    expect_pass(passes[0], 0, 1, 128, 1, 8, 4, false);
    EXPECT_EQ(passes[0].splits, 8);
  }
  const marlin::DispatchTable only8{entries + 4, 1};
  std::vector<ExecPass> heuristic16;
  (void)marlin::choose_exec_config(problem(1, 4096, 4096), h100(), table.view, &passes, nullptr,
                                   only8);
  (void)marlin::choose_exec_config(problem(1, 4096, 4096), h100(), table.view, &heuristic16,
                                   nullptr, kHeuristicOnly);
  if (passes.size() == 1 && heuristic16.size() == 1) {
    EXPECT_TRUE(passes[0].config == heuristic16[0].config);
    EXPECT_EQ(passes[0].splits, heuristic16[0].splits);
  }
  // Another SM count: nothing measured, the heuristic's choice.
  DeviceLimits other = h100();
  other.num_sms = 114;
  std::vector<ExecPass> heuristic;
  status = marlin::choose_exec_config(problem(1, 4096, 4096), other, table.view, &passes, nullptr,
                                      dispatch);
  (void)marlin::choose_exec_config(problem(1, 4096, 4096), other, table.view, &heuristic, nullptr,
                                   kHeuristicOnly);
  if (passes.size() == 1 && heuristic.size() == 1) {
    EXPECT_TRUE(passes[0].config == heuristic[0].config);
    EXPECT_EQ(passes[0].splits, heuristic[0].splits);
  }
}

int main() {
  test_measured_table();
  test_measured_lookup();
  test_find_kernel();
  test_small_m();
  test_split_k();
  test_m_loop();
  test_wide_tile();
  test_retry_fewer_m_blocks();
  test_missing_kernel_messages();
  test_shape_and_smem_errors();
  test_device_support();
  test_scheme_for();
  return TEST_MAIN_RESULT();
}
