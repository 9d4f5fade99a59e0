// The pure half of marlin::gemm (see exec_config.h). No CUDA calls, no allocation-heavy work: it
// runs before every launch.
#include "marlin/csrc/exec_config.h"

#include <algorithm>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

#include "marlin/generated/scheme_table.h"
#include "marlin/scalar_type.h"

namespace marlin {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Checked int64 arithmetic for sizes (all operands >= 0): false on overflow, *out unchanged.
bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}
bool checked_add(int64_t a, int64_t b, int64_t* out) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return false;
  *out = r;
  return true;
}
bool checked_round_up(int64_t a, int64_t b, int64_t* out) {
  int64_t r;
  if (!checked_add(a, b - 1, &r)) return false;
  *out = r / b * b;
  return true;
}

bool is_output_type(ScalarTypeId t) { return is_16bit_activation(t); }
bool is_nvfp4(ScalarTypeId b, ScalarTypeId s) { return b == kFE2M1f.id() && s == kFE4M3fn.id(); }
bool is_mxfp4(ScalarTypeId b, ScalarTypeId s) { return b == kFE2M1f.id() && s == kFE8M0fnu.id(); }

bool misaligned(const void* p, int alignment) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(alignment) != 0;
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

std::string group_text(int group_blocks) {
  if (group_blocks == -1) return "group_blocks=-1 (channelwise)";
  if (group_blocks == 0) return "group_blocks=0 (act-order via g_idx)";
  return format("group_blocks=%d (group size %d)", group_blocks, 16 * group_blocks);
}

template <typename T>
bool contains(const T* values, int count, T value) {
  for (int i = 0; i < count; ++i) {
    if (values[i] == value) return true;
  }
  return false;
}

// Upstream's thread-config priority lists: (thread_k, thread_n, threads).
struct ThreadConfig {
  int thread_k, thread_n, threads;
};
constexpr ThreadConfig kLargeBatchConfigs[] = {{64, 256, 256}, {64, 128, 128}, {128, 64, 128}};
constexpr ThreadConfig kSmallBatchConfigs[] = {{128, 128, 256}, {64, 128, 128}, {128, 64, 128}};
constexpr ThreadConfig kOccupancyConfig = {128, 64, 128};

std::string describe_kernel(const KernelConfig& c) {
  return format(
      "threads=%d thread_m_blocks=%d thread_n_blocks=%d thread_k_blocks=%d "
      "m_block_size_8=%d stages=%d",
      c.threads, c.thread_m_blocks, c.thread_n_blocks, c.thread_k_blocks, c.m_block_size_8 ? 1 : 0,
      c.stages);
}

}  // namespace

std::string type_name(ScalarTypeId id) {
  const char* name = scalar_type_name(id);
  if (std::string(name) != "unknown") return name;
  return format("unknown type id %lld", static_cast<long long>(id));
}

std::string arch_name(const DeviceLimits& device) {
  return format("sm_%d%d", device.cc_major, device.cc_minor);
}

const char* scheme_for(ScalarTypeId a_type, ScalarTypeId b_type, ScalarTypeId c_type,
                       ScalarTypeId s_type, int group_blocks, bool is_zp_float) {
  for (const SchemeRow& row : generated::kSchemes) {
    if (row.b_type != b_type || row.is_zp_float != is_zp_float) continue;
    if (!contains(row.a_types, row.num_a_types, a_type)) continue;
    if (!contains(row.c_types, row.num_c_types, c_type)) continue;
    if ((row.s_type == 0 ? c_type : row.s_type) != s_type) continue;
    if (contains(row.group_blocks, row.num_group_blocks, group_blocks)) return row.name;
  }
  return nullptr;
}

int find_kernel(const KernelTable& table, const KernelConfig& config) {
  if (table.configs == nullptr) return -1;
  return find_kernel_index(table.configs, table.size, config);
}

int max_split_k(int64_t size_m, int64_t size_n) {
  if (size_m <= 0 || size_n <= 0 || size_m > kSplitKMaxRows) return 1;
  int64_t slice = 0;  // one fp32 partial of the whole output
  if (!checked_mul(size_m, size_n, &slice) || !checked_mul(slice, 4, &slice) ||
      slice > kSplitKScratchBytes) {
    return 1;
  }
  const int64_t fit = kSplitKScratchBytes / slice;
  return fit < 2 ? 1 : static_cast<int>(std::min<int64_t>(fit, kMaxSplitK));
}

