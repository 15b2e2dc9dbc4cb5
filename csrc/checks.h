// The argument checks of the ops, run first by every kernel of every device (so a bad call raises a
// RuntimeError that names the op and the argument, never crashes): shapes, dtypes, devices,
// contiguity. On CUDA they run before the device guard is built, so that a CPU tensor among CUDA
// ones gets the op's own message rather than the guard's.
#pragma once
#include <ATen/ATen.h>

namespace ulmlite {

using at::Tensor;

// t is defined, has `shape`, `dtype`, lies on `device` and is contiguous.
void check_tensor(const Tensor& t, const char* op, const char* name, at::IntArrayRef shape,
                  at::ScalarType dtype, const at::Device& device);
// t is float32, float64 or bfloat16 (the storage dtypes the kernels take).
void check_storage_dtype(const Tensor& t, const char* op, const char* name);

// lstm_cell_forward: gates (B, 4H), c_prev (B, H) in the state dtype (float32 for bfloat16 gates).
void check_cell_forward(const Tensor& gates, const Tensor& c_prev);
// lstm_cell_backward: act (B, 4H); c, c_prev and dc (B, H) in the state dtype; dh (B, H).
void check_cell_backward(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                         const Tensor& dh, const Tensor& dc);

// lstm_forward: x (T, B, I) with T > 0, h0 (B, H), c0 (B, H) in the state dtype, w_ih (4H, I),
// w_hh (4H, H), both biases (4H) or neither. `op` names the op in the messages.
void check_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                         const Tensor& w_hh, const c10::optional<Tensor>& b_ih,
                         const c10::optional<Tensor>& b_hh, const char* op = "lstm_forward");
// lstm_backward: the forward's arguments, the output gradients and what the forward saved.
void check_layer_backward(const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x,
                          const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                          const Tensor& y, const Tensor& act, const Tensor& cs);

// linear_cross_entropy: input (N, E) with N > 0, weight (V, E), optional bias (V), target (N) int64,
// chunk_rows > 0. check_target_values: also check that every target lies in [0, V) (reads them on
// the host).
void check_linear_cross_entropy(const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias,
                                const Tensor& target, int64_t chunk_rows, bool check_target_values);

}  // namespace ulmlite
