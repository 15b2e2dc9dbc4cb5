// The launches of the CUDA kernels, written once: lstm_cuda.cu and cross_entropy_cuda.cu call them
// with the current CUDA stream (nvcc: triple chevrons), emulated_cuda.cpp with no stream (the host
// emulator, cuda_emulation.h). So the CPU tests run the very grid, block and argument code the GPU
// gets. Shapes were checked by the caller. Each translation unit compiles its own copy (an unnamed
// namespace): the two copies differ in what ULMLITE_LAUNCH means.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

// After every ATen header: on the host the emulator defines __global__, __shared__ and friends.
#include "cross_entropy_kernels.cuh"
#include "lstm_kernels.cuh"

namespace ulmlite {
namespace {

// One step's pointwise pass: h, c and the activated gates from gates (+ addend, which may be undefined).
template <typename Stream>
void launch_cell_forward(const at::Tensor& gates, const at::Tensor& addend, const at::Tensor& c_prev, at::Tensor& h,
                         at::Tensor& c, at::Tensor& act, Stream stream) {
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  if (B * H == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gates.scalar_type(), "lstm_pointwise_forward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cell_forward_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH_SERIAL(kernel, blocks_for(B * H), kThreads, stream,
        gates.data_ptr<scalar_t>(), addend.defined() ? addend.data_ptr<scalar_t>() : nullptr,
        c_prev.data_ptr<acc_t>(), h.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), act.data_ptr<scalar_t>(), B, H);
  });
}

// One step's pointwise backward: the gate gradients and dc_prev (dy may be undefined).
template <typename Stream>
void launch_cell_backward(const at::Tensor& act, const at::Tensor& c, const at::Tensor& c_prev, const at::Tensor& dy,
                          const at::Tensor& dh, const at::Tensor& dc, at::Tensor& dgates, at::Tensor& dc_prev,
                          Stream stream) {
  const int64_t B = act.size(0), H = act.size(1) / 4;
  if (B * H == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, act.scalar_type(), "lstm_pointwise_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cell_backward_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH_SERIAL(kernel, blocks_for(B * H), kThreads, stream,
        act.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), c_prev.data_ptr<acc_t>(),
        dy.defined() ? dy.data_ptr<scalar_t>() : nullptr, dh.data_ptr<scalar_t>(), dc.data_ptr<acc_t>(),
        dgates.data_ptr<scalar_t>(), dc_prev.data_ptr<acc_t>(), B, H);
  });
}

// The fused loss's row pass over one chunk of logits: one block per row.
template <typename Stream>
void launch_rows(at::Tensor& logits, const at::Tensor& target, at::Tensor& loss, at::Tensor& argmax, double scale,
                 bool with_grad, Stream stream) {
  const int64_t n = logits.size(0), V = logits.size(1);
  if (n == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "cross_entropy_rows", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cross_entropy_rows_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH(kernel, static_cast<unsigned>(n), kRowThreads, stream, logits.data_ptr<scalar_t>(),
        target.data_ptr<int64_t>(), loss.data_ptr<acc_t>(), argmax.data_ptr<int64_t>(), V,
        static_cast<acc_t>(scale), with_grad);
  });
}

}  // namespace
}  // namespace ulmlite