WorkspaceLayout workspace_layout(int64_t size_m, int64_t size_n, int64_t size_k, int a_elem_bytes,
                                 bool has_act_order) {
  WorkspaceLayout layout;
  layout.locks_offset = 0;
  layout.locks_bytes = kLocksBytes;
  // 256-byte offsets keep the permuted A and C_tmp as aligned as cudaMalloc's own allocations.
  layout.a_perm_offset = round_up(layout.locks_offset + layout.locks_bytes, 256);
  // Every product and sum is checked: a size that overflows int64 gives total_bytes = -1.
  bool ok = size_m >= 0 && size_n >= 0 && size_k >= 0 && a_elem_bytes > 0;
  int64_t a_perm_bytes = 0;
  if (ok && has_act_order) {
    ok = checked_mul(size_m, size_k, &a_perm_bytes) &&
         checked_mul(a_perm_bytes, a_elem_bytes, &a_perm_bytes) &&
         checked_round_up(a_perm_bytes, 16, &a_perm_bytes);
  }
  int64_t c_tmp_offset = 0;
  ok = ok && checked_add(layout.a_perm_offset, a_perm_bytes, &c_tmp_offset) &&
       checked_round_up(c_tmp_offset, 256, &c_tmp_offset);
  const int splits = ok ? max_split_k(size_m, size_n) : 1;
  int64_t c_tmp_bytes = 0;
  if (ok && splits > 1) {
    ok = checked_mul(size_m, size_n, &c_tmp_bytes) && checked_mul(c_tmp_bytes, 4, &c_tmp_bytes) &&
         checked_mul(c_tmp_bytes, splits, &c_tmp_bytes);
  }
  int64_t total = 0;
  if (ok) {
    ok = c_tmp_bytes > 0 ? checked_add(c_tmp_offset, c_tmp_bytes, &total)
                         : checked_add(layout.a_perm_offset, a_perm_bytes, &total);
  }
  if (!ok) {
    layout.total_bytes = -1;
    return layout;
  }
  layout.a_perm_bytes = a_perm_bytes;
  layout.c_tmp_offset = c_tmp_offset;
  layout.c_tmp_bytes = c_tmp_bytes;
  layout.total_bytes = total;
  return layout;
}

Status workspace_bytes_for(int64_t size_m, int64_t size_n, int64_t size_k, int64_t a_type,
                           bool has_act_order, int64_t* bytes) {
  const std::string sizes = format("size_m=%lld size_n=%lld size_k=%lld", (long long)size_m,
                                   (long long)size_n, (long long)size_k);
  const char* negative = size_m < 0   ? "size_m"
                         : size_n < 0 ? "size_n"
                         : size_k < 0 ? "size_k"
                                      : nullptr;
  if (negative != nullptr) return InvalidArgument(sizes + ": " + negative + " must be >= 0");
  // marlin_gemm refuses larger sizes (the kernel takes int sizes): no workspace fits them.
  if (size_m > INT_MAX || size_n > INT_MAX || size_k > INT_MAX) {
    return InvalidArgument(format("%s: each must fit in int32 (<= %d), the kernel's size type",
                                  sizes.c_str(), INT_MAX));
  }
  if (!is_16bit_activation(a_type) && !is_8bit_activation(a_type)) {
    return InvalidArgument(
        "a_type " + type_name(a_type) +
        " is not an activation type (valid: kFloat16, kBFloat16, kS8, kFE4M3fn)");
  }
  const int elem = is_16bit_activation(a_type) ? 2 : 1;
  const int64_t total = workspace_layout(size_m, size_n, size_k, elem, has_act_order).total_bytes;
  if (total < 0) return InvalidArgument(sizes + ": the workspace size overflows int64");
  *bytes = total;
  return Status::Ok();
}

int64_t gemm_workspace_bytes(int64_t size_m, int64_t size_n, int64_t size_k, int64_t a_type,
                             bool has_act_order) {
  int64_t bytes = -1;
  if (!workspace_bytes_for(size_m, size_n, size_k, a_type, has_act_order, &bytes).ok()) return -1;
  return bytes;
}

