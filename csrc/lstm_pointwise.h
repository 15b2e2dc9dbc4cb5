// The per-element LSTM gate math, forward and backward, shared by the CPU loop
// (lstm_cpu.cpp) and the CUDA kernels (lstm_cuda.cu). The CPU tests therefore
// exercise the exact code the GPU runs.
//
// Gate order is PyTorch's: i, f, g, o. With pre-activations x_i, x_f, x_g, x_o:
//   i = sigmoid(x_i)  f = sigmoid(x_f)  g = tanh(x_g)  o = sigmoid(x_o)
//   c = f * c_prev + i * g          h = o * tanh(c)
// `acc_t` is the type the math runs in (float for bfloat16 storage).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define ULMLITE_HD __host__ __device__ __forceinline__
#else
#define ULMLITE_HD inline __attribute__((always_inline))
#endif

namespace ulmlite {

// On the host, the same functions also run on 16 floats at once: `vfloat` is a GCC vector type
// (one AVX-512 register; split into narrower registers where the CPU has no AVX-512), so the CPU
// loop is vectorized by construction and still calls the one formula the GPU calls per element.
#if !defined(__CUDACC__) && defined(__GNUC__)
#define ULMLITE_HOST_VECTORS 1
typedef float vfloat __attribute__((vector_size(64)));
typedef int32_t vint __attribute__((vector_size(64)));
ULMLITE_HD vfloat clamp_(vfloat x, float lo, float hi) {
  const vfloat l = vfloat{} + lo, h = vfloat{} + hi;
  x = x < l ? l : x;
  return x > h ? h : x;
}
ULMLITE_HD vfloat pow2i_(vfloat n) {  // 2^n for integral n, built in the exponent bits
  return (vfloat)((__builtin_convertvector(n, vint) + 127) << 23);
}
#endif

ULMLITE_HD float clamp_(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }
ULMLITE_HD float pow2i_(float n) {
  union { int32_t i; float f; } u;
  u.i = (static_cast<int32_t>(n) + 127) << 23;
  return u.f;
}

template <typename T>
ULMLITE_HD T one_() { return T{} + 1.0f; }

// exp and tanh: CUDA's own on the device. On the host, float uses a short polynomial (Cephes
// expf: range reduction by ln 2, degree-5 minimax, about 1 ulp) in plain arithmetic, so that it
// runs on vfloat too; double uses libm (gradcheck wants it exact).
template <typename T>
ULMLITE_HD T host_expf(T x) {
  x = clamp_(x, -87.0f, 88.0f);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const T n = (x * 1.44269504088896341f + shifter) - shifter;
  const T r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x - n ln2, in two parts
  T p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * pow2i_(n);
}

template <typename T>
ULMLITE_HD T exp_(T x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value) return expf(x); else return exp(x);
#else
  if constexpr (std::is_same<T, double>::value) return std::exp(x); else return host_expf(x);
#endif
}

template <typename T>
ULMLITE_HD T tanh_(T x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value) return tanhf(x); else return tanh(x);
#else
  if constexpr (std::is_same<T, double>::value) {
    return std::tanh(x);
  } else {
    return 1.0f - 2.0f / (host_expf(2.0f * x) + 1.0f);  // tanh x = 1 - 2 / (e^{2x} + 1)
  }
#endif
}

template <typename T>
ULMLITE_HD T sigmoid_(T x) {
  return one_<T>() / (one_<T>() + exp_(-x));
}

// Activated gates of one element, kept for the backward pass.
template <typename T>
struct Gates {
  T i, f, g, o;
};

// Forward of one element: pre-activations and c_prev in, gates, c and h out.
template <typename T>
ULMLITE_HD void cell_forward(T xi, T xf, T xg, T xo, T c_prev, Gates<T>& gates, T& c, T& h) {
  gates.i = sigmoid_(xi);
  gates.f = sigmoid_(xf);
  gates.g = tanh_(xg);
  gates.o = sigmoid_(xo);
  c = gates.f * c_prev + gates.i * gates.g;
  h = gates.o * tanh_(c);
}

// Backward of one element. dh is the total gradient reaching h (from the output and
// from the next step's recurrent GEMM), dc the gradient reaching c from the next step.
// Writes the gradients of the four pre-activations and of c_prev.
template <typename T>
ULMLITE_HD void cell_backward(const Gates<T>& gates, T c, T c_prev, T dh, T dc,
                              T& dxi, T& dxf, T& dxg, T& dxo, T& dc_prev) {
  const T tc = tanh_(c);
  const T dc_total = dc + dh * gates.o * (one_<T>() - tc * tc);
  dxo = dh * tc * gates.o * (one_<T>() - gates.o);
  dxi = dc_total * gates.g * gates.i * (one_<T>() - gates.i);
  dxg = dc_total * gates.i * (one_<T>() - gates.g * gates.g);
  dxf = dc_total * c_prev * gates.f * (one_<T>() - gates.f);
  dc_prev = dc_total * gates.f;
}

}  // namespace ulmlite

namespace ulmlite {

// One element of a step in the (batch, 4H) gate layout: what each CUDA thread runs, and what the CPU
// loop runs for the hidden units left over after its 16-wide vectors. xb / ab / db point at one
// batch row of the pre-activations, the activated gates and their gradients.
template <typename scalar_t, typename acc_t>
ULMLITE_HD void forward_element(const scalar_t* xb, scalar_t* ab, int64_t j, int64_t H, acc_t c_prev, acc_t& c,
                                scalar_t& h) {
  Gates<acc_t> g;
  acc_t hv;
  cell_forward<acc_t>(static_cast<acc_t>(xb[j]), static_cast<acc_t>(xb[H + j]), static_cast<acc_t>(xb[2 * H + j]),
                      static_cast<acc_t>(xb[3 * H + j]), c_prev, g, c, hv);
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
