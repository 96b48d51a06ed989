// Device helpers for the warp-level tensor-core instructions (CUDA, or its host emulation): operand rounding
// and one mma.sync per format. Used by the tensor-core time loops (lstm_fused_mma.cu) and the multi-model
// GEMM (lstm_multi_gemm.cu); the fragment layouts are in lstm_mma_layout.hpp.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/launch.cuh"
#include "kernels/lstm_mma_layout.hpp"

namespace lstmad::kernels::mma {

// fp32 to tf32 bits, rounded to nearest (ties away from zero).
__device__ __forceinline__ uint32_t tf32_bits(float x) {
#if defined(LSTMAD_CUDA_EMULATION)
  return ::lstmad::emu::tf32_rna(x);
#else
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
#endif
}

__device__ __forceinline__ uint32_t bf16_bits(float x) {
  return static_cast<uint32_t>(__bfloat16_as_ushort(__float2bfloat16_rn(x)));
}

// d += A . B for one 16 x 8 tile; a: this lane's four A registers, b0/b1: its two B registers.
template <Format F>
__device__ __forceinline__ void mma_acc(float (&d)[4], const uint4& a, uint32_t b0, uint32_t b1) {
#if defined(LSTMAD_CUDA_EMULATION)
  const uint32_t av[4] = {a.x, a.y, a.z, a.w};
  if constexpr (F == Format::TF32)
    ::lstmad::emu::mma_tf32(d, av, b0, b1);
  else
    ::lstmad::emu::mma_bf16(d, av, b0, b1);
#else
  if constexpr (F == Format::TF32) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b0), "r"(b1));
  }
#endif
}

}  // namespace lstmad::kernels::mma
