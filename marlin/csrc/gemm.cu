// marlin::gemm: validation, kernel choice (exec_config.cc) and the launches.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "marlin/csrc/cuda_checks.h"
#include "marlin/csrc/exec_config.h"
#include "marlin/csrc/kernel_args.h"
#include "marlin/gemm.h"
#include "marlin/kernel.h"
#include "marlin/kernel_selector.h"  // generated (design.md section 8)

namespace marlin {

const KernelTable& kernel_table() {
  static const KernelTable table = {
      generated::kKernelConfigs,      generated::kKernelFiles, generated::kNumKernels,
      generated::kFp8ActivationBuilt, generated::kSm75Built,
  };
  return table;
}

namespace {

// A[m, k] -> out[m, perm[k]]-gathered copy (act-order): out[m, j] = a[m, perm[j]], dense rows.
// An out-of-range perm entry reads nothing and yields `bad` (NaN where the type has one), so a
// corrupt perm shows up in the output rather than as an illegal address.
template <typename T>
__global__ void permute_columns_kernel(const T* __restrict__ a, int64_t lda,
                                       const int32_t* __restrict__ perm, T* __restrict__ out,
                                       int64_t size_m, int64_t size_k, T bad) {
  const int64_t total = size_m * size_k;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / size_k;
    const int64_t col = i - row * size_k;
    const int32_t source = __ldg(perm + col);
    out[i] = (source >= 0 && source < size_k) ? a[row * lda + source] : bad;
  }
}

Status permute_columns(const GemmProblem& p, const void* a, const int32_t* perm, void* out,
                       const DeviceLimits& device, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t total = p.m * p.k;
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>((total + kThreads - 1) / kThreads, 8LL * device.num_sms));
  if (p.a_elem_bytes == 2) {
    // Quiet NaN of the activation type.
    const uint16_t nan = p.a_type == kBFloat16.id() ? 0x7FC0 : 0x7E00;
    permute_columns_kernel<uint16_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        static_cast<const uint16_t*>(a), p.lda, perm, static_cast<uint16_t*>(out), p.m, p.k, nan);
  } else {
    const uint8_t bad = p.a_type == kFE4M3fn.id() ? 0x7F : 0;  // e4m3fn NaN; int8 has none
    permute_columns_kernel<uint8_t><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        static_cast<const uint8_t*>(a), p.lda, perm, static_cast<uint8_t*>(out), p.m, p.k, bad);
  }
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return cuda_error(error, "launching the act-order permutation of a");
  return Status::Ok();
}

// A launch feature's switch: the environment variable `name` set to 0 turns it off, e.g. to time
// without it; unset or 1 leaves it on where the kernel supports it. Any other value is an error.
Status feature_switch(const char* name, const char* value, bool* enabled) {
  const std::string text = value != nullptr ? value : "1";
  if (text != "0" && text != "1") {
    return Status::Error(Code::kInvalidArgument,
                         std::string(name) + " must be 0 or 1, got '" + text + "'");
  }
  *enabled = text == "1";
  return Status::Ok();
}

// Both read once (design.md section 11): programmatic dependent launch, and split-K launches in
// thread-block clusters whose splits sum through distributed shared memory.
Status dependent_launch_enabled(bool* enabled) {
  static const char* const value = std::getenv("MARLIN_DEPENDENT_LAUNCH");
  return feature_switch("MARLIN_DEPENDENT_LAUNCH", value, enabled);
}
Status cluster_split_enabled(bool* enabled) {
  static const char* const value = std::getenv("MARLIN_CLUSTER_SPLIT");
  return feature_switch("MARLIN_CLUSTER_SPLIT", value, enabled);
}

// What one (device, kernel) pair needs at launch, found once: cudaFuncSetAttribute and the
// occupancy query cost more than a small GEMM's launch.
struct PreparedKernel {
  int blocks_per_sm = 0;  // 0 = not prepared yet
  // Compiled for compute_90+, so it waits for the previous grid (griddepcontrol) before its
  // reads: only then may it be launched before that grid ends.
  bool dependent_launch = false;
  // Split-K in clusters (mma_body.cuh: a tile's splits sum through distributed shared memory),
  // compiled for compute_90+: cluster_capacity[b][S] clusters of S blocks fit on the GPU at
  // b blocks per SM (balanced_smem[b], or the kernel's own at b = blocks_per_sm); 0 where they
  // do not, or without clusters.
  std::vector<std::array<int, kMaxSplitK + 1>> cluster_capacity;
  // balanced_smem[b]: dynamic shared memory that lets exactly b blocks share an SM (0: none
  // found), for b < blocks_per_sm; see launch_shared_mem.
  std::vector<int> balanced_smem;
};

