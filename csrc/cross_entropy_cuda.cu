// CUDA row pass of the fused decoder + cross-entropy: one block per row of logits, the same
// per-element functions as the CPU loop (cross_entropy_pointwise.h), launched on the current stream.
// The chunk loop and its GEMMs (cuBLAS through ATen) are shared with the CPU: cross_entropy.cpp.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cross_entropy.h"
#include "cross_entropy_kernels.cuh"

namespace ulmlite {
namespace {

void rows_cuda(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale, bool with_grad) {
  const int64_t n = logits.size(0), V = logits.size(1);
  if (n == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "cross_entropy_rows_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cross_entropy_rows_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH(kernel, static_cast<unsigned>(n), kRowThreads, stream, logits.data_ptr<scalar_t>(), target.data_ptr<int64_t>(), loss.data_ptr<acc_t>(),
        argmax.data_ptr<int64_t>(), V, static_cast<acc_t>(scale), with_grad);
  });
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