Status validate_gemm_args(const GemmArgs& args, GemmProblem* problem) {
  GemmProblem p;
  // --- sizes
  if (args.size_m < 0)
    return InvalidArgument(format("size_m must be >= 0, got %lld", (long long)args.size_m));
  if (args.size_n <= 0)
    return InvalidArgument(format("size_n must be > 0, got %lld", (long long)args.size_n));
  if (args.size_k <= 0)
    return InvalidArgument(format("size_k must be > 0, got %lld", (long long)args.size_k));
  // The kernel takes int sizes and strides.
  if (args.size_m > INT_MAX || args.size_n > INT_MAX || args.size_k > INT_MAX ||
      args.lda > INT_MAX) {
    return InvalidArgument(
        format("size_m=%lld size_n=%lld size_k=%lld lda=%lld: each must fit in int32 (<= %d)",
               (long long)args.size_m, (long long)args.size_n, (long long)args.size_k,
               (long long)args.lda, INT_MAX));
  }
  p.m = args.size_m;
  p.n = args.size_n;
  p.k = args.size_k;

  // --- types
  p.a_type = args.a_type;
  p.b_type = args.b_type;
  p.c_type = args.c_type;
  p.s_type = args.s_type;
  if (!is_16bit_activation(p.a_type) && !is_8bit_activation(p.a_type)) {
    return InvalidArgument(
        "a_type " + type_name(p.a_type) +
        " is not an activation type (valid: kFloat16, kBFloat16, kS8, kFE4M3fn)");
  }
  if (!is_output_type(p.c_type)) {
    return InvalidArgument("c_type " + type_name(p.c_type) +
                           " is not an output type (valid: kFloat16, kBFloat16)");
  }
  if (is_16bit_activation(p.a_type) && p.c_type != p.a_type) {
    return InvalidArgument("c_type " + type_name(p.c_type) + " must equal a_type " +
                           type_name(p.a_type) + " for 16-bit activations");
  }
  if (!is_weight_type(p.b_type)) {
    return InvalidArgument("b_type " + type_name(p.b_type) +
                           " is not a weight type (valid: kU4B8, kU8B128, kU4, kU8, kS4, kS8, "
                           "kFE4M3fn, kFE2M1f)");
  }
  if (p.s_type != p.c_type) {
    const bool fp4_scale = p.s_type == kFE4M3fn.id() || p.s_type == kFE8M0fnu.id();
    if (!fp4_scale || p.b_type != kFE2M1f.id()) {
      return InvalidArgument("s_type " + type_name(p.s_type) + " must equal c_type " +
                             type_name(p.c_type) +
                             " (kFE4M3fn scales are for NVFP4 and kFE8M0fnu for MXFP4, both with "
                             "b_type kFE2M1f)");
    }
  }
  p.a_elem_bytes = is_16bit_activation(p.a_type) ? 2 : 1;
  p.c_elem_bytes = 2;
  const int pack = 32 / scalar_type_size_bits(p.b_type);

  // --- shape rules of layout v1 and the launch contract
  if (p.k % 16 != 0) {
    return InvalidArgument(format("size_k (%lld) must be a multiple of 16", (long long)p.k));
  }
  if (p.n % 64 != 0) {
    return InvalidArgument(format("size_n (%lld) must be a multiple of 64", (long long)p.n));
  }
  // Every thread config walks K in BK = 64 or 128 rows.
  if (p.k % 64 != 0) {
    return InvalidArgument(
        format("size_k (%lld) must be a multiple of 64 (the smallest K tile)", (long long)p.k));
  }
  p.lda = args.lda == 0 ? p.k : args.lda;
  if (p.lda < p.k) {
    return InvalidArgument(
        format("lda (%lld) must be >= size_k (%lld)", (long long)p.lda, (long long)p.k));
  }
  const int lda_multiple = 16 / p.a_elem_bytes;
  if (p.lda % lda_multiple != 0) {
    return InvalidArgument(
        format("lda (%lld) must be a multiple of %d elements (16-byte rows for %s activations)",
               (long long)p.lda, lda_multiple, type_name(p.a_type).c_str()));
  }

  // --- required pointers (a and c may be NULL only for an empty batch)
  struct Required {
    const void* ptr;
    const char* name;
  };
  const Required required[] = {{args.b_q_weight, "b_q_weight"}, {args.b_scales, "b_scales"}};
  if (p.m > 0) {
    if (args.a == nullptr) return InvalidArgument("a is NULL (need a device pointer to [M, K])");
    if (args.c == nullptr) return InvalidArgument("c is NULL (need a device pointer to [M, N])");
  }
  for (const Required& r : required) {
    if (r.ptr == nullptr) return InvalidArgument(std::string(r.name) + " is NULL");
  }

  // --- alignment: the kernel reads these through 16-byte vectors
  struct Aligned {
    const void* ptr;
    const char* name;
    int alignment;
  };
  const Aligned aligned[] = {
      {args.a, "a", 16},
      {args.c, "c", 16},
      {args.b_q_weight, "b_q_weight", 16},
      {args.b_scales, "b_scales", 16},
      {args.b_zeros, "b_zeros", 16},
      {args.b_bias, "b_bias", 16},
      {args.workspace, "workspace", 16},
      {args.a_scales, "a_scales", 4},
      {args.global_scale, "global_scale", 4},
      {args.g_idx, "g_idx", 4},
      {args.perm, "perm", 4},
  };
  for (const Aligned& a : aligned) {
    if (misaligned(a.ptr, a.alignment)) {
      return InvalidArgument(format("%s (%p) must be %d-byte aligned", a.name, a.ptr, a.alignment));
    }
  }

  // --- act-order and groups
  if ((args.g_idx == nullptr) != (args.perm == nullptr)) {
    return InvalidArgument(args.g_idx != nullptr
                               ? "g_idx is given without perm: act-order needs both (perm = "
                                 "argsort(g_idx)), or neither"
                               : "perm is given without g_idx: act-order needs both (perm = "
                                 "argsort(g_idx)), or neither");
  }
  p.act_order = args.g_idx != nullptr;
  p.num_groups = args.num_groups;
  if (p.num_groups < 1) {
    return InvalidArgument(
        format("num_groups must be >= 1 (1 = channelwise), got %lld", (long long)p.num_groups));
  }
  if (p.num_groups > INT_MAX) {
    return InvalidArgument(
        format("num_groups (%lld) must fit in int32 (<= %d)", (long long)p.num_groups, INT_MAX));
  }
  if (p.act_order && !args.is_k_full) {
    // K shard of a row-parallel layer (upstream's group_size 0): rows of one group are scattered
    // and each row's scale row is g_idx[k], so the shard's rows need not divide into the
    // checkpoint's groups.
    p.group_size = 0;
    p.group_blocks = 0;
  } else {
    // Without act-order, or with is_k_full (weights sorted by group): contiguous groups.
    if (p.k % p.num_groups != 0) {
      return InvalidArgument(format(
          "num_groups (%lld) does not divide size_k (%lld): the group size size_k/num_groups "
          "must be a whole number of rows",
          (long long)p.num_groups, (long long)p.k));
    }
    if (p.num_groups == 1) {
      p.group_size = -1;
    } else {
      p.group_size = p.k / p.num_groups;
      if (p.group_size % 16 != 0) {
        return InvalidArgument(
            format("group size size_k/num_groups = %lld/%lld = %lld must be a multiple of 16",
                   (long long)p.k, (long long)p.num_groups, (long long)p.group_size));
      }
    }
    p.group_blocks = p.group_size == -1 ? -1 : static_cast<int>(p.group_size / 16);
  }
  if (is_nvfp4(p.b_type, p.s_type) && p.group_size != 16) {
    return InvalidArgument(
        format("NVFP4 (b_type kFE2M1f, s_type kFE4M3fn) uses groups of 16: num_groups must be "
               "size_k/16 = %lld, got %lld",
               (long long)(p.k / 16), (long long)p.num_groups));
  }
  if (is_mxfp4(p.b_type, p.s_type) && p.group_size != 32) {
    return InvalidArgument(
        format("MXFP4 (b_type kFE2M1f, s_type kFE8M0fnu) uses groups of 32: num_groups must be "
               "size_k/32 = %lld, got %lld",
               (long long)(p.k / 32), (long long)p.num_groups));
  }

  // --- zero points
  p.is_zp_float = args.is_zp_float;
  if (takes_zero_points(p.b_type)) {
    if (args.b_zeros == nullptr) {
      return InvalidArgument("b_zeros is NULL but b_type " + type_name(p.b_type) +
                             " needs zero points (int32 [num_groups, N/" + std::to_string(pack) +
                             "], or c_type [num_groups, N] with is_zp_float)");
    }
  } else {
    if (args.b_zeros != nullptr) {
      return InvalidArgument("b_zeros is given but b_type " + type_name(p.b_type) +
                             " has no zero points (only kU4 and kU8 take them)");
    }
    if (p.is_zp_float) {
      return InvalidArgument("is_zp_float is set but b_type " + type_name(p.b_type) +
                             " has no zero points (only kU4 and kU8 take them)");
    }
  }

  // --- per-token activation scales and the NVFP4 global scale
  if (is_8bit_activation(p.a_type) && args.a_scales == nullptr && p.m > 0) {
    return InvalidArgument("a_scales is NULL but a_type " + type_name(p.a_type) +
                           " (8-bit activations) needs one float scale per row, [M]");
  }
  if (is_16bit_activation(p.a_type) && args.a_scales != nullptr) {
    return InvalidArgument("a_scales must be NULL for 16-bit activations (a_type " +
                           type_name(p.a_type) + "); it is for kS8/kFE4M3fn only");
  }
  if (is_nvfp4(p.b_type, p.s_type) && args.global_scale == nullptr) {
    return InvalidArgument(
        "global_scale is NULL but NVFP4 (b_type kFE2M1f, s_type kFE4M3fn) needs one float");
  }
  if (!is_nvfp4(p.b_type, p.s_type) && args.global_scale != nullptr) {
    return InvalidArgument(
        "global_scale must be NULL: it is for NVFP4 only (b_type kFE2M1f, s_type kFE4M3fn)");
  }
  p.has_bias = args.b_bias != nullptr;

  // --- workspace (an empty batch uses none: then it may be NULL or small, like a and c)
  const WorkspaceLayout layout = workspace_layout(p.m, p.n, p.k, p.a_elem_bytes, p.act_order);
  if (layout.total_bytes < 0) {  // unreachable with int32 sizes; kept as the overflow guard
    return InvalidArgument(
        format("size_m=%lld size_n=%lld size_k=%lld: the workspace size "
               "overflows int64",
               (long long)p.m, (long long)p.n, (long long)p.k));
  }
  if (p.m > 0 && args.workspace == nullptr) {
    return InvalidArgument(
        format("workspace is NULL: this call needs %lld bytes "
               "(marlin_gemm_workspace_bytes), zero-initialised",
               (long long)layout.total_bytes));
  }
  if (p.m > 0 && args.workspace_bytes < layout.total_bytes) {
    return InvalidArgument(
        format("workspace is too small: %lld bytes given, this call needs %lld "
               "(marlin_gemm_workspace_bytes)",
               (long long)args.workspace_bytes, (long long)layout.total_bytes));
  }

  // --- the output must not alias what the call reads or uses as scratch (m, n, k and lda are
  // at most INT_MAX here, so these byte counts stay below 2^63)
  const int64_t c_bytes = p.m * p.n * p.c_elem_bytes;
  const int64_t a_bytes = p.m == 0 ? 0 : ((p.m - 1) * p.lda + p.k) * p.a_elem_bytes;
  if (ranges_overlap(args.c, c_bytes, args.a, a_bytes)) {
    return InvalidArgument("c overlaps a: the output must be a separate buffer");
  }
  if (ranges_overlap(args.c, c_bytes, args.workspace, layout.total_bytes)) {
    return InvalidArgument("c overlaps workspace: the output must be a separate buffer");
  }
  if (p.act_order && ranges_overlap(args.a, a_bytes,
                                    static_cast<const char*>(args.workspace) + layout.a_perm_offset,
                                    layout.a_perm_bytes)) {
    return InvalidArgument("a overlaps workspace: act-order writes a permuted copy of a there");
  }

  p.workspace = layout;
  *problem = p;
  return Status::Ok();
}

