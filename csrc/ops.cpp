// Operator schemas (TORCH_LIBRARY), the CPU registrations and the argument checks.
// The CUDA registrations live in lstm_cuda.cu, compiled only when CUDA is built.
#include <Python.h>
#include <torch/library.h>

#include "emulated_cuda.h"
#include "gemm.h"
#include "lstm.h"

// `import ulmlite._C` loads this library, which runs the static registrations below.
extern "C" {
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

namespace ulmlite {

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

TORCH_LIBRARY(ulmlite, m) {
  m.def("lstm_cell_forward(Tensor gates, Tensor c_prev) -> (Tensor h, Tensor c, Tensor act)");
  m.def(
      "lstm_cell_backward(Tensor act, Tensor c, Tensor c_prev, Tensor dh, Tensor dc)"
      " -> (Tensor dgates, Tensor dc_prev)");
  m.def(
      "lstm_forward(Tensor x, Tensor h0, Tensor c0, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh)"
      " -> (Tensor y, Tensor h_last, Tensor c_last, Tensor act, Tensor cs)");
  m.def(
      "lstm_backward(Tensor dy, Tensor dh_last, Tensor dc_last, Tensor x, Tensor h0, Tensor c0, Tensor w_ih,"
      " Tensor w_hh, Tensor y, Tensor act, Tensor cs)"
      " -> (Tensor dx, Tensor dh0, Tensor dc0, Tensor dw_ih, Tensor dw_hh, Tensor db)");
  // The fused decoder + cross-entropy (cross_entropy.h): the mean loss and, when with_grad, its
  // gradients, computed in the same pass over the logits.
  m.def(
      "linear_cross_entropy(Tensor input, Tensor weight, Tensor? bias, Tensor target, int chunk_rows,"
      " bool with_grad) -> (Tensor loss, Tensor correct, Tensor d_input, Tensor d_weight, Tensor d_bias)");
  // The CPU GEMM path (gemm.h): the one taken now, the best this CPU allows, and a setter that
  // tests use to run the portable paths on any CPU (it returns the path taken, never above the CPU's).
  m.def("_cpu_gemm_path() -> str", [] { return cpu_gemm_path(); });
  m.def("_detected_cpu_gemm_path() -> str", [] { return detected_cpu_gemm_path(); });
  m.def("_set_cpu_gemm_path(str path) -> str", [](std::string path) { return set_cpu_gemm_path(path); });
  // Which kernels the CPU ops run (emulated_cuda.h): "cpu", or "emulated-cuda" for the CUDA kernels'
  // own code on the host, which the tests use so that every CI run executes it.
  m.def("_cpu_kernels() -> str", [] { return cpu_kernels(); });
  m.def("_set_cpu_kernels(str kernels) -> str", [](std::string kernels) { return set_cpu_kernels(kernels); });
}

TORCH_LIBRARY_IMPL(ulmlite, CPU, m) {
  m.impl("lstm_cell_forward", &lstm_cell_forward_cpu);
  m.impl("lstm_cell_backward", &lstm_cell_backward_cpu);
  m.impl("lstm_forward", &lstm_forward_cpu);
  m.impl("lstm_backward", &lstm_backward_cpu);
}

}  // namespace ulmlite
