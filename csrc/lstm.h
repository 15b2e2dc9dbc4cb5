// The fused LSTM's device-independent part (lstm_layer.cpp), which the device files lstm_cpu.cpp
// and lstm_cuda.cu call with their own pointwise passes. The argument checks are in checks.h.
#pragma once
#include <ATen/ATen.h>
#include <tuple>

namespace ulmlite {

using at::Tensor;

// The GEMM-level structure, shared by CPU and CUDA: `pointwise` runs one step's cell (forward) and
// `pointwise_backward` one step's cell backward on the device of the tensors.
// The forward's pre-activations are gates + addend (addend may be undefined), the backward's output
// gradient dh + dy (dy may be undefined).
using PointwiseForward = void (*)(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h,
                                  Tensor& c, Tensor& act);
using PointwiseBackward = void (*)(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                                   const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev);

// The cell ops (one step's pointwise part) around a device's pointwise pass. gates: (B, 4H)
// pre-activations, c_prev: (B, H). The forward returns h (B, H), c (B, H) and the activated gates
// (B, 4H) for the backward.
std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_with(const Tensor& gates, const Tensor& c_prev,
                                                          PointwiseForward pointwise);
std::tuple<Tensor, Tensor> lstm_cell_backward_with(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                   const Tensor& dh, const Tensor& dc,
                                                   PointwiseBackward pointwise_backward);

// A whole layer. x (T, B, I), h0 (B, H), c0 (B, H) in the state dtype (float32 for bfloat16, else x's),
// w_ih (4H, I), w_hh (4H, H), optional biases (4H). Returns y (T, B, H), h_T, c_T and, for the
// backward, the activated gates act (T, B, 4H) and every cell state cs (T, B, H).
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_forward(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh, PointwiseForward pointwise);
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_backward(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs, PointwiseBackward pointwise_backward);

}  // namespace ulmlite
