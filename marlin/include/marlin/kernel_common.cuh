// Device helpers shared by the two kernel bodies (reference_body.cuh, mma_body.cuh): the
// asynchronous copy pipeline, the split-K ticket and programmatic dependent launch.
#pragma once

#include <cstdint>

namespace marlin {
namespace detail {

// 16-byte global -> shared copy. When `valid` is false nothing is read and the destination is
// zero-filled (rows of A past prob_m), so the arithmetic on them stays finite.
__device__ __forceinline__ void copy16(void* smem_dst, const void* gmem_src, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem_dst));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem_src),
               "r"(src_bytes)
               : "memory");
#else
  *static_cast<int4*>(smem_dst) =
      valid ? __ldg(static_cast<const int4*>(gmem_src)) : make_int4(0, 0, 0, 0);
#endif
}

__device__ __forceinline__ void copy_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Wait until at most `kPending` committed copy groups are still in flight.
template <int kPending>
__device__ __forceinline__ void copy_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

// A step's rows of grouped scales or zero points: kRows rows of kRowBytes (a multiple of 16),
// row_stride bytes apart in global memory and contiguous in shared memory. Each thread keeps the
// sources of its 16-byte chunks, set once per tile and advanced by a constant per copy, so a
// step's copies cost no 64-bit address arithmetic.
template <int kThreads, int kRows, int kRowBytes>
struct RowsCopy {
  static_assert(kRowBytes % 16 == 0, "copies are whole 16-byte chunks");
  static constexpr int kRowChunks = kRowBytes / 16;
  static constexpr int kChunks = kRows * kRowChunks;
  static constexpr int kCopies = (kChunks + kThreads - 1) / kThreads;
  const uint8_t* src[kCopies];

  __device__ __forceinline__ void init(const uint8_t* first_row, int64_t row_stride, int tid) {
#pragma unroll
    for (int it = 0; it < kCopies; ++it) {
      const int i = (tid + it * kThreads) % kChunks;
      src[it] = first_row + (i / kRowChunks) * row_stride + (i % kRowChunks) * 16;
    }
  }
  // Copies the rows to smem_dst, then moves the sources `advance` bytes on.
  __device__ __forceinline__ void copy(uint8_t* smem_dst, int64_t advance, int tid) {
#pragma unroll
    for (int it = 0; it < kCopies; ++it) {
      const int i = tid + it * kThreads;
      if (kChunks % kThreads != 0 && i >= kChunks) break;
      copy16(smem_dst + i * 16, src[it], true);
      src[it] += advance;
    }
  }
};

// Programmatic dependent launch (sm_90+, design.md section 11). The host launches a kernel
// with programmatic stream serialization only when it was compiled for compute_90 or later
// (gemm.cu), so these compile to nothing exactly where no such launch happens.
//
// Blocks until every grid this one depends on has finished and its writes are visible. Nothing
// may read or write memory another kernel could touch before this, except L2 prefetches.
__device__ __forceinline__ void wait_for_prior_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next kernel in the stream start its blocks (up to their own wait) once every block
// of this grid has called it or exited. Called after wait_for_prior_grids, so at most two
// grids overlap; without it the next kernel starts as this one's blocks exit.
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Asks L2 to fetch `bytes` (a multiple of 16, 16-byte aligned) from global memory. A hint only:
// it returns no data, so it is safe before wait_for_prior_grids even when the bytes change.
__device__ __forceinline__ void prefetch_l2(const void* gmem, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(gmem), "r"(bytes) : "memory");
#else
  (void)gmem, (void)bytes;
#endif
}

// The dynamic shared memory this launch has, in bytes (PTX %dynamic_smem_size).
__device__ __forceinline__ int dynamic_smem_bytes() {
  uint32_t bytes = 0;
  asm("mov.u32 %0, %%dynamic_smem_size;\n" : "=r"(bytes));
  return static_cast<int>(bytes);
}

// Thread-block clusters (sm_90+): the host launches a split-K grid with one cluster per output
// tile when the kernel was compiled for compute_90 or later (gemm.cu), so that the splits sum
// through each other's shared memory instead of C_tmp. Elsewhere a launch has no clusters and
// cluster_blocks() is 1.
//
// Blocks in this block's cluster (PTX %cluster_nctarank).
__device__ __forceinline__ int cluster_blocks() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t blocks = 1;
  asm("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(blocks));
  return static_cast<int>(blocks);
#else
  return 1;
#endif
}

// Barrier of every thread of the cluster: shared-memory writes before it (release) are visible
// to every block of the cluster after it (acquire).
__device__ __forceinline__ void cluster_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "barrier.cluster.arrive.release.aligned;\n"
      "barrier.cluster.wait.acquire.aligned;\n" ::
          : "memory");
#endif
}

// The shared::cluster address of `smem_addr` (a shared::cta address of this block) in the
// shared memory of the cluster's block `rank`.
__device__ __forceinline__ uint32_t cluster_peer_address(uint32_t smem_addr, int rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t peer = 0;
  asm("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(peer) : "r"(smem_addr), "r"(rank));
  return peer;
#else
  (void)rank;
  return smem_addr;
#endif
}

// 16 bytes of a cluster block's shared memory (an address from cluster_peer_address).
__device__ __forceinline__ float4 load_cluster_float4(uint32_t peer_addr) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(peer_addr)
               : "memory");
#else
  (void)peer_addr;
#endif
  return v;
}

template <int kValue>
struct IntConst {
  static constexpr int value = kValue;
};

// Split-K arrival (design.md section 9, launch contract): after this block's partial is in
// C_tmp, take a ticket for `tile`; true in every thread of the block that arrived last, which
// also resets the ticket for the next call. Needs every thread of the block.
__device__ __forceinline__ bool split_arrival_is_last(int* locks, int tile, int splits) {
  __threadfence();
  __syncthreads();
  bool last = false;
  if (threadIdx.x == 0) {
    last = atomicAdd(locks + tile, 1) == splits - 1;
    if (last) atomicExch(locks + tile, 0);  // every split has arrived: ready for the next call
  }
  // Barrier and broadcast in one, without static shared memory (the dynamic size may be the
  // whole 48 KiB that needs no opt-in).
  const bool is_last = __syncthreads_or(last) != 0;
  if (is_last) __threadfence();
  return is_last;
}

}  // namespace detail
}  // namespace marlin
