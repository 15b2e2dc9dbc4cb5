// CUDA row pass of the fused decoder + cross-entropy: one block per row of logits, the same
// per-element functions as the CPU loop (cross_entropy_pointwise.h), launched on the current stream.
// The chunk loop and its GEMMs (cuBLAS through ATen) are shared with the CPU: cross_entropy.cpp.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cross_entropy.h"
#include "cross_entropy_pointwise.h"

namespace ulmlite {
namespace {

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
  const acc_t lse = m + log_(total[0]);
  const int64_t t = target[blockIdx.x];
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

void rows_cuda(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale, bool with_grad) {
  const int64_t n = logits.size(0), V = logits.size(1);
  if (n == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "cross_entropy_rows_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cross_entropy_rows_kernel<scalar_t, acc_t><<<static_cast<unsigned>(n), kRowThreads, 0, stream>>>(
        logits.data_ptr<scalar_t>(), target.data_ptr<int64_t>(), loss.data_ptr<acc_t>(),
        argmax.data_ptr<int64_t>(), V, static_cast<acc_t>(scale), with_grad);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> linear_cross_entropy_cuda(
    const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias, const Tensor& target,
    int64_t chunk_rows, bool with_grad) {
  const c10::cuda::CUDAGuard guard(input.device());
  return linear_cross_entropy_with(input, weight, bias, target, chunk_rows, with_grad, &rows_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(ulmlite, CUDA, m) { m.impl("linear_cross_entropy", &linear_cross_entropy_cuda); }

}  // namespace ulmlite
