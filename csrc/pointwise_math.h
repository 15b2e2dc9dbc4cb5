// Element-wise math shared by every kernel, on the host and on the device: exp, tanh, sigmoid and
// log written once as templates, so that the CPU loops (float, double, and 16 floats at once as a
// GCC vector `vfloat`) and the CUDA kernels call the same functions.
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

template <typename T>
ULMLITE_HD T log_(T x) {  // per row, not per element: libm on the host, CUDA's on the device
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value) return logf(x); else return log(x);
#else
  return std::log(x);
#endif
}

}  // namespace ulmlite
