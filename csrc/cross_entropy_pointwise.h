// The per-element math of softmax cross-entropy, shared by the CPU row loop (cross_entropy_cpu.cpp)
// and the CUDA row kernel (cross_entropy_cuda.cu).
//
// For one row of logits x (a token's scores over the vocabulary) and its target t:
//   m = max_j x_j,   s = sum_j exp(x_j - m),   lse = m + log s
//   loss = lse - x_t                                   (-log softmax(x)_t)
//   d loss / d x_j = softmax(x)_j - [j == t] = exp(x_j - lse) - [j == t]
// The fused op scales the gradient by the weight of the row in the mean (1/N) and writes it over the
// logits, which the two backward GEMMs then read.
#pragma once
#include "pointwise_math.h"

namespace ulmlite {

// exp(x - m): one term of the row's sum.
// T is the element type (float, double, or 16 floats as vfloat on the host); S the row's scalars.
template <typename T, typename S>
ULMLITE_HD T softmax_term(T x, S m) {
  return pointwise_exp(x - m);
}

// The scaled gradient of the row's loss with respect to one logit that is not the target.
template <typename T, typename S>
ULMLITE_HD T softmax_grad(T x, S lse, S scale) {
  return pointwise_exp(x - lse) * scale;
}

// The same for the target's logit.
template <typename T, typename S>
ULMLITE_HD T softmax_grad_target(T x, S lse, S scale) {
  return (pointwise_exp(x - lse) - one<T>()) * scale;
}

}  // namespace ulmlite
