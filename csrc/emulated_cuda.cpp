// The CUDA kernels of lstm_kernels.cuh and cross_entropy_kernels.cuh, compiled by the host compiler
// and launched through the emulator: the same launch code as lstm_cuda.cu and cross_entropy_cuda.cu
// (grid, block, arguments), with the host's memory for the device's. See emulated_cuda.h.
#include "emulated_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <atomic>

// After every ATen header: the emulator defines __global__, __shared__ and friends as macros.
#include "cross_entropy_kernels.cuh"
#include "cuda_emulation.h"
#include "lstm_kernels.cuh"

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
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  if (B * H == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gates.scalar_type(), "lstm_pointwise_forward_emulated", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cell_forward_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH_SERIAL(kernel, blocks_for(B * H), kThreads, kNoStream,
        gates.data_ptr<scalar_t>(), addend.defined() ? addend.data_ptr<scalar_t>() : nullptr,
        c_prev.data_ptr<acc_t>(), h.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), act.data_ptr<scalar_t>(), B, H);
  });
}

void pointwise_backward_emulated(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                                 const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  const int64_t B = act.size(0), H = act.size(1) / 4;
  if (B * H == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, act.scalar_type(), "lstm_pointwise_backward_emulated", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cell_backward_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH_SERIAL(kernel, blocks_for(B * H), kThreads, kNoStream,
        act.data_ptr<scalar_t>(), c.data_ptr<acc_t>(), c_prev.data_ptr<acc_t>(),
        dy.defined() ? dy.data_ptr<scalar_t>() : nullptr, dh.data_ptr<scalar_t>(), dc.data_ptr<acc_t>(),
        dgates.data_ptr<scalar_t>(), dc_prev.data_ptr<acc_t>(), B, H);
  });
}

void rows_emulated(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale,
                   bool with_grad) {
  const int64_t n = logits.size(0), V = logits.size(1);
  if (n == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "cross_entropy_rows_emulated", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto kernel = &cross_entropy_rows_kernel<scalar_t, acc_t>;
    ULMLITE_LAUNCH(kernel, static_cast<unsigned>(n), kRowThreads, kNoStream, logits.data_ptr<scalar_t>(),
        target.data_ptr<int64_t>(), loss.data_ptr<acc_t>(), argmax.data_ptr<int64_t>(), V,
        static_cast<acc_t>(scale), with_grad);
  });
}

}  // namespace ulmlite
