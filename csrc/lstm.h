// Declarations shared by ops.cpp, lstm_cpu.cpp and lstm_cuda.cu, and the argument
// checks every kernel runs first (so a bad call raises a RuntimeError, never crashes).
#pragma once
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <tuple>

namespace ulmlite {

using at::Tensor;

// The dtype the cell state and the math use: float32 for bfloat16 storage.
inline at::ScalarType state_dtype(at::ScalarType t) {
  return t == at::kBFloat16 ? at::kFloat : t;
}

void check_tensor(const Tensor& t, const char* op, const char* name, at::IntArrayRef shape,
                  at::ScalarType dtype, const at::Device& device);
void check_storage_dtype(const Tensor& t, const char* op, const char* name);

// One LSTM cell's pointwise part. gates: (B, 4H) pre-activations, c_prev: (B, H).
// Returns h (B, H), c (B, H) and the activated gates (B, 4H) for the backward.
void check_cell_forward(const Tensor& gates, const Tensor& c_prev);
void check_cell_backward(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                         const Tensor& dh, const Tensor& dc);

// A whole layer. x (T, B, I), h0 (B, H), c0 (B, H) in the state dtype, w_ih (4H, I), w_hh (4H, H),
// optional biases (4H). Returns y (T, B, H), h_T, c_T and, for the backward, the activated gates
// act (T, B, 4H) and every cell state cs (T, B, H).
void check_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                         const Tensor& w_hh, const c10::optional<Tensor>& b_ih,
                         const c10::optional<Tensor>& b_hh, const char* op = "lstm_forward");
void check_layer_backward(const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x,
                          const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                          const Tensor& y, const Tensor& act, const Tensor& cs);

// The GEMM-level structure, shared by CPU and CUDA: `pointwise` runs one step's cell (forward) and
// `pointwise_backward` one step's cell backward on the device of the tensors.
// The forward's pre-activations are gates + addend (addend may be undefined), the backward's output
// gradient dh + dy (dy may be undefined).
using PointwiseForward = void (*)(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h,
                                  Tensor& c, Tensor& act);
using PointwiseBackward = void (*)(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                                   const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev);

// The cell ops (one step's pointwise part) around a device's pointwise pass.
std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_with(const Tensor& gates, const Tensor& c_prev,
                                                          PointwiseForward pointwise);
std::tuple<Tensor, Tensor> lstm_cell_backward_with(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                   const Tensor& dh, const Tensor& dc,
                                                   PointwiseBackward pointwise_backward);

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_forward(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh, PointwiseForward pointwise);
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_layer_backward(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs, PointwiseBackward pointwise_backward);

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cpu(const Tensor& gates, const Tensor& c_prev);
std::tuple<Tensor, Tensor> lstm_cell_backward_cpu(const Tensor& act, const Tensor& c,
                                                  const Tensor& c_prev, const Tensor& dh,
                                                  const Tensor& dc);

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_forward_cpu(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh);
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_backward_cpu(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs);

}  // namespace ulmlite
