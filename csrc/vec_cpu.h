// Host-only helpers for the vectorized CPU loops: 16 elements as one vfloat (float as is, bfloat16
// widened to float and rounded back to nearest even), and the target_clones attribute that compiles a
// loop for AVX-512 (x86-64-v4), AVX2 (v3) and the baseline, the loader picking the best the CPU has.
#pragma once
#include <cstring>
#include <type_traits>

#include "pointwise_math.h"

namespace ulmlite {

// Loading and storing 16 elements as one vfloat (bfloat16 widened to float, rounded back to nearest even).
template <typename scalar_t>
ULMLITE_HOST_INLINE vfloat load16(const scalar_t* p) {
  if constexpr (std::is_same<scalar_t, float>::value) {
    vfloat v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  } else {
    typedef uint16_t vu16 __attribute__((vector_size(32)));
    vu16 bits;
    std::memcpy(&bits, p, sizeof(bits));
    return (vfloat)(__builtin_convertvector(bits, vint) << 16);
  }
}

template <typename scalar_t>
ULMLITE_HOST_INLINE void store16(scalar_t* p, vfloat v) {
  if constexpr (std::is_same<scalar_t, float>::value) {
    std::memcpy(p, &v, sizeof(v));
  } else {
    typedef uint32_t vu32 __attribute__((vector_size(64)));
    typedef uint16_t vu16 __attribute__((vector_size(32)));
    vu32 bits = (vu32)v;
    bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    const vu16 out = __builtin_convertvector(bits, vu16);
    std::memcpy(p, &out, sizeof(out));
  }
}

}  // namespace ulmlite

// The float and bfloat16 loops are compiled for AVX-512 (x86-64-v4), AVX2 (v3) and the baseline;
// the loader picks the best the CPU has (GCC target_clones).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ULMLITE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ULMLITE_CLONES
#endif

