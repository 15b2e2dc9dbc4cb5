#include "gemm.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>

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

// Paths in order of capability; a lower one never needs more of the CPU than a higher one.
enum Path : int { kAten = 0, kOnednnFp32 = 1, kOnednn = 2 };

const char* path_name(int path) { return path == kOnednn ? "onednn" : path == kOnednnFp32 ? "onednn-fp32" : "aten"; }

// What the CPU and the build allow, checked once through the ops PyTorch registers (the checks
// themselves live in headers PyTorch does not install).
int detected() {
  static const int path = []() -> int {
    if (!at::hasMKLDNN() || !find_op("mkldnn::_reorder_linear_weight", "") ||
        !find_op("mkldnn::_linear_pointwise", "")) {
      return kAten;
    }
    const auto* check = find_op("mkldnn::_is_mkldnn_bf16_supported", "");
    if (!check) return kOnednnFp32;
    torch::jit::Stack stack;
    check->callBoxed(stack);
    return stack[0].toBool() ? kOnednn : kOnednnFp32;
  }();
  return path;
}

// ULMLITE_ONEDNN=0 forces the portable path; unset, empty or 1 leave the choice to the CPU.
int allowed_by_environment() {
  static const int path = []() -> int {
    const char* value = std::getenv("ULMLITE_ONEDNN");
    const std::string v = value ? value : "";
    if (v == "0") return kAten;
    if (!v.empty() && v != "1") {
      TORCH_WARN("ulmlite: ULMLITE_ONEDNN=", v, " is neither 0 nor 1; ignored (oneDNN where the CPU allows it)");
    }
    return detected();
  }();
  return path;
}

std::atomic<int>& current() {
  static std::atomic<int> path{allowed_by_environment()};
  return path;
}

// oneDNN may run this GEMM: the path allows it, the user has not turned mkldnn off
// (torch.backends.mkldnn.enabled, which PyTorch's own callers check too), the tensor is on the CPU
// in float32, or in bfloat16 where the CPU passes the bf16 check.
bool onednn_linear_ok(const at::Tensor& t) {
  const int path = current().load(std::memory_order_relaxed);
  if (path == kAten || t.device().type() != at::kCPU || !at::globalContext().userEnabledMkldnn()) return false;
  if (t.scalar_type() == at::kFloat) return true;
  return t.scalar_type() == at::kBFloat16 && path == kOnednn;
}

bool onednn_matmul_ok(const at::Tensor& a, const at::Tensor& b, const at::Tensor& out) {
  return current().load(std::memory_order_relaxed) == kOnednn && onednn_linear_ok(a) && a.size(1) > 0 &&
         b.scalar_type() == a.scalar_type() && out.scalar_type() == a.scalar_type() &&
         b.device().type() == at::kCPU && out.device().type() == at::kCPU;
}

}  // namespace

std::string cpu_gemm_path() { return path_name(current().load()); }

std::string detected_cpu_gemm_path() { return path_name(detected()); }

std::string set_cpu_gemm_path(const std::string& path) {
  int wanted;
  if (path == "auto") {
    wanted = allowed_by_environment();
  } else if (path == "onednn") {
    wanted = kOnednn;
  } else if (path == "onednn-fp32") {
    wanted = kOnednnFp32;
  } else if (path == "aten") {
    wanted = kAten;
  } else {
    TORCH_CHECK(false, "set_cpu_gemm_path: path must be auto, onednn, onednn-fp32 or aten, got '", path, "'");
  }
  current().store(std::min(wanted, allowed_by_environment()));  // ULMLITE_ONEDNN=0 caps every choice
  return cpu_gemm_path();
}

PackedLinear pack_linear(const at::Tensor& weight, int64_t batch) {
  if (!onednn_linear_ok(weight)) return {weight, false, false};
  static const auto* reorder = find_op("mkldnn::_reorder_linear_weight", "");
  return {call(reorder, {weight, c10::optional<int64_t>(batch)}), true, false};
}

PackedLinear pack_linear_transposed(const at::Tensor& weight, int64_t batch) {
  if (!onednn_linear_ok(weight)) return {weight, false, true};  // at::mm takes the transposed view
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

namespace {
at::Tensor aten_operand(const PackedLinear& w) { return w.transposed ? w.weight : w.weight.t(); }

at::Tensor onednn_linear(const at::Tensor& x, const PackedLinear& w, const c10::optional<at::Tensor>& bias) {
  static const auto* op = find_op("mkldnn::_linear_pointwise", "");
  return call(op, {x, w.weight, bias, std::string("none"), c10::List<c10::optional<at::Scalar>>(),
                   c10::optional<std::string>()});
}
}  // namespace

at::Tensor linear(const at::Tensor& x, const PackedLinear& w) {
  return w.onednn ? onednn_linear(x, w, c10::nullopt) : at::mm(x, aten_operand(w));
}

at::Tensor linear_buffered(const at::Tensor& x, const PackedLinear& w, at::Tensor& buffer) {
  if (w.onednn) return onednn_linear(x, w, c10::nullopt);
  at::mm_out(buffer, x, aten_operand(w));
  return buffer;
}

at::Tensor linear_bias(const at::Tensor& x, const PackedLinear& w, const c10::optional<at::Tensor>& bias) {
  if (w.onednn) return onednn_linear(x, w, bias);
  return bias.has_value() && bias->defined() ? at::addmm(*bias, x, aten_operand(w)) : at::mm(x, aten_operand(w));
}

void matmul_into(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, float beta) {
  if (out.numel() == 0) return;
  if (onednn_matmul_ok(a, b, out)) {
    at::native::mkldnn_matmul(a, b, out, beta, 1.0f);
  } else if (beta == 0.0f) {
    at::mm_out(out, a, b);
  } else {
    out.addmm_(a, b, beta, 1.0f);
  }
}

}  // namespace ulmlite
