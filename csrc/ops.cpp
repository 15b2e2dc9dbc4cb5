// Operator schemas (TORCH_LIBRARY), the CPU registrations and the argument checks.
// The CUDA registrations live in lstm_cuda.cu, compiled only when CUDA is built.
#include <Python.h>
#include <torch/library.h>

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
  TORCH_CHECK(t.scalar_type() == dtype, op, ": ", name, " must have dtype ", dtype, ", got ",
              t.scalar_type());
  TORCH_CHECK(t.device() == device, op, ": ", name, " must be on ", device, ", got ", t.device());
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

TORCH_LIBRARY(ulmlite, m) {
  m.def("lstm_cell_forward(Tensor gates, Tensor c_prev) -> (Tensor h, Tensor c, Tensor act)");
  m.def(
      "lstm_cell_backward(Tensor act, Tensor c, Tensor c_prev, Tensor dh, Tensor dc)"
      " -> (Tensor dgates, Tensor dc_prev)");
}

TORCH_LIBRARY_IMPL(ulmlite, CPU, m) {
  m.impl("lstm_cell_forward", &lstm_cell_forward_cpu);
  m.impl("lstm_cell_backward", &lstm_cell_backward_cpu);
}

}  // namespace ulmlite
