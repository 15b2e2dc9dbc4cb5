// The fused cross-entropy's CUDA row kernel: one block per row of logits, a tree reduction over the
// block in shared memory for the max and the sum, then the gradient written over the logits. The
// per-element math is cross_entropy_pointwise.h, the CPU loop's. Compiled by nvcc for the GPU
// (cross_entropy_cuda.cu) and by the host compiler for the emulator (cuda_emulation.h,
// emulated_cuda.cpp), whose barrier-checking threads run it in the CPU test suite.
#pragma once
#include <cmath>
#include <cstdint>

#include "cross_entropy_pointwise.h"
#include "cuda_emulation.h"

namespace ulmlite {

constexpr int kRowThreads = 256;

template <typename scalar_t, typename acc_t>
__global__ void cross_entropy_rows_kernel(scalar_t* __restrict__ logits, const int64_t* __restrict__ target,
                                          acc_t* __restrict__ loss, int64_t* __restrict__ argmax, int64_t V,
                                          acc_t scale, bool with_grad) {
  __shared__ acc_t best_value[kRowThreads];
  __shared__ int64_t best_index[kRowThreads];
  __shared__ acc_t total[kRowThreads];
  scalar_t* z = logits + blockIdx.x * V;
  const int tid = threadIdx.x;
  // 1. max and its first index: per thread, then a tree over the block.
  acc_t m = -INFINITY;
  int64_t best = V;
  for (int64_t j = tid; j < V; j += kRowThreads) {
    const acc_t x = static_cast<acc_t>(z[j]);
    if (x > m) {
      m = x;
      best = j;
    }
  }
  best_value[tid] = m;
  best_index[tid] = best;
  __syncthreads();
  for (int half = kRowThreads / 2; half > 0; half /= 2) {
    if (tid < half) {
      const acc_t other = best_value[tid + half];
      const int64_t other_index = best_index[tid + half];
      if (other > best_value[tid] || (other == best_value[tid] && other_index < best_index[tid])) {
        best_value[tid] = other;
        best_index[tid] = other_index;
      }
    }
    __syncthreads();
  }
  m = best_value[0];
  if (!(m > -INFINITY)) m = static_cast<acc_t>(z[0]);  // all -inf or NaN: the loss comes out non-finite
  // 2. the sum of exp(x - m).
  acc_t sum = 0;
  for (int64_t j = tid; j < V; j += kRowThreads) sum += softmax_term(static_cast<acc_t>(z[j]), m);
  total[tid] = sum;
  __syncthreads();
  for (int half = kRowThreads / 2; half > 0; half /= 2) {
    if (tid < half) total[tid] += total[tid + half];
    __syncthreads();
  }
  const acc_t lse = m + pointwise_log(total[0]);
  const int64_t t = target[blockIdx.x];
  ULMLITE_KERNEL_ASSERT(t >= 0 && t < V);  // on CUDA the host does not read the targets (no sync)
  const acc_t zt = static_cast<acc_t>(z[t]);
  if (tid == 0) {
    loss[blockIdx.x] = lse - zt;
    argmax[blockIdx.x] = best_index[0] < V ? best_index[0] : 0;
  }
  if (!with_grad) return;
  __syncthreads();  // every thread has read z[t] before it is overwritten
  // 3. the scaled gradient over the logits.
  for (int64_t j = tid; j < V; j += kRowThreads) {
    z[j] = j == t ? softmax_grad_target(zt, lse, scale) : softmax_grad(static_cast<acc_t>(z[j]), lse, scale);
  }
}

}  // namespace ulmlite