// *out points into a table filled once per device and never resized: no copy per launch.
Status prepare_kernel(const DeviceLimits& device, const ExecPass& pass,
                      const PreparedKernel** out) {
  constexpr int kMaxDevices = 64;
  static std::mutex mutex;
  static std::vector<PreparedKernel> prepared[kMaxDevices];

  std::lock_guard<std::mutex> lock(mutex);
  // Per kernel, its own tiles and its wide tile (kernel_config.h): their shared memory differs.
  std::vector<PreparedKernel>& per_kernel = prepared[device.device];
  if (per_kernel.empty()) {
    per_kernel.assign(2 * std::max(1, generated::kNumKernels), PreparedKernel{});
  }
  PreparedKernel& cached = per_kernel[2 * pass.kernel_index + (pass.wide_tile ? 1 : 0)];
  if (cached.blocks_per_sm > 0) {
    *out = &cached;
    return Status::Ok();
  }
  bool dependent_launch = false;
  Status status = dependent_launch_enabled(&dependent_launch);
  if (!status.ok()) return status;
  bool cluster_split = false;
  status = cluster_split_enabled(&cluster_split);
  if (!status.ok()) return status;
  const void* fn = reinterpret_cast<const void*>(generated::kKernelFns[pass.kernel_index]);
  cudaFuncAttributes attributes{};
  cudaError_t error = cudaFuncGetAttributes(&attributes, fn);
  if (error == cudaErrorInvalidDeviceFunction || error == cudaErrorNoKernelImageForDevice) {
    (void)cudaGetLastError();
    return NoKernel(std::string("kernel ") + generated::kKernelFiles[pass.kernel_index] +
                    " was not compiled for this GPU (" + arch_name(device) + "): add " +
                    arch_name(device) + " to --cuda_archs");
  }
  if (error != cudaSuccess) return cuda_error(error, "cudaFuncGetAttributes(marlin kernel)");
  // The device's whole opt-in once: the limit is the function's, shared by both cache entries
  // and every padded size below; what a launch gets is its own dynamic size.
  error = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               device.max_shared_mem_optin);
  if (error != cudaSuccess) {
    return cuda_error(error, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize = " +
                                 std::to_string(device.max_shared_mem_optin) + ")");
  }
  PreparedKernel ready;
  int blocks = 0;
  error = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, fn, pass.config.threads,
                                                        pass.shared_mem_bytes);
  if (error != cudaSuccess)
    return cuda_error(error, "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  ready.blocks_per_sm = std::max(1, blocks);
  // ptxVersion is the virtual arch the code was compiled from: a compute_89 kernel JIT-compiled
  // for sm_90 has no griddepcontrol.wait and must not start early.
  ready.dependent_launch = dependent_launch && attributes.ptxVersion >= 90;
  if (ready.dependent_launch || (cluster_split && attributes.ptxVersion >= 90)) {
    // A grid launched early lands its blocks wherever the previous grid has left room, up to
    // blocks_per_sm on one SM while others get none (measured: up to 1.4x slower at two blocks
    // per SM). Padding the shared memory so that only ceil(grid / SMs) blocks fit on an SM
    // spreads them as a launch on an idle GPU does. Found once per count, checked with the
    // occupancy calculator.
    ready.balanced_smem.assign(ready.blocks_per_sm, 0);
    const int reserve = device.reserved_shared_mem_per_block;
    for (int b = ready.blocks_per_sm - 1; b >= 1; --b) {
      int smem = device.shared_mem_per_sm / (b + 1) - reserve + 128;  // b + 1 do not fit
      smem = std::max(pass.shared_mem_bytes, (smem + 127) / 128 * 128);
      if (smem > device.max_shared_mem_optin) break;  // b - 1 needs even more
      int fit = 0;
      error = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fit, fn, pass.config.threads, smem);
      if (error != cudaSuccess) break;
      if (fit == b) ready.balanced_smem[b] = smem;
    }
    (void)cudaGetLastError();
  }
  if (cluster_split && attributes.ptxVersion >= 90) {
    // The hardware places a cluster's blocks in one GPC and, where they fit, several on one SM
    // while others stay idle (measured: up to 1.8x slower than a plain launch), so clusters
    // launch with the shared memory of ceil(grid / SMs) blocks per SM, and only where every
    // cluster then fits at once.
    static_assert(kMaxSplitK <= 8, "clusters of more than 8 blocks are not portable");
    ready.cluster_capacity.assign(ready.blocks_per_sm + 1, {});
    for (int b = 1; b <= ready.blocks_per_sm; ++b) {
      const int smem = b < ready.blocks_per_sm ? ready.balanced_smem[b] : pass.shared_mem_bytes;
      for (int splits = 2; splits <= kMaxSplitK && smem > 0; ++splits) {
        cudaLaunchConfig_t probe{};
        probe.gridDim = dim3(static_cast<unsigned>(splits));
        probe.blockDim = dim3(pass.config.threads);
        probe.dynamicSmemBytes = static_cast<size_t>(smem);
        cudaLaunchAttribute cluster{};
        cluster.id = cudaLaunchAttributeClusterDimension;
        cluster.val.clusterDim.x = static_cast<unsigned>(splits);
        cluster.val.clusterDim.y = 1;
        cluster.val.clusterDim.z = 1;
        probe.attrs = &cluster;
        probe.numAttrs = 1;
        error = cudaOccupancyMaxActiveClusters(&ready.cluster_capacity[b][splits], fn, &probe);
        if (error != cudaSuccess) return cuda_error(error, "cudaOccupancyMaxActiveClusters");
      }
    }
  }
  cached = std::move(ready);  // only a fully prepared kernel is cached
  *out = &cached;
  return Status::Ok();
}