Status check_device_support(const GemmProblem& problem, const DeviceLimits& device,
                            const KernelTable& table) {
  const int cc = device.cc_major * 10 + device.cc_minor;
  if (cc < 75) {
    return UnsupportedDevice(format("marlin needs compute capability >= 7.5; device %d is %s",
                                    device.device, arch_name(device).c_str()));
  }
  if (problem.a_type == kFE4M3fn.id()) {
    if (!table.fp8_activation_built) {
      return NoKernel(
          "marlin kernel with fp8 activation is not built (add sm_89/sm_120 or compute_89 to "
          "--cuda_archs)");
    }
    if (cc < 89) {
      return UnsupportedDevice(
          format("fp8 activations (a_type kFE4M3fn) need compute capability >= 8.9; device %d "
                 "is %s",
                 device.device, arch_name(device).c_str()));
    }
  }
  if (cc == 75) {
    if (problem.a_type != kFloat16.id() && problem.a_type != kS8.id()) {
      return UnsupportedDevice("on sm_75 marlin runs only kFloat16 or kS8 activations; a_type is " +
                               type_name(problem.a_type));
    }
    if (!table.sm75_built) {
      return NoKernel(
          "this GPU is sm_75 and the build has no sm_75 kernels (add sm_75 to "
          "--cuda_archs)");
    }
  }
  return Status::Ok();
}

