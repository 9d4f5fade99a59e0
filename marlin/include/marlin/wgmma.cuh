// Hopper warpgroup MMA (wgmma, sm_90a) for the tensor-core body (mma_body.cuh, design.md
// section 11): the dequantized weights are the register A operand (64 output channels x 16 k per
// warpgroup, each warp's 16 rows in the m16n8k16 A fragment layout) and the activation tile is the
// shared-memory B operand (N = the tile's tokens, K-major, 128-byte swizzle).
//
// Everything here compiles to nothing but a trap unless the device pass targets sm_90a
// (MARLIN_HAS_WGMMA); the body only calls it where MARLIN_HAS_WGMMA is 1.
#pragma once

#include <cstdint>

#include "marlin/scalar_type.h"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MARLIN_HAS_WGMMA 1
#else
#define MARLIN_HAS_WGMMA 0
#endif

namespace marlin {
namespace wgmma {

// Shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor Format") of a K-major operand
// with 128-byte swizzle: rows of 128 bytes (64 16-bit elements of k), 8-row atoms 1024 bytes
// apart, the atom 1024-byte aligned. The leading byte offset is unused for this layout.
__device__ __forceinline__ uint64_t sw128_desc(uint32_t smem_addr) {
  constexpr uint64_t kLeading = 1;         // 16 bytes, ignored
  constexpr uint64_t kStride = 1024 >> 4;  // between 8-row atoms
  constexpr uint64_t kSwizzle128 = 1;
  return static_cast<uint64_t>((smem_addr & 0x3FFFF) >> 4) | kLeading << 16 | kStride << 32 |
         kSwizzle128 << 62;
}

// Orders this thread's register writes (A operands, accumulators) before the wgmma that follow.
__device__ __forceinline__ void fence() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void commit() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

// Waits until at most kPending committed wgmma groups of this warpgroup are still running; only
// then may their A registers, accumulators and shared-memory operands be touched.
template <int kPending>
__device__ __forceinline__ void wait() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#endif
}

// cp.async writes shared memory through the generic proxy, wgmma reads it through the async
// proxy: each thread fences its completed copies before the barrier that publishes them.
__device__ __forceinline__ void fence_async_shared() {
#if MARLIN_HAS_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// Keeps the compiler from moving accumulator reads or writes across a wait (the registers
// change behind its back while a wgmma runs).
template <int kN>
__device__ __forceinline__ void fence_accumulators(float (&d)[kN][4]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
  }
}

// Pins a descriptor and A fragments in registers before the fence (see fence_accumulators).
template <int kFrags>
__device__ __forceinline__ void fence_operands(uint64_t& desc, uint32_t (&a)[kFrags][4]) {
  asm volatile("" : "+l"(desc)::"memory");
#pragma unroll
  for (int i = 0; i < kFrags; ++i) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+r"(a[i][e])::"memory");
  }
}

// The wgmma instruction for N = 32, 48, 64, 128 and the 16-bit type T ("f16" or "bf16"): operands d
// (fp32 accumulators [N / 8][4]), a (4 registers), desc. scale-d is the predicate p = 1 (the
// accumulators start at zero).
#define MARLIN_WGMMA_M64N32K16(T)                                                                 \
  asm volatile(                                                                                   \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"                                                \
      "wgmma.mma_async.sync.aligned.m64n32k16.f32." T "." T                                       \
      " "                                                                                         \
      "{%0, %1, %2, %3, %4, %5, %6, %7, "                                                         \
      "%8, %9, %10, %11, %12, %13, %14, %15}, "                                                   \
      "{%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"                                               \
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
        "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
        "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3])                                \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))

#define MARLIN_WGMMA_M64N48K16(T)                                                                 \
  asm volatile(                                                                                   \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %29, 0;\n"                                                \
      "wgmma.mma_async.sync.aligned.m64n48k16.f32." T "." T                                       \
      " "                                                                                         \
      "{%0, %1, %2, %3, %4, %5, %6, %7, "                                                         \
      "%8, %9, %10, %11, %12, %13, %14, %15, "                                                    \
      "%16, %17, %18, %19, %20, %21, %22, %23}, "                                                 \
      "{%24, %25, %26, %27}, %28, p, 1, 1, 0;\n}\n"                                               \
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
        "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
        "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
        "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3])  \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))

#define MARLIN_WGMMA_M64N64K16(T)                                                                 \
  asm volatile(                                                                                   \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." T "." T                                       \
      " "                                                                                         \
      "{%0, %1, %2, %3, %4, %5, %6, %7, "                                                         \
      "%8, %9, %10, %11, %12, %13, %14, %15, "                                                    \
      "%16, %17, %18, %19, %20, %21, %22, %23, "                                                  \
      "%24, %25, %26, %27, %28, %29, %30, %31}, "                                                 \
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"                                               \
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
        "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
        "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
        "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), \
        "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), \
        "+f"(d[7][2]), "+f"(d[7][3])                                                              \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))

