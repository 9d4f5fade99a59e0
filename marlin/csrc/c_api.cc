// The C ABI (c_api.h) over marlin::gemm and the packers: struct-size checks, conversion, and the
// per-thread last-error text. No exception or abort crosses this boundary.
#include "marlin/c_api.h"

#include <cstdint>
#include <string>

#include "marlin/csrc/exec_config.h"
#include "marlin/gemm.h"
#include "marlin/prepare.h"
#include "marlin/status.h"

namespace {

thread_local std::string last_error;

int record(const marlin::Status& status) {
  if (!status.ok()) {
    try {
      last_error = status.message;
    } catch (...) {
      // Out of memory for the message itself: keep the code, lose the text.
    }
  }
  return static_cast<int>(status.code);
}

// Runs `body`, turning any C++ exception (only std::bad_alloc is possible) into a status.
template <typename Body>
int guarded(Body body) {
  try {
    return body();
  } catch (...) {
    return static_cast<int>(marlin::Code::kCuda);  // no memory left to describe it
  }
}

int invalid(const char* message) { return record(marlin::InvalidArgument(message)); }

marlin::CodeSource to_code_source(const marlin_code_source& src) {
  marlin::CodeSource out;
  out.data = src.data;
  out.word_bits = src.word_bits;
  out.code_bits = src.code_bits;
  out.packed_along_k = src.packed_along_k != 0;
  out.n_major = src.n_major != 0;
  out.awq_order = src.awq_order != 0;
  return out;
}

// A struct from a different ABI revision would be read at the wrong offsets.
bool check_struct_size(uint32_t given, uint32_t expected, const char* name) {
  if (given == expected) return true;
  record(marlin::InvalidArgument(std::string(name) + "->struct_size is " + std::to_string(given) +
                                 ", expected sizeof(" + name + ") = " + std::to_string(expected) +
                                 " (header and library of different versions?)"));
  return false;
}

}  // namespace

extern "C" {

const char* marlin_last_error(void) { return last_error.c_str(); }

int marlin_abi_version(void) { return 1; }

int marlin_num_kernels(void) { return marlin::kernel_table().size; }

int marlin_kernel_info(int i, int64_t out12[12]) {
  return guarded([&]() -> int {
    const marlin::KernelTable& table = marlin::kernel_table();
    if (out12 == nullptr) return invalid("marlin_kernel_info: out12 is NULL");
    if (i < 0 || i >= table.size) {
      return record(marlin::InvalidArgument("marlin_kernel_info: index " + std::to_string(i) +
                                            " is outside 0.." + std::to_string(table.size - 1)));
    }
    const marlin::KernelConfig& c = table.configs[i];
    const int64_t values[12] = {c.a_type,          c.b_type,          c.c_type,
                                c.s_type,          c.threads,         c.thread_m_blocks,
                                c.thread_n_blocks, c.thread_k_blocks, c.m_block_size_8 ? 1 : 0,
                                c.stages,          c.group_blocks,    c.is_zp_float ? 1 : 0};
    for (int j = 0; j < 12; ++j) out12[j] = values[j];
    return MARLIN_OK;
  });
}

namespace {

int run_gemm(const marlin_gemm_args* args, const marlin::ExecOverride* exec_override) {
  if (args == nullptr) return invalid("marlin_gemm: args is NULL");
  if (!check_struct_size(args->struct_size, sizeof(marlin_gemm_args), "marlin_gemm_args")) {
    return MARLIN_ERR_INVALID_ARGUMENT;
  }
  marlin::GemmArgs g;
  g.a = args->a;
  g.lda = args->lda;
  g.a_type = args->a_type;
  g.c = args->c;
  g.c_type = args->c_type;
  g.b_q_weight = args->b_q_weight;
  g.b_type = args->b_type;
  g.b_scales = args->b_scales;
  g.s_type = args->s_type;
  g.num_groups = args->num_groups;
  g.b_zeros = args->b_zeros;
  g.b_bias = args->b_bias;
  g.a_scales = args->a_scales;
  g.global_scale = args->global_scale;
  g.g_idx = args->g_idx;
  g.perm = args->perm;
  g.workspace = args->workspace;
  g.workspace_bytes = args->workspace_bytes;
  g.size_m = args->size_m;
  g.size_n = args->size_n;
  g.size_k = args->size_k;
  g.is_k_full = args->is_k_full != 0;
  g.use_atomic_add = args->use_atomic_add != 0;
  g.use_fp32_reduce = args->use_fp32_reduce != 0;
  g.is_zp_float = args->is_zp_float != 0;
  g.stream = args->stream;
  g.exec_override = exec_override;
  return record(marlin::gemm(g));
}

}  // namespace

int marlin_gemm(const marlin_gemm_args* args) {
  return guarded([&]() -> int { return run_gemm(args, nullptr); });
}

int marlin_gemm_with_config(const marlin_gemm_args* args, const marlin_exec_override* config) {
  return guarded([&]() -> int {
    if (config == nullptr) return invalid("marlin_gemm_with_config: config is NULL");
    if (!check_struct_size(config->struct_size, sizeof(marlin_exec_override),
                           "marlin_exec_override")) {
      return MARLIN_ERR_INVALID_ARGUMENT;
    }
    marlin::ExecOverride o;
    o.threads = config->threads;
    o.thread_k = config->thread_k;
    o.thread_n = config->thread_n;
    o.thread_m_blocks = config->thread_m_blocks;
    o.m_block_size_8 = config->m_block_size_8 != 0;
    o.splits = config->splits;
    return run_gemm(args, &o);
  });
}

int64_t marlin_gemm_workspace_bytes(int64_t size_m, int64_t size_n, int64_t size_k, int64_t a_type,
                                    int32_t has_act_order) {
  try {
    int64_t bytes = -1;
    const marlin::Status status =
        marlin::workspace_bytes_for(size_m, size_n, size_k, a_type, has_act_order != 0, &bytes);
    if (!status.ok()) {
      record(marlin::InvalidArgument("marlin_gemm_workspace_bytes: " + status.message));
      return -1;
    }
    return bytes;
  } catch (...) {
    return -1;  // no memory left for the message
  }
}

int marlin_pack_weights(const marlin_code_source* src, const int32_t* perm, int64_t size_k,
                        int64_t size_n, int32_t* out, void* stream) {
  return guarded([&]() -> int {
    if (src == nullptr) return invalid("marlin_pack_weights: src is NULL");
    if (!check_struct_size(src->struct_size, sizeof(marlin_code_source), "marlin_code_source")) {
      return MARLIN_ERR_INVALID_ARGUMENT;
    }
    return record(marlin::pack_weights(to_code_source(*src), perm, size_k, size_n, out, stream));
  });
}

int marlin_pack_zero_points(const marlin_code_source* src, int64_t num_groups, int64_t size_n,
                            int32_t* out, void* stream) {
  return guarded([&]() -> int {
    if (src == nullptr) return invalid("marlin_pack_zero_points: src is NULL");
    if (!check_struct_size(src->struct_size, sizeof(marlin_code_source), "marlin_code_source")) {
      return MARLIN_ERR_INVALID_ARGUMENT;
    }
    return record(marlin::pack_zero_points(to_code_source(*src), num_groups, size_n, out, stream));
  });
}

}  // extern "C"
