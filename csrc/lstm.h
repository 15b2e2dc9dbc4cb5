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

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cpu(const Tensor& gates, const Tensor& c_prev);
std::tuple<Tensor, Tensor> lstm_cell_backward_cpu(const Tensor& act, const Tensor& c,
                                                  const Tensor& c_prev, const Tensor& dh,
                                                  const Tensor& dc);

}  // namespace ulmlite
