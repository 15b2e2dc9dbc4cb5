// The ops' argument checks (checks.h), shared by the CPU and CUDA kernels.
#include "checks.h"

namespace ulmlite {
namespace {

// The dtype the cell state and the math use: float32 for bfloat16 storage.
at::ScalarType state_dtype(at::ScalarType t) { return t == at::kBFloat16 ? at::kFloat : t; }

}  // namespace

void check_storage_dtype(const Tensor& t, const char* op, const char* name) {
  const auto d = t.scalar_type();
  TORCH_CHECK(d == at::kFloat || d == at::kDouble || d == at::kBFloat16, op, ": ", name,
              " must be float32, float64 or bfloat16, got ", d);
}

void check_tensor(const Tensor& t, const char* op, const char* name, at::IntArrayRef shape,
                  at::ScalarType dtype, const at::Device& device) {
  TORCH_CHECK(t.defined(), op, ": ", name, " is undefined");
  TORCH_CHECK(t.sizes() == shape, op, ": ", name, " must have shape ", shape, ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == dtype, op, ": ", name, " must have dtype ", dtype,
              " to match the other arguments, got ", t.scalar_type());
  TORCH_CHECK(t.device() == device, op, ": ", name, " must be on ", device,
              " to match the other arguments, got ", t.device());
  TORCH_CHECK(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

void check_cell_forward(const Tensor& gates, const Tensor& c_prev) {
  const char* op = "lstm_cell_forward";
  TORCH_CHECK(gates.dim() == 2 && gates.size(1) % 4 == 0, op,
              ": gates must have shape (batch, 4*hidden), got ", gates.sizes());
  check_storage_dtype(gates, op, "gates");
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  check_tensor(gates, op, "gates", {B, 4 * H}, gates.scalar_type(), gates.device());
  check_tensor(c_prev, op, "c_prev", {B, H}, state_dtype(gates.scalar_type()), gates.device());
}

void check_cell_backward(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                         const Tensor& dh, const Tensor& dc) {
  const char* op = "lstm_cell_backward";
  TORCH_CHECK(act.dim() == 2 && act.size(1) % 4 == 0, op,
              ": act must have shape (batch, 4*hidden), got ", act.sizes());
  check_storage_dtype(act, op, "act");
  const int64_t B = act.size(0), H = act.size(1) / 4;
  const auto st = state_dtype(act.scalar_type());
  check_tensor(act, op, "act", {B, 4 * H}, act.scalar_type(), act.device());
  check_tensor(c, op, "c", {B, H}, st, act.device());
  check_tensor(c_prev, op, "c_prev", {B, H}, st, act.device());
  check_tensor(dh, op, "dh", {B, H}, act.scalar_type(), act.device());
  check_tensor(dc, op, "dc", {B, H}, st, act.device());
}

void check_layer_forward(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                         const Tensor& w_hh, const c10::optional<Tensor>& b_ih,
                         const c10::optional<Tensor>& b_hh, const char* op) {
  TORCH_CHECK(x.dim() == 3, op, ": x must have shape (seq_len, batch, input_size), got ", x.sizes());
  TORCH_CHECK(x.size(0) > 0, op, ": x is an empty sequence (seq_len = 0)");
  check_storage_dtype(x, op, "x");
  TORCH_CHECK(h0.dim() == 2 && h0.size(1) > 0, op, ": h0 must have shape (batch, hidden_size), got ",
              h0.sizes());
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), H = h0.size(1);
  const auto dtype = x.scalar_type();
  const auto device = x.device();
  check_tensor(x, op, "x", {T, B, I}, dtype, device);
  check_tensor(h0, op, "h0", {B, H}, dtype, device);
  check_tensor(c0, op, "c0", {B, H}, state_dtype(dtype), device);
  check_tensor(w_ih, op, "w_ih", {4 * H, I}, dtype, device);
  check_tensor(w_hh, op, "w_hh", {4 * H, H}, dtype, device);
  const bool has_ih = b_ih.has_value() && b_ih->defined();
  const bool has_hh = b_hh.has_value() && b_hh->defined();
  TORCH_CHECK(has_ih == has_hh, op, ": give both biases or neither");
  if (has_ih) {
    check_tensor(*b_ih, op, "b_ih", {4 * H}, dtype, device);
    check_tensor(*b_hh, op, "b_hh", {4 * H}, dtype, device);
  }
}

void check_layer_backward(const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x,
                          const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                          const Tensor& y, const Tensor& act, const Tensor& cs) {
  const char* op = "lstm_backward";
  check_layer_forward(x, h0, c0, w_ih, w_hh, c10::nullopt, c10::nullopt, op);
  const int64_t T = x.size(0), B = x.size(1), H = h0.size(1);
  const auto dtype = x.scalar_type();
  const auto device = x.device();
  check_tensor(dy, op, "dy", {T, B, H}, dtype, device);
  check_tensor(dh_last, op, "dh_last", {B, H}, dtype, device);
  check_tensor(dc_last, op, "dc_last", {B, H}, state_dtype(dtype), device);
  check_tensor(y, op, "y", {T, B, H}, dtype, device);
  check_tensor(act, op, "act", {T, B, 4 * H}, dtype, device);
  check_tensor(cs, op, "cs", {T, B, H}, state_dtype(dtype), device);
}

void check_linear_cross_entropy(const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias,
                                const Tensor& target, int64_t chunk_rows, bool check_target_values) {
  const char* op = "linear_cross_entropy";
  TORCH_CHECK(input.dim() == 2, op, ": input must have shape (tokens, features), got ", input.sizes());
  TORCH_CHECK(input.size(0) > 0, op, ": input has no rows (a mean over zero tokens is undefined)");
  check_storage_dtype(input, op, "input");
  TORCH_CHECK(weight.dim() == 2 && weight.size(0) > 0, op, ": weight must have shape (vocab, features), got ",
              weight.sizes());
  const int64_t N = input.size(0), E = input.size(1), V = weight.size(0);
  check_tensor(input, op, "input", {N, E}, input.scalar_type(), input.device());
  check_tensor(weight, op, "weight", {V, E}, input.scalar_type(), input.device());
  if (bias.has_value() && bias->defined()) check_tensor(*bias, op, "bias", {V}, input.scalar_type(), input.device());
  check_tensor(target, op, "target", {N}, at::kLong, input.device());
  TORCH_CHECK(chunk_rows > 0, op, ": chunk_rows must be positive, got ", chunk_rows);
  // The values need the host to read the targets: on the CPU that costs nothing, on CUDA it would
  // wait for the device at every call and rule out CUDA graphs, so there the row kernel checks each
  // target itself (a device-side assert, as ATen's own losses do).
  if (check_target_values) {
    const auto [lo, hi] = at::aminmax(target);
    const int64_t lo_v = lo.item<int64_t>(), hi_v = hi.item<int64_t>();
    TORCH_CHECK(lo_v >= 0 && hi_v < V, op, ": targets must be in [0, ", V, "), got [", lo_v, ", ", hi_v, "]");
  }
}

}  // namespace ulmlite
