#include "gemm_cpu.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>

namespace at::native {
// aten/src/ATen/native/mkldnn/Matmul.h (not installed): result = alpha mat1 mat2 + beta result.
TORCH_API void mkldnn_matmul(const Tensor& mat1, const Tensor& mat2, const Tensor& result, float beta, float alpha);
}  // namespace at::native

namespace ulmlite {
namespace {

const c10::OperatorHandle* find_op(const char* name, const char* overload) {
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  return handle.has_value() ? new c10::OperatorHandle(*handle) : nullptr;  // lives as long as the process
}

at::Tensor call(const c10::OperatorHandle* op, torch::jit::Stack stack) {
  op->callBoxed(stack);
  return stack[0].toTensor();
}

bool onednn_usable(const at::Tensor& weight) {
  static const bool ops = at::hasMKLDNN() && find_op("mkldnn::_reorder_linear_weight", "") &&
                          find_op("mkldnn::_linear_pointwise", "");
  if (!ops || weight.device().type() != at::kCPU) return false;
  if (weight.scalar_type() == at::kFloat) return true;
  if (weight.scalar_type() != at::kBFloat16) return false;
  static const bool bf16 = [] {
    auto op = find_op("mkldnn::_is_mkldnn_bf16_supported", "");
    if (!op) return false;
    torch::jit::Stack stack;
    op->callBoxed(stack);
    return stack[0].toBool();
  }();
  return bf16;
}

}  // namespace

PackedLinear pack_linear(const at::Tensor& weight, int64_t batch) {
  if (!onednn_usable(weight)) return {weight, false};
  static const auto* reorder = find_op("mkldnn::_reorder_linear_weight", "");
  return {call(reorder, {weight, c10::optional<int64_t>(batch)}), true};
}

PackedLinear pack_linear_transposed(const at::Tensor& weight, int64_t batch) {
  if (!onednn_usable(weight)) return {weight.t().contiguous(), false};
  // W^T is copied into a buffer this thread keeps: a fresh allocation of that size costs more than
  // the copy itself (page faults: 25.8 ms against 9.2 ms for a 4600 x 1150 float32 weight, measured).
  // The reorder writes a new tensor, so the buffer is free again when this returns.
  static thread_local at::Tensor scratch;
  const auto n = weight.numel();
  if (!scratch.defined() || scratch.scalar_type() != weight.scalar_type() || scratch.numel() < n) {
    scratch = at::empty({n}, weight.options());
  }
  at::Tensor t = scratch.narrow(0, 0, n).view({weight.size(1), weight.size(0)});
  t.copy_(weight.t());
  return pack_linear(t, batch);
}

at::Tensor linear(const at::Tensor& x, const PackedLinear& w) {
  if (w.onednn) {
    static const auto* plain = find_op("mkldnn::_linear_pointwise", "");
    return call(plain, {x, w.weight, c10::optional<at::Tensor>(), std::string("none"),
                        c10::List<c10::optional<at::Scalar>>(), c10::optional<std::string>()});
  }
  return at::mm(x, w.weight.t());
}

at::Tensor linear_bias(const at::Tensor& x, const PackedLinear& w, const c10::optional<at::Tensor>& bias) {
  if (w.onednn) {
    static const auto* plain = find_op("mkldnn::_linear_pointwise", "");
    return call(plain, {x, w.weight, bias, std::string("none"), c10::List<c10::optional<at::Scalar>>(),
                        c10::optional<std::string>()});
  }
  return bias.has_value() && bias->defined() ? at::addmm(*bias, x, w.weight.t()) : at::mm(x, w.weight.t());
}

void matmul_into(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, float beta) {
  if (out.numel() == 0) return;
  if (a.size(1) > 0 && onednn_usable(a) && b.scalar_type() == a.scalar_type() && out.scalar_type() == a.scalar_type()) {
    at::native::mkldnn_matmul(a, b, out, beta, 1.0f);
  } else if (beta == 0.0f) {
    at::mm_out(out, a, b);
  } else {
    out.addmm_(a, b, beta, 1.0f);
  }
}

}  // namespace ulmlite