namespace {

// Why candidate configs of one pass were rejected, for the error message.
struct Rejections {
  bool any_shape_fit = false;
  bool any_smem_fit = false;
  int min_smem_needed = INT_MAX;
  bool have_missing = false;
  KernelConfig first_missing{};
};

// A thread config that passes the shape, shared-memory and selector checks, or -1.
int try_config(const GemmProblem& p, const DeviceLimits& device, const KernelTable& table,
               const ThreadConfig& tc, int thread_m_blocks, bool m_block_size_8, int stages,
               Rejections* why, KernelConfig* config_out, int* smem_out) {
  if (p.k % tc.thread_k != 0 || p.n % tc.thread_n != 0) return -1;
  if (p.group_blocks > 0) {
    // A BK step must cover whole groups, or a group whole BK steps.
    const int group_rows = 16 * p.group_blocks;
    if (group_rows % tc.thread_k != 0 && tc.thread_k % group_rows != 0) return -1;
  }
  why->any_shape_fit = true;
  KernelConfig config{p.a_type,       p.b_type,        p.c_type,         p.s_type,
                      tc.threads,     thread_m_blocks, tc.thread_n / 16, tc.thread_k / 16,
                      m_block_size_8, stages,          p.group_blocks,   p.is_zp_float};
  const int smem = required_shared_mem(config);
  if (smem == INT_MAX) return -1;  // the kernel cannot tile this config at all
  if (smem > device.max_shared_mem_optin) {
    why->min_smem_needed = std::min(why->min_smem_needed, smem);
    return -1;
  }
  why->any_smem_fit = true;
  const int index = find_kernel(table, config);
  if (index < 0) {
    if (!why->have_missing) {
      why->have_missing = true;
      why->first_missing = config;
    }
    return -1;
  }
  *config_out = config;
  *smem_out = smem;
  return index;
}

Status explain_failure(const GemmProblem& p, const DeviceLimits& device, const Rejections& why) {
  if (!why.any_shape_fit) {
    return InvalidArgument(
        format("size_k=%lld and size_n=%lld (%s) fit none of the Marlin tiles (thread_k x thread_n "
               "128x128, 64x256, 64x128, 128x64): size_k must be a multiple of 64 and size_n of 64",
               (long long)p.k, (long long)p.n, group_text(p.group_blocks).c_str()));
  }
  if (!why.any_smem_fit) {
    if (why.min_smem_needed == INT_MAX) {
      return NoKernel("no kernel tile shape of this build supports a=" + type_name(p.a_type) +
                      " b=" + type_name(p.b_type) + " (required_shared_mem rejects every config)");
    }
    return UnsupportedDevice(
        format("every kernel config for this problem needs more shared memory than device %d (%s) "
               "allows: at least %d bytes needed, %d available",
               device.device, arch_name(device).c_str(), why.min_smem_needed,
               device.max_shared_mem_optin));
  }
  const KernelConfig& c = why.first_missing;
  std::string message = "no kernel for a=" + type_name(c.a_type) + " b=" + type_name(c.b_type) +
                        " c=" + type_name(c.c_type) + " s=" + type_name(c.s_type) + " " +
                        group_text(c.group_blocks) + " is_zp_float=" + (c.is_zp_float ? "1" : "0") +
                        " (" + describe_kernel(c) + ") in this build: ";
  const char* scheme =
      scheme_for(c.a_type, c.b_type, c.c_type, c.s_type, c.group_blocks, c.is_zp_float);
  if (scheme != nullptr) {
    message += std::string("build scheme ") + scheme +
               " for this GPU's arch (--cuda_archs=" + arch_name(device) + ")";
  } else {
    message +=
        std::string("no scheme of the ") + generated::kSchemePreset +
        " preset has these types and group size; build a scheme for these types (--cuda_archs=" +
        arch_name(device) + ")";
  }
  return NoKernel(message);
}

}  // namespace

