// The LSTM ops' CUDA kernels and their registration: the same per-element functions as the CPU
// path (lstm_pointwise.h), one thread per (batch, hidden) element, launched on the current stream.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "checks.h"
#include "kernel_launches.h"
#include "lstm.h"

namespace ulmlite {
namespace {

// One step's pointwise pass and its backward on the current stream (kernel_launches.h).
void pointwise_forward_cuda(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h, Tensor& c,
                            Tensor& act) {
  launch_cell_forward(gates, addend, c_prev, h, c, act, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void pointwise_backward_cuda(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                             const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  launch_cell_backward(act, c, c_prev, dy, dh, dc, dgates, dc_prev, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// Each entry checks its arguments before it builds the device guard: a CPU tensor among CUDA ones
// gets the op's own message naming the argument, not the guard's "Expected a CUDA device".
std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cuda(const Tensor& gates, const Tensor& c_prev) {
  check_cell_forward(gates, c_prev);
  const c10::cuda::CUDAGuard guard(gates.device());
  return lstm_cell_forward_with(gates, c_prev, &pointwise_forward_cuda);
}

std::tuple<Tensor, Tensor> lstm_cell_backward_cuda(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                   const Tensor& dh, const Tensor& dc) {
  check_cell_backward(act, c, c_prev, dh, dc);
  const c10::cuda::CUDAGuard guard(act.device());
  return lstm_cell_backward_with(act, c, c_prev, dh, dc, &pointwise_backward_cuda);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_forward_cuda(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh) {
  check_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  const c10::cuda::CUDAGuard guard(x.device());
  return lstm_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, &pointwise_forward_cuda);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_backward_cuda(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs) {
  check_layer_backward(dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs);
  const c10::cuda::CUDAGuard guard(x.device());
  return lstm_layer_backward(dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs, &pointwise_backward_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(ulmlite, CUDA, m) {
  m.impl("lstm_cell_forward", &lstm_cell_forward_cuda);
  m.impl("lstm_cell_backward", &lstm_cell_backward_cuda);
  m.impl("lstm_forward", &lstm_forward_cuda);
  m.impl("lstm_backward", &lstm_backward_cuda);
}

}  // namespace ulmlite
