// Compile smoke test for marlin/include/marlin/: one explicit instantiation per scheme, written as
// a generated kernel file writes them (design.md section 6), covering every a/b/c/s type,
// is_zp_float, act-order, m_block_size_8, both 256-thread and both 128-thread configs, stages 2
// and 4.
//
//   nvcc -std=c++17 -O3 -I marlin/include -gencode arch=compute_80,code=sm_80
//     -gencode arch=compute_89,code=sm_89 -gencode arch=compute_75,code=sm_75
//     -c tests/cc/kernel_compile_smoke.cu -static-global-template-stub=false
// //tests/cc:wgmma_pipeline_test compiles it for sm_90a and checks the wgmma variant's code.
// clang-format off
#include "marlin/kernel.h"
#include "marlin/marlin_template.cuh"
namespace MARLIN_NAMESPACE_NAME {
// awq_int4 (m 0.5, 256 threads k8 n8; bf16 m 2, 128 threads k4 n8)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 256, 1, 8, 8, true, 4, -1, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kBFloat16.id(), marlin::kU4.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 128, 2, 8, 4, false, 4, 4, false>(MARLIN_KERNEL_PARAMS);
// hqq_int4 (float zero points; 128 threads k8 n4)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 1, 4, 8, false, 4, 4, true>(MARLIN_KERNEL_PARAMS);
// gptq_int4 (m 4, 256 threads k4 n16; m 4, 128 threads k8 n4: the wide 128-row tile's config;
// act-order m 3; channelwise m 2, 128 threads k8 n4: the lightest wgmma dequantization, where
// ptxas once serialized the pipeline)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4B8.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 256, 4, 16, 4, false, 4, 8, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4B8.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 4, 4, 8, false, 4, 8, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kBFloat16.id(), marlin::kU4B8.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 128, 3, 8, 4, false, 4, 0, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4B8.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 2, 4, 8, false, 4, -1, false>(MARLIN_KERNEL_PARAMS);
// gptq_int8 (group 32; act-order m 4, 128 threads k8 n4)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU8B128.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 256, 2, 16, 4, false, 4, 2, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kBFloat16.id(), marlin::kU8B128.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 128, 4, 4, 8, false, 4, 0, false>(MARLIN_KERNEL_PARAMS);
// fp8 weights (group 128, m 0.5; channelwise bf16)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kFE4M3fn.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 1, 8, 4, true, 4, 8, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kBFloat16.id(), marlin::kFE4M3fn.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 256, 4, 16, 4, false, 4, -1, false>(MARLIN_KERNEL_PARAMS);
// nvfp4 (e4m3 scales, group 16)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kFE2M1f.id(), marlin::kFloat16.id(), marlin::kFE4M3fn.id(), 256, 1, 8, 8, false, 4, 1, false>(MARLIN_KERNEL_PARAMS);
// mxfp4 (e8m0 scales, group 32)
template __global__ void Marlin<marlin::kBFloat16.id(), marlin::kFE2M1f.id(), marlin::kBFloat16.id(), marlin::kFE8M0fnu.id(), 256, 2, 16, 4, false, 4, 2, false>(MARLIN_KERNEL_PARAMS);
// awq_int4_a_int8, gptq_int4_a_int8
template __global__ void Marlin<marlin::kS8.id(), marlin::kU4.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 1, 8, 4, false, 4, -1, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kS8.id(), marlin::kU4B8.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 256, 4, 16, 4, false, 4, 4, false>(MARLIN_KERNEL_PARAMS);
// gptq_int4_a_fp8, awq_int4_a_fp8, mxfp4_a_fp8
template __global__ void Marlin<marlin::kFE4M3fn.id(), marlin::kU4B8.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 2, 4, 8, false, 4, 8, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFE4M3fn.id(), marlin::kU4.id(), marlin::kBFloat16.id(), marlin::kBFloat16.id(), 256, 1, 8, 8, false, 4, 2, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFE4M3fn.id(), marlin::kFE2M1f.id(), marlin::kBFloat16.id(), marlin::kFE8M0fnu.id(), 128, 4, 8, 4, false, 4, 2, false>(MARLIN_KERNEL_PARAMS);
// sm75 family: stages 2 (f16 and s8 activations, f16 output)
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU4B8.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 256, 4, 16, 4, false, 2, -1, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kU8B128.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 4, 4, 8, false, 2, 0, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kS8.id(), marlin::kU4.id(), marlin::kFloat16.id(), marlin::kFloat16.id(), 128, 3, 8, 4, false, 2, 8, false>(MARLIN_KERNEL_PARAMS);
template __global__ void Marlin<marlin::kFloat16.id(), marlin::kFE2M1f.id(), marlin::kFloat16.id(), marlin::kFE4M3fn.id(), 128, 1, 8, 4, true, 2, 1, false>(MARLIN_KERNEL_PARAMS);
}  // namespace MARLIN_NAMESPACE_NAME