const DispatchTable& measured_dispatch() {
  static const DispatchTable table{generated::kDispatchTable, generated::kNumDispatchEntries};
  return table;
}

namespace {

// The most splits a pass can take (1: none): only a single-launch problem (the workspace's C_tmp
// holds M x N partials) with one ticket per tile in the locks, at most max_split_k(M, N) partials
// and whole BK steps per split.
int64_t split_limit(const GemmProblem& p, const ExecPass& pass) {
  // A wide-tile launch that meets a build without wgmma runs the config's own tiles, twice as
  // many, each taking a ticket when split: the locks must hold those too.
  const int64_t kernel_tiles = pass.wide_tile ? 2 * pass.tiles : pass.tiles;
  if (pass.row_begin != 0 || pass.rows != p.m || kernel_tiles > kLocksBytes / 4) return 1;
  const int64_t k_steps = p.k / (16 * pass.config.thread_k_blocks);
  return std::min<int64_t>(max_split_k(p.m, p.n), k_steps);
}

}  // namespace

int choose_split_k(const GemmProblem& p, const DeviceLimits& device, const ExecPass& pass) {
  if (pass.tiles <= 0 || device.num_sms <= 0) return 1;
  const int64_t k_steps = p.k / (16 * pass.config.thread_k_blocks);
  const int64_t max_splits = std::min<int64_t>(k_steps / kMinStepsPerSplit, split_limit(p, pass));
  // Blocks that share an SM share its issue slots, so the time of a launch goes with the BK steps
  // of its busiest SM: ceil(tiles * S / #SMs) work items of ceil(steps / S) steps each, plus about
  // one step for the reduction through C_tmp. Fewest splits on ties.
  int best = 1;
  int64_t best_cost = ceil_div(pass.tiles, device.num_sms) * k_steps;
  for (int64_t s = 2; s <= max_splits; ++s) {
    // Tiles of 16+ rows hold 16 x 4 accumulators per thread and fit few blocks per SM: measured
    // slower once an SM gets a second work item (docs/benchmarks.md run 3), so one per SM.
    if (!pass.config.m_block_size_8 && pass.tiles * s > device.num_sms) break;
    const int64_t cost = ceil_div(pass.tiles * s, device.num_sms) * ceil_div(k_steps, s) + 1;
    if (cost < best_cost) {
      best_cost = cost;
      best = static_cast<int>(s);
    }
  }
  return best;
}

