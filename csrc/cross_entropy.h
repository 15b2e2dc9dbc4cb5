// The fused decoder + cross-entropy: loss = mean_i CE(x_i W^T + b, t_i) without the (N, V) logits.
// Rows are processed in chunks of `chunk_rows`: for each chunk one GEMM gives its logits, one pass per
// row computes the loss and, in place, the scaled softmax gradient, and two GEMMs turn that into the
// chunk's rows of d input and its contribution to d weight. Memory holds one (chunk_rows, V) buffer
// instead of the reference's several (N, V) tensors, and the gradient costs no second pass over the
// logits. Because the loss is a mean (a scalar), its backward only scales these gradients.
#pragma once
#include <ATen/ATen.h>
#include <tuple>

namespace ulmlite {

using at::Tensor;

// The device's row pass over a chunk: logits (n, V) -> loss (n, float32; float64 for float64), argmax (n, int64) and,
// when with_grad, the scaled gradient written over the logits.
using RowPass = void (*)(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale,
                         bool with_grad);

// The arguments are checked first (check_linear_cross_entropy, checks.h), the targets' values on the
// CPU only (on CUDA the row kernel checks them).
// Returns (mean loss scalar (float32; float64 for float64 input), correct predictions int64 scalar, d input, d weight, d bias);
// the gradients are empty tensors unless with_grad (d bias also when there is no bias).
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> linear_cross_entropy_with(
    const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias, const Tensor& target,
    int64_t chunk_rows, bool with_grad, RowPass rows);

}  // namespace ulmlite