#define MARLIN_WGMMA_M64N128K16(T)                                                                \
  asm volatile(                                                                                   \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." T "." T                                      \
      " "                                                                                         \
      "{"                                                                                         \
      "%0, %1, %2, %3, %4, %5, %6, %7, "                                                          \
      "%8, %9, %10, %11, %12, %13, %14, %15, "                                                    \
      "%16, %17, %18, %19, %20, %21, %22, %23, "                                                  \
      "%24, %25, %26, %27, %28, %29, %30, %31, "                                                  \
      "%32, %33, %34, %35, %36, %37, %38, %39, "                                                  \
      "%40, %41, %42, %43, %44, %45, %46, %47, "                                                  \
      "%48, %49, %50, %51, %52, %53, %54, %55, "                                                  \
      "%56, %57, %58, %59, %60, %61, %62, %63}, "                                                 \
      "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"                                               \
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
        "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
        "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
        "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), \
        "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), \
        "+f"(d[7][2]), "+f"(d[7][3]), "+f"(d[8][0]), "+f"(d[8][1]), "+f"(d[8][2]), "+f"(d[8][3]), \
        "+f"(d[9][0]), "+f"(d[9][1]), "+f"(d[9][2]), "+f"(d[9][3]), "+f"(d[10][0]),               \
        "+f"(d[10][1]), "+f"(d[10][2]), "+f"(d[10][3]), "+f"(d[11][0]), "+f"(d[11][1]),           \
        "+f"(d[11][2]), "+f"(d[11][3]), "+f"(d[12][0]), "+f"(d[12][1]), "+f"(d[12][2]),           \
        "+f"(d[12][3]), "+f"(d[13][0]), "+f"(d[13][1]), "+f"(d[13][2]), "+f"(d[13][3]),           \
        "+f"(d[14][0]), "+f"(d[14][1]), "+f"(d[14][2]), "+f"(d[14][3]), "+f"(d[15][0]),           \
        "+f"(d[15][1]), "+f"(d[15][2]), "+f"(d[15][3])                                            \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1))

// D[64 x kN] += A[64 x 16] (registers) * B[16 x kN] (descriptor), fp32 accumulators.
template <ScalarTypeId c_type, int kN>
struct Wgmma {
  static_assert(kN == 32 || kN == 48 || kN == 64 || kN == 128,
                "wgmma N: the tile's 32, 48, 64 or (wide tile) 128 rows");
  static __device__ __forceinline__ void run(float (&d)[kN / 8][4], const uint32_t (&a)[4],
                                             uint64_t desc) {
#if MARLIN_HAS_WGMMA
    constexpr bool kF16 = c_type == kFloat16.id();
    if constexpr (kN == 32) {
      if constexpr (kF16) {
        MARLIN_WGMMA_M64N32K16("f16");
      } else {
        MARLIN_WGMMA_M64N32K16("bf16");
      }
    } else if constexpr (kN == 48) {
      if constexpr (kF16) {
        MARLIN_WGMMA_M64N48K16("f16");
      } else {
        MARLIN_WGMMA_M64N48K16("bf16");
      }
    } else if constexpr (kN == 64) {
      if constexpr (kF16) {
        MARLIN_WGMMA_M64N64K16("f16");
      } else {
        MARLIN_WGMMA_M64N64K16("bf16");
      }
    } else {
      if constexpr (kF16) {
        MARLIN_WGMMA_M64N128K16("f16");
      } else {
        MARLIN_WGMMA_M64N128K16("bf16");
      }
    }
#else
    (void)d, (void)a, (void)desc;
    __trap();  // only the sm_90a device pass calls it (MARLIN_HAS_WGMMA)
#endif
  }
};

#undef MARLIN_WGMMA_M64N32K16
#undef MARLIN_WGMMA_M64N48K16
#undef MARLIN_WGMMA_M64N64K16
#undef MARLIN_WGMMA_M64N128K16

}  // namespace wgmma
}  // namespace marlin