namespace {

// The measured entry for a pass of `rows` rows (design.md section 11): this device's SM count,
// the problem's activation width and weight width, the smallest measured M >= rows (else the
// largest), the nearest measured (K, N) in log distance. Weights of a width never measured with
// these activations take the entries of the other width. Null when nothing was measured for
// this device and activation width.
const DispatchEntry* measured_entry(const DispatchTable& dispatch, const GemmProblem& p,
                                    const DeviceLimits& device, int64_t rows) {
  const int a_bits = 8 * p.a_elem_bytes;
  const int weight_bits = scalar_type_size_bits(p.b_type);
  // One pass: the M to take among this width's entries and among every width's.
  struct MChoice {
    int64_t m = -1, largest = -1;
    void see(int64_t entry_m, int64_t rows) {
      largest = std::max(largest, entry_m);
      if (entry_m >= rows && (m < 0 || entry_m < m)) m = entry_m;
    }
    int64_t chosen() const { return m >= 0 ? m : largest; }
  };
  auto this_device_and_activations = [&](const DispatchEntry& e) {
    return e.sms == device.num_sms && e.a_bits == a_bits;
  };
  MChoice this_width, any_width;
  for (int i = 0; i < dispatch.size; ++i) {
    const DispatchEntry& e = dispatch.entries[i];
    if (!this_device_and_activations(e)) continue;
    any_width.see(e.m, rows);
    if (e.b_bits == weight_bits) this_width.see(e.m, rows);
  }
  if (any_width.largest < 0) return nullptr;
  const bool width_measured = this_width.largest >= 0;
  const int64_t m = width_measured ? this_width.chosen() : any_width.chosen();
  auto measured_here = [&](const DispatchEntry& e) {
    return this_device_and_activations(e) && (!width_measured || e.b_bits == weight_bits);
  };
  const DispatchEntry* best = nullptr;
  double best_distance = 0;
  for (int i = 0; i < dispatch.size; ++i) {
    const DispatchEntry& e = dispatch.entries[i];
    if (!measured_here(e) || e.m != m) continue;
    // |log(K / K')| + |log(N / N')|, compared through its exponential: no log per entry.
    const auto ratio = [](double x, double y) { return x > y ? x / y : y / x; };
    const double distance =
        ratio(static_cast<double>(p.k), e.k) * ratio(static_cast<double>(p.n), e.n);
    if (best == nullptr || distance < best_distance) {
      best = &e;
      best_distance = distance;
    }
  }
  return best;
}

// The tile height of a pass of config pass->config over pass->rows rows, and its tile count: the
// wide wgmma tile on sm_90 (kernel_config.h; design.md section 11) where the config has one and
// the pass more than its own rows, else the config's.
void set_pass_tiles(const GemmProblem& p, const DeviceLimits& device, ExecPass* pass) {
  const KernelConfig& c = pass->config;
  int bm = c.m_block_size_8 ? 8 : 16 * c.thread_m_blocks;
  pass->wide_tile = false;
  // Per call: the wide tile's shared memory only for the configs and devices that can have it.
  if (device.cc_major == 9 && device.cc_minor == 0 && has_wide_tile(c)) {
    const KernelConfig wide = wide_tile_config(c);
    const int wide_smem = required_shared_mem(wide);
    if (wide_smem <= device.max_shared_mem_optin &&
        runs_wide_tile(c, static_cast<int>(pass->rows), wide_smem)) {
      pass->wide_tile = true;
      bm = 16 * wide.thread_m_blocks;
      pass->shared_mem_bytes = wide_smem;
    }
  }
  pass->tiles = ceil_div(pass->rows, bm) * (p.n / (16 * c.thread_n_blocks));
}

// The pass of rows [row, row + split) with the forced exec config.
Status forced_pass(const GemmProblem& p, const DeviceLimits& device, const KernelTable& table,
                   const ExecOverride& force, int stages, int64_t row, int64_t split,
                   ExecPass* pass) {
  if (force.m_block_size_8 && (split > 8 || force.thread_m_blocks > 1)) {
    return InvalidArgument(
        format("forced m_block_size_8 needs passes of <= 8 rows and "
               "thread_m_blocks 1 (pass of %lld rows, thread_m_blocks %d)",
               (long long)split, force.thread_m_blocks));
  }
  if (force.thread_m_blocks < 1 || force.thread_m_blocks > 4 || force.splits < 1) {
    return InvalidArgument(
        format("forced thread_m_blocks must be 1..4 and splits >= 1 (got %d, %d)",
               force.thread_m_blocks, force.splits));
  }
  const ThreadConfig tc{force.thread_k, force.thread_n, force.threads};
  Rejections why;
  KernelConfig chosen{};
  int smem = 0;
  const int index = try_config(p, device, table, tc, force.thread_m_blocks, force.m_block_size_8,
                               stages, &why, &chosen, &smem);
  if (index < 0) return explain_failure(p, device, why);
  pass->row_begin = row;
  pass->rows = split;
  pass->kernel_index = index;
  pass->config = chosen;
  pass->shared_mem_bytes = smem;
  set_pass_tiles(p, device, pass);
  pass->splits = force.splits;
  if (force.splits > split_limit(p, *pass)) {
    const int64_t k_steps = p.k / (16 * chosen.thread_k_blocks);
    return InvalidArgument(format(
        "forced splits=%d: needs one pass (M <= %lld), at most max_split_k(M, N) = %d splits, "
        "at most %lld BK steps and at most %lld tiles (this pass: %lld tiles)",
        force.splits, (long long)kSplitKMaxRows, max_split_k(p.m, p.n), (long long)k_steps,
        (long long)(kLocksBytes / 4), (long long)pass->tiles));
  }
  return Status::Ok();
}

}  // namespace

