// The fused LSTM layer's GEMM structure, the same on CPU and CUDA (haste / cuDNN style):
//   forward:  one GEMM for the input projection of all steps, then per step one GEMM (R h_{t-1})
//             and one fused pointwise pass;
//   backward: per step one fused pointwise pass and one GEMM (dgates R), then the weight gradients
//             and dx as three large GEMMs after the loop.
// GEMMs go through gemm.h: oneDNN with pre-packed weights on CPUs that allow it, at::mm
// otherwise (MKL / OpenBLAS on CPU, cuBLAS on the current CUDA stream; transposed weights as views,
// per-step products into reused buffers); the pointwise passes are passed in by the device file
// (lstm_cpu.cpp, lstm_cuda.cu).
#include "checks.h"
#include "gemm.h"
#include "lstm.h"

namespace ulmlite {

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_with(const Tensor& gates, const Tensor& c_prev,
                                                          PointwiseForward pointwise) {
  check_cell_forward(gates, c_prev);
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  auto h = at::empty({B, H}, gates.options());
  auto c = at::empty_like(c_prev);
  auto act = at::empty_like(gates);
  pointwise(gates, Tensor(), c_prev, h, c, act);
  return {h, c, act};
}

std::tuple<Tensor, Tensor> lstm_cell_backward_with(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                   const Tensor& dh, const Tensor& dc,
                                                   PointwiseBackward pointwise_backward) {
  check_cell_backward(act, c, c_prev, dh, dc);
  auto dgates = at::empty_like(act);
  auto dc_prev = at::empty_like(c_prev);
  pointwise_backward(act, c, c_prev, Tensor(), dh, dc, dgates, dc_prev);
  return {dgates, dc_prev};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_forward(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh, PointwiseForward pointwise) {
  check_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = h0.size(1);
  // Input projection of every step at once: (T*B, I) @ (I, 4H) + both biases.
  c10::optional<Tensor> bias;
  if (b_ih.has_value() && b_ih->defined()) bias = *b_ih + *b_hh;
  const Tensor x_proj = linear_bias(x.reshape({T * B, I}), pack_linear(w_ih, T * B), bias).view({T, B, 4 * H});
  auto y = at::empty({T, B, H}, x.options());
  auto act = at::empty({T, B, 4 * H}, x.options());
  auto cs = at::empty({T, B, H}, c0.options());
  const PackedLinear recurrent = pack_linear(w_hh, B);  // packed once, used T times
  Tensor hr_buffer = recurrent.onednn ? Tensor() : at::empty({B, 4 * H}, x.options());
  for (int64_t t = 0; t < T; ++t) {
    const Tensor h_prev = t == 0 ? h0 : y[t - 1];
    const Tensor c_prev = t == 0 ? c0 : cs[t - 1];
    // Pre-activations x_proj[t] + h_{t-1} R^T: the pointwise pass adds x_proj[t] to the GEMM's
    // output as it reads it. oneDNN's fused add costs more than that (measured per step at B = 32,
    // H = 128 float32: 90 us with the add, 57 us without).
    const Tensor hr = linear_buffered(h_prev, recurrent, hr_buffer);
    Tensor h_t = y[t], c_t = cs[t], act_t = act[t];
    pointwise(hr, x_proj[t], c_prev, h_t, c_t, act_t);
  }
  return {y, y[T - 1].clone(), cs[T - 1].clone(), act, cs};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_backward(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs, PointwiseBackward pointwise_backward) {
  check_layer_backward(dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = h0.size(1);
  auto dgates = at::empty({T, B, 4 * H}, act.options());
  Tensor dh = dh_last;  // gradient reaching h_t from step t+1 (and from h_T's own use)
  Tensor dc = dc_last.clone();
  Tensor dc_prev = at::empty_like(dc);
  const PackedLinear recurrent_t = pack_linear_transposed(w_hh, B);  // dh = dgates R
  // dh is read by the step's pointwise pass before the step's GEMM overwrites it: one buffer serves.
  Tensor dh_buffer = recurrent_t.onednn ? Tensor() : at::empty({B, H}, dh_last.options());
  for (int64_t t = T - 1; t >= 0; --t) {
    const Tensor c_prev = t == 0 ? c0 : cs[t - 1];
    Tensor dgates_t = dgates[t];
    pointwise_backward(act[t], cs[t], c_prev, dy[t], dh, dc, dgates_t, dc_prev);
    std::swap(dc, dc_prev);
    dh = linear_buffered(dgates_t, recurrent_t, dh_buffer);  // gradient reaching h_{t-1}
  }
  const Tensor dg = dgates.view({T * B, 4 * H});
  Tensor dx = linear(dg, pack_linear_transposed(w_ih, T * B)).view({T, B, I});
  Tensor dw_ih = at::empty({4 * H, I}, dg.options());
  matmul_into(dg.t(), x.reshape({T * B, I}), dw_ih, 0.0f);
  // dW_hh = sum_t dgates_t^T h_{t-1}: steps 1..T-1 read y[0..T-2] in place, step 0 reads h0 (added
  // by a second, small GEMM instead of concatenating h0 and y into a copy).
  Tensor dw_hh = at::empty({4 * H, H}, dg.options());
  float beta = 0.0f;
  if (T > 1) {
    matmul_into(dgates.narrow(0, 1, T - 1).reshape({(T - 1) * B, 4 * H}).t(),
                y.narrow(0, 0, T - 1).reshape({(T - 1) * B, H}), dw_hh, 0.0f);
    beta = 1.0f;
  }
  matmul_into(dgates[0].t(), h0, dw_hh, beta);
  Tensor db = dg.sum(0);
  return {dx, dh, dc, dw_ih, dw_hh, db};
}

}  // namespace ulmlite
