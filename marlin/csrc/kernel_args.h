// The Marlin kernel's launch arguments as named fields, and the one function that hands them to
// a callable in the kernel's parameter order. Two compile-time checks tie them to
// MARLIN_KERNEL_PARAMS (kernel.h), so a change to the kernel's parameters that the host does not
// follow fails the build instead of launching with shifted arguments:
// - types: the fields, in that order, have exactly the kernel's parameter types (no silent
//   int64 -> int, int -> bool or pointer conversions on the way into the launch);
// - names: a constexpr function whose parameter list *is* MARLIN_KERNEL_PARAMS reads the
//   arguments back by parameter name and compares them with the fields of the same name, which
//   also catches two same-typed parameters passed in swapped order (prob_m / prob_n).
#pragma once

#include <type_traits>

#include "marlin/kernel.h"

namespace marlin {

struct KernelArgs {
  const int4* A;
  const int4* B;
  int4* C;
  float* C_tmp;
  const int4* b_bias_ptr;
  const float* a_scales_ptr;
  const int4* scales_ptr;
  const float* global_scale_ptr;
  const int4* zp_ptr;
  const int* g_idx;
  int num_groups;
  int prob_m;
  int prob_n;
  int prob_k;
  int lda;
  int* locks;
  bool has_bias;
  bool use_atomic_add;
  bool use_fp32_reduce;
  int max_shared_mem;
};

// f(A, B, ..., max_shared_mem): the only place that spells the parameter order.
template <typename F>
constexpr auto apply_in_kernel_order(const KernelArgs& a, F&& f) {
  return f(a.A, a.B, a.C, a.C_tmp, a.b_bias_ptr, a.a_scales_ptr, a.scales_ptr, a.global_scale_ptr,
           a.zp_ptr, a.g_idx, a.num_groups, a.prob_m, a.prob_n, a.prob_k, a.lda, a.locks,
           a.has_bias, a.use_atomic_add, a.use_fp32_reduce, a.max_shared_mem);
}

namespace kernel_args_check {

// The function-pointer type of a kernel taking exactly these argument types.
struct KernelTypeOf {
  template <typename... Args>
  constexpr auto operator()(Args...) const {
    return static_cast<void (*)(Args...)>(nullptr);
  }
};
static_assert(std::is_same<decltype(apply_in_kernel_order(KernelArgs{}, KernelTypeOf{})),
                           MarlinKernelFn>::value,
              "KernelArgs (in apply_in_kernel_order's order) must have exactly the types of "
              "MARLIN_KERNEL_PARAMS");

constexpr bool each_parameter_gets_its_field(const KernelArgs& want, MARLIN_KERNEL_PARAMS) {
  return A == want.A && B == want.B && C == want.C && C_tmp == want.C_tmp &&
         b_bias_ptr == want.b_bias_ptr && a_scales_ptr == want.a_scales_ptr &&
         scales_ptr == want.scales_ptr && global_scale_ptr == want.global_scale_ptr &&
         zp_ptr == want.zp_ptr && g_idx == want.g_idx && num_groups == want.num_groups &&
         prob_m == want.prob_m && prob_n == want.prob_n && prob_k == want.prob_k &&
         lda == want.lda && locks == want.locks && has_bias == want.has_bias &&
         use_atomic_add == want.use_atomic_add && use_fp32_reduce == want.use_fp32_reduce &&
         max_shared_mem == want.max_shared_mem;
}

// Distinct addresses and values for every field (three bools: one set at a time), so that any
// two fields passed in each other's place differ.
inline int4 int4_tags[6];
inline float float_tags[3];
inline int int_tags[2];
constexpr KernelArgs tagged(bool has_bias, bool use_atomic_add, bool use_fp32_reduce) {
  KernelArgs t{};
  t.A = &int4_tags[0];
  t.B = &int4_tags[1];
  t.C = &int4_tags[2];
  t.C_tmp = &float_tags[0];
  t.b_bias_ptr = &int4_tags[3];
  t.a_scales_ptr = &float_tags[1];
  t.scales_ptr = &int4_tags[4];
  t.global_scale_ptr = &float_tags[2];
  t.zp_ptr = &int4_tags[5];
  t.g_idx = &int_tags[0];
  t.num_groups = 1;
  t.prob_m = 2;
  t.prob_n = 3;
  t.prob_k = 4;
  t.lda = 5;
  t.locks = &int_tags[1];
  t.has_bias = has_bias;
  t.use_atomic_add = use_atomic_add;
  t.use_fp32_reduce = use_fp32_reduce;
  t.max_shared_mem = 6;
  return t;
}
constexpr bool lands_by_name(const KernelArgs& args) {
  return apply_in_kernel_order(
      args, [&](auto... values) { return each_parameter_gets_its_field(args, values...); });
}
static_assert(lands_by_name(tagged(true, false, false)) &&
                  lands_by_name(tagged(false, true, false)) &&
                  lands_by_name(tagged(false, false, true)),
              "apply_in_kernel_order must pass each KernelArgs field as the MARLIN_KERNEL_PARAMS "
              "parameter of the same name");

}  // namespace kernel_args_check
}  // namespace marlin
