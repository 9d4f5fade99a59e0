// The pure (CUDA-free) half of marlin::gemm: argument validation, the workspace layout, device
// capability rules and upstream's execution-config choice over a selector table. Nothing here
// touches a GPU, so tests/cc/host_* check it with a fake table and fake device limits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "marlin/csrc/generated/dispatch_table.h"
#include "marlin/gemm.h"
#include "marlin/kernel_config.h"
#include "marlin/status.h"

namespace marlin {

// What gemm() needs to know about the current GPU.
struct DeviceLimits {
  int device = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int num_sms = 0;
  int max_shared_mem_optin = 0;           // cudaDevAttrMaxSharedMemoryPerBlockOptin, bytes
  int shared_mem_per_sm = 0;              // cudaDevAttrMaxSharedMemoryPerMultiprocessor, bytes
  int reserved_shared_mem_per_block = 0;  // cudaDevAttrReservedSharedMemoryPerBlock, bytes
};

// "sm_90" for compute capability 9.0: the --cuda_archs spelling used in error messages.
std::string arch_name(const DeviceLimits& device);

// A view of a selector table: the generated one (kernel_table() in gemm.cu) or a test fake.
struct KernelTable {
  const KernelConfig* configs = nullptr;  // strictly sorted by pack_kernel_key
  const char* const* files = nullptr;     // generated file per entry; may be null
  int size = 0;
  bool fp8_activation_built = false;
  bool sm75_built = false;
};

// The generated selector of this build (defined in gemm.cu, which includes kernel_selector.h).
const KernelTable& kernel_table();

// Index of `config` in `table` (binary search on pack_kernel_key), or -1.
int find_kernel(const KernelTable& table, const KernelConfig& config);

// Where gemm() puts its scratch inside the caller's workspace. Locks come first (split-K tickets,
// one int32 per output tile; the kernel leaves them at 0 again), then the act-order copy of A,
// then C_tmp, the split-K partial sums: max_split_k(M, N) slices of fp32 [M, N].
struct WorkspaceLayout {
  int64_t locks_offset = 0;
  int64_t locks_bytes = 0;
  int64_t a_perm_offset = 0;
  int64_t a_perm_bytes = 0;
  int64_t c_tmp_offset = 0;
  int64_t c_tmp_bytes = 0;
  int64_t total_bytes = 0;
};

// A validated call, reduced to what the kernel choice and the launch need.
struct GemmProblem {
  ScalarTypeId a_type = 0, b_type = 0, c_type = 0, s_type = 0;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0;  // as given (0 resolved to k); the permuted copy uses k
  int64_t num_groups = 1;
  int64_t group_size = -1;  // rows per scale group; -1 channelwise, 0 by g_idx (act-order shard)
  int group_blocks = -1;    // kernel template value: -1 channelwise, 0 g_idx, else group_size/16
  bool act_order = false;   // perm/g_idx given: A is permuted into the workspace first
  bool is_zp_float = false;
  bool has_bias = false;
  int a_elem_bytes = 2;
  int c_elem_bytes = 2;
  WorkspaceLayout workspace;  // computed once, by validate_gemm_args; the launches use it
};

inline constexpr int64_t kLocksBytes = 4096;  // 1024 int32: one per output tile when split
// Split-K (design.md section 10): only problems of at most kSplitKMaxRows rows (one launch), at
// most kMaxSplitK splits, and C_tmp of at most kSplitKScratchBytes. 256 rows: the wide wgmma tile
// (kernel_config.h) has half the tiles of the 64-row one and needs the splits to fill the GPU.
inline constexpr int64_t kSplitKMaxRows = 256;
inline constexpr int kMaxSplitK = 8;
inline constexpr int64_t kSplitKScratchBytes = int64_t{8} << 20;
// Fewest BK steps per split (the ring keeps stages - 1 steps in flight).
inline constexpr int64_t kMinStepsPerSplit = 4;
// The most splits the workspace of an M x N problem has room for (1: no split-K). Depends only
// on the shape, so that marlin_gemm_workspace_bytes needs no device.
int max_split_k(int64_t size_m, int64_t size_n);
// total_bytes is -1 when a size is negative or a product overflows int64.
WorkspaceLayout workspace_layout(int64_t size_m, int64_t size_n, int64_t size_k, int a_elem_bytes,
                                 bool has_act_order);
// gemm_workspace_bytes with the reason: InvalidArgument naming the sizes when one is negative or
// beyond int32 (the kernel's size type, which marlin::gemm refuses too), or naming a_type when it
// is not an activation type.
Status workspace_bytes_for(int64_t size_m, int64_t size_n, int64_t size_k, int64_t a_type,
                           bool has_act_order, int64_t* bytes);

// Every check that needs no GPU: types, sizes, strides, alignment, optional-argument
// consistency, workspace size, overlaps. The one validator of a gemm call: the Python package
// checks only what the C arguments cannot carry (tensor objects, dtypes, devices, strides). On
// success fills *problem, including its workspace layout.
Status validate_gemm_args(const GemmArgs& args, GemmProblem* problem);

// Rules that depend on the GPU and the build but not on the shape: compute capability >= 7.5,
// fp8 activations need an sm_89+ kernel build and GPU, sm_75 runs only f16/int8 activations.
Status check_device_support(const GemmProblem& problem, const DeviceLimits& device,
                            const KernelTable& table);

// One kernel launch of upstream's M loop: rows [row_begin, row_begin + rows).
struct ExecPass {
  int64_t row_begin = 0;
  int64_t rows = 0;
  int kernel_index = -1;
  KernelConfig config{};
  int shared_mem_bytes = 0;
  // The config's wide 128-row wgmma tile (kernel_config.h, runs_wide_tile), with its shared
  // memory in shared_mem_bytes: on sm_90 for passes of more than 64 rows (set_pass_tiles).
  bool wide_tile = false;
  int64_t tiles = 0;  // output tiles of this pass; the launch uses min(tiles, resident blocks)
  int splits = 1;     // split-K: S >= 2 launches exactly tiles * S blocks, partials in C_tmp
};

// Split-K count for one pass (1 = none): the S that minimises the BK steps of the busiest SM,
// ceil(tiles * S / #SMs) * ceil(steps / S) (+1 for the reduction when S >= 2), with S at most
// steps / kMinStepsPerSplit and max_split_k(M, N); for tiles of 16+ rows also tiles * S <= #SMs.
int choose_split_k(const GemmProblem& problem, const DeviceLimits& device, const ExecPass& pass);

// Measured exec configs (dispatch_table.h, from tools/dispatch_table.py): the entries of one or
// more GPUs, told apart by SM count.
struct DispatchTable {
  const DispatchEntry* entries = nullptr;
  int size = 0;
};
const DispatchTable& measured_dispatch();  // the generated table

// The exec config of each M pass (design.md section 11): for the tensor-core body on a GPU the
// dispatch table has measurements for, the measured config of the nearest shape when it serves
// the problem; otherwise upstream's M loop and thread-config priority lists over `table` (see
// exec_config.cc). With `force` (tuning tools), that exec config for every pass instead, or an
// error naming why not.
Status choose_exec_config(const GemmProblem& problem, const DeviceLimits& device,
                          const KernelTable& table, std::vector<ExecPass>* passes,
                          const ExecOverride* force = nullptr,
                          const DispatchTable& dispatch = measured_dispatch());

// The scheme of design.md section 2 that would contain a kernel with these types and
// group_blocks, or nullptr when no scheme of the vllm preset does.
const char* scheme_for(ScalarTypeId a_type, ScalarTypeId b_type, ScalarTypeId c_type,
                       ScalarTypeId s_type, int group_blocks, bool is_zp_float);

// "kFloat16", or "unknown type id 123" for ids outside scalar_type.h.
std::string type_name(ScalarTypeId id);

}  // namespace marlin
