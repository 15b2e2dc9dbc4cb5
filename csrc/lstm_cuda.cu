// CUDA kernels: the same per-element functions as the CPU path (lstm_pointwise.h),
// one thread per (batch, hidden) element, launched on the current stream.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "lstm.h"
#include "lstm_pointwise.h"

namespace ulmlite {
namespace {

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

// One step's pointwise pass on the current stream (shapes were checked by the caller).
void pointwise_forward_cuda(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h, Tensor& c,
                            Tensor& act) {
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  if (B * H == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gates.scalar_type(), "lstm_pointwise_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cell_forward_kernel<scalar_t, acc_t><<<blocks_for(B * H), kThreads, 0, stream>>>(
        gates.data_ptr<scalar_t>(), addend.defined() ? addend.data_ptr<scalar_t>() : nullptr,
        c_prev.data_ptr<acc_t>(), h.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), act.data_ptr<scalar_t>(), B, H);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void pointwise_backward_cuda(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                             const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  const int64_t B = act.size(0), H = act.size(1) / 4;
  if (B * H == 0) return;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, act.scalar_type(), "lstm_pointwise_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cell_backward_kernel<scalar_t, acc_t><<<blocks_for(B * H), kThreads, 0, stream>>>(
        act.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), c_prev.data_ptr<acc_t>(),
        dy.defined() ? dy.data_ptr<scalar_t>() : nullptr, dh.data_ptr<scalar_t>(), dc.data_ptr<acc_t>(),
        dgates.data_ptr<scalar_t>(), dc_prev.data_ptr<acc_t>(), B, H);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cuda(const Tensor& gates, const Tensor& c_prev) {
  const c10::cuda::CUDAGuard guard(gates.device());
  return lstm_cell_forward_with(gates, c_prev, &pointwise_forward_cuda);
}

std::tuple<Tensor, Tensor> lstm_cell_backward_cuda(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                   const Tensor& dh, const Tensor& dc) {
  const c10::cuda::CUDAGuard guard(act.device());
  return lstm_cell_backward_with(act, c, c_prev, dh, dc, &pointwise_backward_cuda);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_forward_cuda(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh) {
  const c10::cuda::CUDAGuard guard(x.device());
  return lstm_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, &pointwise_forward_cuda);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_backward_cuda(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs) {
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
