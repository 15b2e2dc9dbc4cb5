// The per-element LSTM gate math, forward and backward, shared by the CPU loop
// (lstm_cpu.cpp) and the CUDA kernels (lstm_cuda.cu). The CPU tests therefore
// exercise the exact code the GPU runs.
//
// Gate order is PyTorch's: i, f, g, o. With pre-activations x_i, x_f, x_g, x_o:
//   i = sigmoid(x_i)  f = sigmoid(x_f)  g = tanh(x_g)  o = sigmoid(x_o)
//   c = f * c_prev + i * g          h = o * tanh(c)
// `acc_t` is the type the math runs in (float for bfloat16 storage).
#pragma once
#include "pointwise_math.h"

namespace ulmlite {

// Activated gates of one element, kept for the backward pass.
template <typename T>
struct Gates {
  T i, f, g, o;
};

// Forward of one element: pre-activations and c_prev in, gates, c and h out.
template <typename T>
ULMLITE_HD void cell_forward(T xi, T xf, T xg, T xo, T c_prev, Gates<T>& gates, T& c, T& h) {
  gates.i = pointwise_sigmoid(xi);
  gates.f = pointwise_sigmoid(xf);
  gates.g = pointwise_tanh(xg);
  gates.o = pointwise_sigmoid(xo);
  c = gates.f * c_prev + gates.i * gates.g;
  h = gates.o * pointwise_tanh(c);
}

// Backward of one element. dh is the total gradient reaching h (from the output and
// from the next step's recurrent GEMM), dc the gradient reaching c from the next step.
// Writes the gradients of the four pre-activations and of c_prev.
template <typename T>
ULMLITE_HD void cell_backward(const Gates<T>& gates, T c, T c_prev, T dh, T dc,
                              T& dxi, T& dxf, T& dxg, T& dxo, T& dc_prev) {
  const T tc = pointwise_tanh(c);
  const T dc_total = dc + dh * gates.o * (one<T>() - tc * tc);
  dxo = dh * tc * gates.o * (one<T>() - gates.o);
  dxi = dc_total * gates.g * gates.i * (one<T>() - gates.i);
  dxg = dc_total * gates.i * (one<T>() - gates.g * gates.g);
  dxf = dc_total * c_prev * gates.f * (one<T>() - gates.f);
  dc_prev = dc_total * gates.f;
}

}  // namespace ulmlite

namespace ulmlite {

// One element of a step in the (batch, 4H) gate layout: what each CUDA thread runs, and what the CPU
// loop runs for the hidden units left over after its 16-wide vectors. xb / ab / db point at one
// batch row of the pre-activations, the activated gates and their gradients. The pre-activations
// are xb + pb when pb is not null (the layer passes the recurrent GEMM's output as xb and the
// input projection as pb, so that the GEMM needs no add of its own).
template <typename scalar_t, typename acc_t>
ULMLITE_HD acc_t pre_activation(const scalar_t* xb, const scalar_t* pb, int64_t k) {
  return static_cast<acc_t>(xb[k]) + (pb ? static_cast<acc_t>(pb[k]) : acc_t(0));
}

template <typename scalar_t, typename acc_t>
ULMLITE_HD void forward_element(const scalar_t* xb, const scalar_t* pb, scalar_t* ab, int64_t j, int64_t H,
                                acc_t c_prev, acc_t& c, scalar_t& h) {
  Gates<acc_t> g;
  acc_t hv;
  cell_forward<acc_t>(pre_activation<scalar_t, acc_t>(xb, pb, j), pre_activation<scalar_t, acc_t>(xb, pb, H + j),
                      pre_activation<scalar_t, acc_t>(xb, pb, 2 * H + j),
                      pre_activation<scalar_t, acc_t>(xb, pb, 3 * H + j), c_prev, g, c, hv);
  ab[j] = g.i;
  ab[H + j] = g.f;
  ab[2 * H + j] = g.g;
  ab[3 * H + j] = g.o;
  h = hv;
}

template <typename scalar_t, typename acc_t>
ULMLITE_HD void backward_element(const scalar_t* ab, scalar_t* db, int64_t j, int64_t H, acc_t c, acc_t c_prev,
                                 acc_t dh_total, acc_t dc, acc_t& dc_prev) {
  Gates<acc_t> g{static_cast<acc_t>(ab[j]), static_cast<acc_t>(ab[H + j]), static_cast<acc_t>(ab[2 * H + j]),
                 static_cast<acc_t>(ab[3 * H + j])};
  acc_t di, df, dgg, dout;
  cell_backward<acc_t>(g, c, c_prev, dh_total, dc, di, df, dgg, dout, dc_prev);
  db[j] = di;
  db[H + j] = df;
  db[2 * H + j] = dgg;
  db[3 * H + j] = dout;
}

}  // namespace ulmlite
