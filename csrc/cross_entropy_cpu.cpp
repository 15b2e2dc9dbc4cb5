// CPU row pass of the fused decoder + cross-entropy (the math: cross_entropy_pointwise.h), parallel
// over the rows of a chunk, 16 logits at a time through the vfloat versions of the same functions.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <limits>

#include "cross_entropy.h"
#include "emulated_cuda.h"
#include "cross_entropy_pointwise.h"
#include "vec_cpu.h"

namespace ulmlite {
namespace {

// One row of V logits: its loss and argmax, and with_grad its scaled gradient written over it.
template <typename scalar_t, typename acc_t>
ULMLITE_HOST_INLINE void cross_entropy_row(scalar_t* __restrict z, int64_t V, int64_t t, acc_t scale,
                                           bool with_grad, acc_t* loss, int64_t* argmax) {
  constexpr bool vectors = std::is_same<acc_t, float>::value;
  acc_t m = -std::numeric_limits<acc_t>::infinity();
  int64_t best = 0;
  int64_t j = 0;
  if constexpr (vectors) {  // lane-wise max and the first index reaching it, then across the lanes
    if (V >= 16) {
      vfloat vm = vfloat{} - std::numeric_limits<float>::infinity();
      vint vi = vint{}, lane;
      for (int k = 0; k < 16; ++k) lane[k] = k;
      for (; j + 16 <= V; j += 16) {
        const vfloat x = load16(z + j);
        const vint better = x > vm;
        vm = better ? x : vm;
        vi = better ? lane + static_cast<int32_t>(j) : vi;
      }
      for (int k = 0; k < 16; ++k) {
        if (vm[k] > m || (vm[k] == m && vi[k] < best)) {
          m = vm[k];
          best = vi[k];
        }
      }
    }
  }
  for (; j < V; ++j) {
    const acc_t x = static_cast<acc_t>(z[j]);
    if (x > m) {
      m = x;
      best = j;
    }
  }
  if (!(m > -std::numeric_limits<acc_t>::infinity())) m = static_cast<acc_t>(z[0]);  // all -inf or NaN
  acc_t sum = 0;
  j = 0;
  if constexpr (vectors) {
    vfloat vs = vfloat{};
    for (; j + 16 <= V; j += 16) vs += softmax_term(load16(z + j), m);
    for (int k = 0; k < 16; ++k) sum += vs[k];
  }
  for (; j < V; ++j) sum += softmax_term(static_cast<acc_t>(z[j]), m);
  const acc_t lse = m + pointwise_log(sum);
  *loss = lse - static_cast<acc_t>(z[t]);
  *argmax = best;
  if (!with_grad) return;
  const acc_t target_grad = softmax_grad_target(static_cast<acc_t>(z[t]), lse, scale);
  j = 0;
  if constexpr (vectors) {
    for (; j + 16 <= V; j += 16) store16(z + j, softmax_grad(load16(z + j), lse, scale));
  }
  for (; j < V; ++j) z[j] = softmax_grad(static_cast<acc_t>(z[j]), lse, scale);
  z[t] = target_grad;
}

template <typename scalar_t>
ULMLITE_CLONES void cross_entropy_rows_vec(scalar_t* z, int64_t V, const int64_t* target, float scale,
                                           bool with_grad, float* loss, int64_t* argmax, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    cross_entropy_row<scalar_t, float>(z + r * V, V, target[r], scale, with_grad, loss + r, argmax + r);
}

template <typename scalar_t>
void rows_impl(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale, bool with_grad) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t n = logits.size(0), V = logits.size(1);
  const int64_t* t = target.data_ptr<int64_t>();
  int64_t* a = argmax.data_ptr<int64_t>();
  scalar_t* z = logits.data_ptr<scalar_t>();
  acc_t* l = loss.data_ptr<acc_t>();
  at::parallel_for(0, n, 1, [&](int64_t r0, int64_t r1) {
    if constexpr (std::is_same<acc_t, float>::value) {
      cross_entropy_rows_vec<scalar_t>(z, V, t, static_cast<float>(scale), with_grad, l, a, r0, r1);
    } else {
      for (int64_t r = r0; r < r1; ++r)
        cross_entropy_row<scalar_t, acc_t>(z + r * V, V, t[r], scale, with_grad, l + r, a + r);
    }
  });
}

void rows_cpu(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale, bool with_grad) {
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "cross_entropy_rows", [&] {
    rows_impl<scalar_t>(logits, target, loss, argmax, scale, with_grad);
  });
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> linear_cross_entropy_cpu(
    const Tensor& input, const Tensor& weight, const c10::optional<Tensor>& bias, const Tensor& target,
    int64_t chunk_rows, bool with_grad) {
  return linear_cross_entropy_with(input, weight, bias, target, chunk_rows, with_grad,
                                   emulating_cuda_kernels() ? &rows_emulated : &rows_cpu);
}

}  // namespace

TORCH_LIBRARY_IMPL(ulmlite, CPU, m) { m.impl("linear_cross_entropy", &linear_cross_entropy_cpu); }

}  // namespace ulmlite
