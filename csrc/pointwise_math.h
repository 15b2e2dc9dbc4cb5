// Element-wise math shared by every kernel, on the host and on the device: exp, tanh, sigmoid and
// log written once as templates (pointwise_exp, pointwise_tanh, pointwise_sigmoid, pointwise_log:
// pure functions, none works in place), so that the CPU loops (float, double, and 16 floats at once
// as a GCC vector `vfloat`) and the CUDA kernels call the same functions.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

// ULMLITE_HD: a function that runs on both sides, in the CUDA kernels (nvcc) and in the CPU loops
// and the emulator (the host compiler), always inlined.
#if defined(__CUDACC__)
#define ULMLITE_HD __host__ __device__ __forceinline__
#else
#define ULMLITE_HD inline __attribute__((always_inline))
#endif
// ULMLITE_HOST_INLINE: a host-only function of the CPU loops, always inlined, so that each
// target_clones copy of a loop (vec_cpu.h) compiles it for its own instruction set.
#define ULMLITE_HOST_INLINE inline __attribute__((always_inline))

namespace ulmlite {

// On the host, the same functions also run on 16 floats at once: `vfloat` is a GCC vector type
// (one AVX-512 register; split into narrower registers where the CPU has no AVX-512), so the CPU
// loop is vectorized by construction and still calls the one formula the GPU calls per element.
#if !defined(__CUDACC__) && defined(__GNUC__)
#define ULMLITE_HOST_VECTORS 1
typedef float vfloat __attribute__((vector_size(64)));
typedef int32_t vint __attribute__((vector_size(64)));
ULMLITE_HOST_INLINE vfloat clamped(vfloat x, float lo, float hi) {
  const vfloat l = vfloat{} + lo, h = vfloat{} + hi;
  x = x < l ? l : x;
  return x > h ? h : x;
}
ULMLITE_HOST_INLINE vfloat pow2_int(vfloat n) {  // 2^n for integral n, built in the exponent bits
  return (vfloat)((__builtin_convertvector(n, vint) + 127) << 23);
}
#endif

// x clamped to [lo, hi], and 2^n for integral n: the float versions, for host_expf.
ULMLITE_HOST_INLINE float clamped(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }
ULMLITE_HOST_INLINE float pow2_int(float n) {
  union { int32_t i; float f; } u;
  u.i = (static_cast<int32_t>(n) + 127) << 23;
  return u.f;
}

// 1 as a T (for vfloat: 16 ones).
template <typename T>
ULMLITE_HD T one() { return T{} + 1.0f; }

// exp and tanh: CUDA's own on the device. On the host, float uses a short polynomial (Cephes
// expf: range reduction by ln 2, degree-5 minimax, about 1 ulp) in plain arithmetic, so that it
// runs on vfloat too; double uses libm (gradcheck wants it exact).
template <typename T>
ULMLITE_HOST_INLINE T host_expf(T x) {
  x = clamped(x, -87.0f, 88.0f);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const T n = (x * 1.44269504088896341f + shifter) - shifter;
  const T r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // x - n ln2, in two parts
  T p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * pow2_int(n);
}

template <typename T>
ULMLITE_HD T pointwise_exp(T x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value) return expf(x); else return exp(x);
#else
  if constexpr (std::is_same<T, double>::value) return std::exp(x); else return host_expf(x);
#endif
}

template <typename T>
ULMLITE_HD T pointwise_tanh(T x) {
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
ULMLITE_HD T pointwise_sigmoid(T x) {
  return one<T>() / (one<T>() + pointwise_exp(-x));
}

template <typename T>
ULMLITE_HD T pointwise_log(T x) {  // per row, not per element: libm on the host, CUDA's on the device
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value) return logf(x); else return log(x);
#else
  return std::log(x);
#endif
}

}  // namespace ulmlite
