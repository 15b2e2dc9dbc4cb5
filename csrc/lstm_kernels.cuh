// The LSTM's CUDA kernels: one thread per (batch, hidden) element, calling the per-element functions
// the CPU loop calls (lstm_pointwise.h). Compiled by nvcc for the GPU (lstm_cuda.cu) and by the host
// compiler for the emulator (cuda_emulation.h, emulated_cuda.cpp), so that the CPU test suite runs
// this very code and its launch arithmetic. No barriers: the emulator runs the threads one by one.
#pragma once
#include <cstdint>

#include "cuda_emulation.h"
#include "lstm_pointwise.h"

namespace ulmlite {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// p (the input projection added to x) may be null.
template <typename scalar_t, typename acc_t>
__global__ void cell_forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ p,
                                    const acc_t* __restrict__ cp, scalar_t* __restrict__ h, acc_t* __restrict__ c,
                                    scalar_t* __restrict__ act, int64_t B, int64_t H) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= B * H) return;
  const int64_t b = k / H, j = k % H;
  forward_element<scalar_t, acc_t>(x + b * 4 * H, p ? p + b * 4 * H : nullptr, act + b * 4 * H, j, H, cp[k], c[k],
                                   h[k]);
}

// dy may be null (the cell op has no separate output gradient).
template <typename scalar_t, typename acc_t>
__global__ void cell_backward_kernel(const scalar_t* __restrict__ act, const acc_t* __restrict__ c,
                                     const acc_t* __restrict__ cp, const scalar_t* __restrict__ dy,
                                     const scalar_t* __restrict__ dh,
                                     const acc_t* __restrict__ dc, scalar_t* __restrict__ dgates,
                                     acc_t* __restrict__ dc_prev, int64_t B, int64_t H) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= B * H) return;
  const int64_t b = k / H, j = k % H;
  const acc_t dh_total = static_cast<acc_t>(dh[k]) + (dy ? static_cast<acc_t>(dy[k]) : acc_t(0));
  backward_element<scalar_t, acc_t>(act + b * 4 * H, dgates + b * 4 * H, j, H, c[k], cp[k], dh_total, dc[k],
                                    dc_prev[k]);
}

}  // namespace ulmlite
