// The CUDA kernels of lstm_kernels.cuh and cross_entropy_kernels.cuh, compiled by the host compiler
// and launched through the emulator by the launch code lstm_cuda.cu and cross_entropy_cuda.cu use
// (kernel_launches.h), with the host's memory for the device's. See emulated_cuda.h.
#include "emulated_cuda.h"

#include <atomic>

#include "kernel_launches.h"  // the same launch code as the .cu files, here through the emulator

namespace ulmlite {
namespace {
std::atomic<bool> emulate{false};
constexpr void* kNoStream = nullptr;
}  // namespace

std::string cpu_kernels() { return emulate.load() ? "emulated-cuda" : "cpu"; }

std::string set_cpu_kernels(const std::string& kernels) {
  TORCH_CHECK(kernels == "cpu" || kernels == "emulated-cuda",
              "_set_cpu_kernels: expected 'cpu' or 'emulated-cuda', got '", kernels, "'");
  const std::string before = cpu_kernels();
  emulate.store(kernels == "emulated-cuda");
  return before;
}

bool emulating_cuda_kernels() { return emulate.load(); }

void pointwise_forward_emulated(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h,
                                Tensor& c, Tensor& act) {
  launch_cell_forward(gates, addend, c_prev, h, c, act, kNoStream);
}

void pointwise_backward_emulated(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                                 const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  launch_cell_backward(act, c, c_prev, dy, dh, dc, dgates, dc_prev, kNoStream);
}

void rows_emulated(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale,
                   bool with_grad) {
  launch_rows(logits, target, loss, argmax, scale, with_grad, kNoStream);
}

}  // namespace ulmlite
