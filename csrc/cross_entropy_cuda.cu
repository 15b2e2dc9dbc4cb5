// CUDA row pass of the fused decoder + cross-entropy: one block per row of logits, the same
// per-element functions as the CPU loop (cross_entropy_pointwise.h), launched on the current stream.
// The chunk loop and its GEMMs (cuBLAS through ATen) are shared with the CPU: cross_entropy.cpp.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "checks.h"
#include "cross_entropy.h"
#include "kernel_launches.h"

namespace ulmlite {
namespace {

void rows_cuda(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale, bool with_grad) {
  launch_rows(logits, target, loss, argmax, scale, with_grad, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> linear_cross_entropy_cuda(
    const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias, const Tensor& target,
    int64_t chunk_rows, bool with_grad) {
  // The arguments first, so that a CPU tensor among CUDA ones gets the op's message naming it; the
  // targets' values are checked in the kernel (no host sync).
  check_linear_cross_entropy(input, weight, bias, target, chunk_rows, false);
  const c10::cuda::CUDAGuard guard(input.device());
  return linear_cross_entropy_with(input, weight, bias, target, chunk_rows, with_grad, &rows_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(ulmlite, CUDA, m) { m.impl("linear_cross_entropy", &linear_cross_entropy_cuda); }

}  // namespace ulmlite
