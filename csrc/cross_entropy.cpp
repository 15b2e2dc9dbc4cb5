// The fused decoder + cross-entropy's chunk loop, the same on CPU and CUDA; the row pass comes from
// the device file (cross_entropy_cpu.cpp, cross_entropy_cuda.cu), the argument checks from
// checks.cpp. See cross_entropy.h for the plan and cross_entropy_pointwise.h for the math.
#include "cross_entropy.h"

#include "checks.h"
#include "gemm.h"

namespace ulmlite {

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> linear_cross_entropy_with(
    const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias, const Tensor& target,
    int64_t chunk_rows, bool with_grad, RowPass rows) {
  check_linear_cross_entropy(input, weight, bias, target, chunk_rows, !input.is_cuda());
  const int64_t N = input.size(0), E = input.size(1), V = weight.size(0);
  const int64_t R = std::min(chunk_rows, N);
  const bool has_bias = bias.has_value() && bias->defined();
  const auto f32 = input.options().dtype(at::kFloat);
  const auto acc = input.scalar_type() == at::kDouble ? input.options() : f32;  // sums: float32 at least
  // bfloat16 GEMMs write bfloat16; d weight is summed over the chunks in float32 all the same.
  const bool wide_sum = input.scalar_type() == at::kBFloat16;

  Tensor logits = at::empty({R, V}, input.options());  // reused by every chunk
  Tensor loss = at::empty({N}, acc);
  Tensor argmax = at::empty({N}, input.options().dtype(at::kLong));
  const auto none = [&] { return at::empty({0}, input.options()); };  // one per output: outputs never alias
  Tensor d_input = with_grad ? at::empty({N, E}, input.options()) : none();
  Tensor d_weight = with_grad ? at::zeros({V, E}, wide_sum ? f32 : input.options()) : none();
  Tensor d_weight_chunk = with_grad && wide_sum ? at::empty({V, E}, input.options()) : none();
  Tensor d_bias = with_grad && has_bias ? at::zeros({V}, acc) : none();
  const Tensor weight_t = weight.t();  // (E, V): logits = x W^T

  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t n = std::min(R, N - r0);
    const Tensor x = input.narrow(0, r0, n);
    Tensor z = logits.narrow(0, 0, n);
    matmul_into(x, weight_t, z, 0.0f);
    if (has_bias) z.add_(*bias);
    Tensor loss_rows = loss.narrow(0, r0, n), argmax_rows = argmax.narrow(0, r0, n);
    rows(z, target.narrow(0, r0, n), loss_rows, argmax_rows, 1.0 / static_cast<double>(N), with_grad);
    if (!with_grad) continue;
    Tensor dx = d_input.narrow(0, r0, n);
    matmul_into(z, weight, dx, 0.0f);  // (n, V) (V, E)
    if (wide_sum) {
      matmul_into(z.t(), x, d_weight_chunk, 0.0f);  // (V, n) (n, E)
      d_weight.add_(d_weight_chunk);
    } else {
      matmul_into(z.t(), x, d_weight, 1.0f);
    }
    if (has_bias) d_bias.add_(z.sum(0, false, acc.dtype().toScalarType()));
  }
  Tensor mean_loss = loss.sum() / static_cast<double>(N);
  Tensor correct = argmax.eq(target).sum();
  if (with_grad && wide_sum) d_weight = d_weight.to(input.scalar_type());
  if (with_grad && has_bias) d_bias = d_bias.to(input.scalar_type());
  return {mean_loss, correct, d_input, d_weight, d_bias};
}

}  // namespace ulmlite