// Dynamic shared memory for a launch of `grid` blocks: the kernel's own, or, for an early
// (dependent) launch that fits on the GPU at fewer blocks per SM than could share one, the
// padded size that keeps them spread (prepare_kernel).
int launch_shared_mem(const PreparedKernel& prepared, const DeviceLimits& device,
                      const ExecPass& pass, int64_t grid, bool clustered) {
  if (!prepared.dependent_launch && !clustered) return pass.shared_mem_bytes;
  const int64_t per_sm = (grid + device.num_sms - 1) / device.num_sms;
  if (per_sm >= prepared.blocks_per_sm) return pass.shared_mem_bytes;
  const int padded = prepared.balanced_smem[per_sm];
  return padded > 0 ? padded : pass.shared_mem_bytes;
}

Status launch_pass(const GemmArgs& args, const GemmProblem& p, const DeviceLimits& device,
                   const ExecPass& pass, const void* a_base, int64_t lda, int* locks, float* c_tmp,
                   cudaStream_t stream) {
  const PreparedKernel* kernel_info = nullptr;
  Status status = prepare_kernel(device, pass, &kernel_info);
  if (!status.ok()) return status;
  const PreparedKernel& prepared = *kernel_info;

  KernelArgs kernel_args;
  kernel_args.A = reinterpret_cast<const int4*>(static_cast<const char*>(a_base) +
                                                pass.row_begin * lda * p.a_elem_bytes);
  kernel_args.B = static_cast<const int4*>(args.b_q_weight);
  kernel_args.C =
      reinterpret_cast<int4*>(static_cast<char*>(args.c) + pass.row_begin * p.n * p.c_elem_bytes);
  // Split-K: C_tmp set and exactly tiles * splits blocks (launch contract); else neither.
  kernel_args.C_tmp = pass.splits > 1 ? c_tmp : nullptr;
  kernel_args.b_bias_ptr = static_cast<const int4*>(args.b_bias);
  kernel_args.a_scales_ptr = args.a_scales != nullptr ? args.a_scales + pass.row_begin : nullptr;
  kernel_args.scales_ptr = static_cast<const int4*>(args.b_scales);
  kernel_args.global_scale_ptr = args.global_scale;
  kernel_args.zp_ptr = static_cast<const int4*>(args.b_zeros);
  kernel_args.g_idx = p.group_blocks == 0 ? args.g_idx : nullptr;
  kernel_args.num_groups = static_cast<int>(p.num_groups);
  kernel_args.prob_m = static_cast<int>(pass.rows);
  kernel_args.prob_n = static_cast<int>(p.n);
  kernel_args.prob_k = static_cast<int>(p.k);
  kernel_args.lda = static_cast<int>(lda);
  kernel_args.locks = locks;
  kernel_args.has_bias = p.has_bias;
  kernel_args.use_atomic_add = args.use_atomic_add;
  kernel_args.use_fp32_reduce = args.use_fp32_reduce;
  kernel_args.max_shared_mem = pass.shared_mem_bytes;  // what this launch actually has

  const int64_t resident = static_cast<int64_t>(device.num_sms) * prepared.blocks_per_sm;
  cudaLaunchConfig_t launch{};
  const int64_t grid = pass.splits > 1 ? pass.tiles * pass.splits
                                       : std::max<int64_t>(1, std::min(pass.tiles, resident));
  // One cluster per tile: its splits (grid = tiles * splits) sum through each other's shared
  // memory, C_tmp and the locks untouched; where every cluster fits at once, spread.
  const int64_t per_sm = (grid + device.num_sms - 1) / device.num_sms;
  const bool clustered = pass.splits > 1 &&
                         per_sm < static_cast<int64_t>(prepared.cluster_capacity.size()) &&
                         pass.tiles <= prepared.cluster_capacity[per_sm][pass.splits];
  launch.gridDim = dim3(static_cast<unsigned>(grid));
  launch.blockDim = dim3(pass.config.threads);
  launch.dynamicSmemBytes =
      static_cast<size_t>(launch_shared_mem(prepared, device, pass, grid, clustered));
  launch.stream = stream;
  // The kernel may start while the previous one in the stream finishes: its blocks prefetch
  // their first weights into L2, then wait for that grid (kernel_common.cuh).
  cudaLaunchAttribute attributes[2]{};
  unsigned num_attributes = 0;
  if (prepared.dependent_launch) {
    cudaLaunchAttribute& attribute = attributes[num_attributes++];
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
  }
  if (clustered) {
    cudaLaunchAttribute& attribute = attributes[num_attributes++];
    attribute.id = cudaLaunchAttributeClusterDimension;
    attribute.val.clusterDim.x = static_cast<unsigned>(pass.splits);
    attribute.val.clusterDim.y = 1;
    attribute.val.clusterDim.z = 1;
  }
  launch.attrs = attributes;
  launch.numAttrs = num_attributes;
  // The typed launch: kKernelFns holds MarlinKernelFn, and kernel_args.h checks that the fields
  // match its parameters in type and name, so no argument is converted or shifted on the way.
  const MarlinKernelFn kernel = generated::kKernelFns[pass.kernel_index];
  const cudaError_t error = apply_in_kernel_order(
      kernel_args, [&](auto... values) { return cudaLaunchKernelEx(&launch, kernel, values...); });
  if (error != cudaSuccess) {
    (void)cudaGetLastError();  // reported here; do not leave it for the caller's next check
    return cuda_error(error, std::string("launching marlin kernel ") +
                                 generated::kKernelFiles[pass.kernel_index]);
  }
  return Status::Ok();
}