Status choose_exec_config(const GemmProblem& p, const DeviceLimits& device,
                          const KernelTable& table, std::vector<ExecPass>* passes,
                          const ExecOverride* force, const DispatchTable& dispatch) {
  passes->clear();
  const bool a_16bit = p.a_elem_bytes == 2;
  const int stages = (device.cc_major == 7 && device.cc_minor == 5) ? 2 : 4;
  // Upstream bounds the rows of one launch; small N gets more M-parallelism per launch.
  const int64_t max_par = p.n <= 4096 ? 128 : 16;

  for (int64_t row = 0; row < p.m;) {
    const int64_t rest = p.m - row;
    const int64_t split = rest >= 64 ? std::min<int64_t>(rest / 64, max_par) * 64 : rest;
    const bool m_block_size_8 = split <= 8 && a_16bit;

    if (force != nullptr) {
      ExecPass pass;
      Status status = forced_pass(p, device, table, *force, stages, row, split, &pass);
      if (!status.ok()) return status;
      passes->push_back(pass);
      row += split;
      continue;
    }

    // The tensor-core body's exec config comes from measurements when this GPU was measured with
    // this activation width and the measured config serves this problem; otherwise from the
    // heuristics below.
    if (stages > 2) {
      if (const DispatchEntry* e = measured_entry(dispatch, p, device, split)) {
        ExecOverride measured;
        measured.threads = e->threads;
        measured.thread_k = e->thread_k;
        measured.thread_n = e->thread_n;
        measured.thread_m_blocks = e->thread_m_blocks;
        measured.m_block_size_8 = e->m_block_size_8 && m_block_size_8;
        measured.splits = 1;
        ExecPass pass;
        if (forced_pass(p, device, table, measured, stages, row, split, &pass).ok()) {
          // Fewer splits where the workspace, the BK steps or the tile count cannot take them.
          pass.splits = static_cast<int>(std::min<int64_t>(e->splits, split_limit(p, pass)));
          passes->push_back(pass);
          row += split;
          continue;
        }
      }
    }

    Rejections why;
    int index = -1;
    KernelConfig chosen{};
    int chosen_smem = 0;
    int thread_m_blocks = static_cast<int>(std::min<int64_t>(ceil_div(split, 16), 4));
    // If no config of this M tile has a kernel (or fits shared memory), retry with smaller ones.
    for (; thread_m_blocks >= 1 && index < 0; --thread_m_blocks) {
      const bool large = thread_m_blocks > 1;
      for (const ThreadConfig& tc : large ? kLargeBatchConfigs : kSmallBatchConfigs) {
        index = try_config(p, device, table, tc, thread_m_blocks, m_block_size_8, stages, &why,
                           &chosen, &chosen_smem);
        if (index >= 0) break;
      }
      if (index >= 0) {
        // Too few tiles to fill the GPU: prefer the narrower N tile when it has a kernel.
        const int thread_n = 16 * chosen.thread_n_blocks;
        const int64_t tiles = (p.n / thread_n) * ceil_div(split, 16 * thread_m_blocks);
        if (thread_n != kOccupancyConfig.thread_n && tiles * 4 <= device.num_sms) {
          Rejections ignored;
          KernelConfig narrow{};
          int narrow_smem = 0;
          const int narrow_index =
              try_config(p, device, table, kOccupancyConfig, thread_m_blocks, m_block_size_8,
                         stages, &ignored, &narrow, &narrow_smem);
          if (narrow_index >= 0) {
            index = narrow_index;
            chosen = narrow;
            chosen_smem = narrow_smem;
          }
        }
        break;  // keep thread_m_blocks as chosen
      }
    }
    if (index < 0) return explain_failure(p, device, why);

    ExecPass pass;
    pass.row_begin = row;
    pass.rows = split;
    pass.kernel_index = index;
    pass.config = chosen;
    pass.shared_mem_bytes = chosen_smem;
    set_pass_tiles(p, device, &pass);
    pass.splits = choose_split_k(p, device, pass);
    passes->push_back(pass);
    row += split;
  }
  return Status::Ok();
}

}  // namespace marlin
