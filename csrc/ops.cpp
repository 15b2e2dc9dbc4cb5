// The operator schemas (TORCH_LIBRARY) and the Python module `ulmlite._C` whose import loads them.
// Each device file registers its own kernels (TORCH_LIBRARY_IMPL): lstm_cpu.cpp and
// cross_entropy_cpu.cpp for the CPU, lstm_cuda.cu and cross_entropy_cuda.cu for CUDA (compiled only
// when CUDA is built); the argument checks every kernel runs first are in checks.cpp. The private
// `_`-ops below are defined with their (device-independent) implementation.
#include <Python.h>
#include <torch/library.h>

#include "emulated_cuda.h"
#include "gemm.h"

// `import ulmlite._C` loads this library, which runs its static registrations: the schemas below and
// the kernels of the device files.
extern "C" {
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

namespace ulmlite {

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

}  // namespace ulmlite