Status gemm_impl(const GemmArgs& args) {
  GemmProblem p;
  Status status = validate_gemm_args(args, &p);
  if (!status.ok()) return status;
  if (p.m == 0) return Status::Ok();  // nothing to compute, nothing to write

  DeviceLimits device;
  status = current_device_limits(&device);
  if (!status.ok()) return status;
  const KernelTable& table = kernel_table();
  status = check_device_support(p, device, table);
  if (!status.ok()) return status;

  struct Pointer {
    const void* ptr;
    const char* name;
  };
  const Pointer pointers[] = {
      {args.a, "a"},
      {args.c, "c"},
      {args.b_q_weight, "b_q_weight"},
      {args.b_scales, "b_scales"},
      {args.b_zeros, "b_zeros"},
      {args.b_bias, "b_bias"},
      {args.a_scales, "a_scales"},
      {args.global_scale, "global_scale"},
      {args.g_idx, "g_idx"},
      {args.perm, "perm"},
      {args.workspace, "workspace"},
  };
  for (const Pointer& pointer : pointers) {
    status = check_device_pointer(pointer.ptr, pointer.name, device.device);
    if (!status.ok()) return status;
  }

  std::vector<ExecPass> passes;
  status = choose_exec_config(p, device, table, &passes, args.exec_override);
  if (!status.ok()) return status;

  cudaStream_t stream = static_cast<cudaStream_t>(args.stream);
  const WorkspaceLayout& layout = p.workspace;  // validate_gemm_args computed it
  char* workspace = static_cast<char*>(args.workspace);
  int* locks = reinterpret_cast<int*>(workspace + layout.locks_offset);
  float* c_tmp = reinterpret_cast<float*>(workspace + layout.c_tmp_offset);
  const void* a_base = args.a;
  int64_t lda = p.lda;
  if (p.act_order) {
    void* a_permuted = workspace + layout.a_perm_offset;
    status = permute_columns(p, args.a, args.perm, a_permuted, device, stream);
    if (!status.ok()) return status;
    a_base = a_permuted;
    lda = p.k;
  }
  for (const ExecPass& pass : passes) {
    status = launch_pass(args, p, device, pass, a_base, lda, locks, c_tmp, stream);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace

Status gemm(const GemmArgs& args) {
  try {
    return gemm_impl(args);
  } catch (const std::bad_alloc&) {
    return Status::Error(Code::kCuda, "marlin::gemm: out of host memory");
  } catch (...) {
    return Status::Error(Code::kCuda, "marlin::gemm: unexpected C++ exception");
  }
}

}  // namespace marlin
