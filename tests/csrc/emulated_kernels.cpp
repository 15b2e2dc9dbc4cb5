// The CUDA kernels (csrc/*_kernels.cuh) under the host emulator, on their own: no PyTorch library,
// only the kernel headers and c10/util/BFloat16.h, so that the program can be built with
// -fsanitize=address,undefined (every buffer has exactly the size the launch may touch: one element
// past the end is a heap-buffer-overflow) and with -fsanitize=thread (the row kernel's barriers).
// Each result is compared with plain double-precision loops written here. Exit status 0: all
// agree. Built and run by tests/nn/test_cuda_emulation.py (and by .ci/run through it).
//
//   emulated_kernels [lstm|rows|all]
#include <c10/util/BFloat16.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "cross_entropy_kernels.cuh"
#include "cuda_emulation.h"
#include "lstm_kernels.cuh"

using ulmlite::blocks_for;
using ulmlite::kRowThreads;
using ulmlite::kThreads;

namespace {

int failures = 0;

void expect_close(double got, double want, double tol, const std::string& what) {
  const bool both_nan = std::isnan(got) && std::isnan(want);
  const bool same_inf = std::isinf(got) && std::isinf(want) && (got > 0) == (want > 0);
  if (both_nan || same_inf) return;
  if (!(std::fabs(got - want) <= tol * (1.0 + std::fabs(want)))) {
    if (failures < 10) std::fprintf(stderr, "MISMATCH %s: got %.9g, want %.9g\n", what.c_str(), got, want);
    ++failures;
  }
}

// Exactly n elements on the heap, so that a sanitizer sees any access past them.
template <typename T>
std::unique_ptr<T[]> buffer(size_t n) {
  return std::unique_ptr<T[]>(new T[n > 0 ? n : 1]);
}

double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <typename scalar_t>
void check_lstm(int64_t B, int64_t H, double tol, const char* name) {
  using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;  // at::opmath_type
  std::mt19937 rng(static_cast<unsigned>(B * 1000 + H));
  std::normal_distribution<float> normal(0.0f, 1.5f);
  const int64_t n = B * H;
  auto x = buffer<scalar_t>(4 * n), p = buffer<scalar_t>(4 * n), act = buffer<scalar_t>(4 * n);
  auto h = buffer<scalar_t>(n), dy = buffer<scalar_t>(n), dh = buffer<scalar_t>(n), dg = buffer<scalar_t>(4 * n);
  auto cp = buffer<acc_t>(n), c = buffer<acc_t>(n), dc = buffer<acc_t>(n), dcp = buffer<acc_t>(n);
  for (int64_t k = 0; k < 4 * n; ++k) {
    x[k] = static_cast<scalar_t>(normal(rng));
    p[k] = static_cast<scalar_t>(normal(rng));
  }
  for (int64_t k = 0; k < n; ++k) {
    cp[k] = normal(rng);
    dy[k] = static_cast<scalar_t>(normal(rng));
    dh[k] = static_cast<scalar_t>(normal(rng));
    dc[k] = normal(rng);
  }
  const auto forward = &ulmlite::cell_forward_kernel<scalar_t, acc_t>;
  ULMLITE_LAUNCH_SERIAL(forward, blocks_for(n), kThreads, nullptr, x.get(), p.get(), cp.get(), h.get(), c.get(),
                        act.get(), B, H);
  const auto backward = &ulmlite::cell_backward_kernel<scalar_t, acc_t>;
  ULMLITE_LAUNCH_SERIAL(backward, blocks_for(n), kThreads, nullptr, act.get(), c.get(), cp.get(), dy.get(),
                        dh.get(), dc.get(), dg.get(), dcp.get(), B, H);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      const int64_t k = b * H + j;
      double z[4], a[4];
      for (int q = 0; q < 4; ++q) {
        const int64_t at = b * 4 * H + q * H + j;
        z[q] = static_cast<double>(static_cast<float>(x[at])) + static_cast<double>(static_cast<float>(p[at]));
      }
      a[0] = sig(z[0]);
      a[1] = sig(z[1]);
      a[2] = std::tanh(z[2]);
      a[3] = sig(z[3]);
      const double cn = a[1] * cp[k] + a[0] * a[2], hn = a[3] * std::tanh(cn);
      const std::string at = std::string(name) + " B=" + std::to_string(B) + " H=" + std::to_string(H) +
                             " element " + std::to_string(k);
      expect_close(c[k], cn, tol, "lstm forward c, " + at);
      expect_close(static_cast<float>(h[k]), hn, tol, "lstm forward h, " + at);
      // The backward, from the kernel's own saved gates (rounded like the storage type).
      double g[4];
      for (int q = 0; q < 4; ++q) g[q] = static_cast<float>(act[b * 4 * H + q * H + j]);
      const double tc = std::tanh(c[k]);
      const double dht = static_cast<double>(static_cast<float>(dh[k])) + static_cast<float>(dy[k]);
      const double dct = dc[k] + dht * g[3] * (1 - tc * tc);
      const double want[4] = {dct * g[2] * g[0] * (1 - g[0]), dct * cp[k] * g[1] * (1 - g[1]),
                              dct * g[0] * (1 - g[2] * g[2]), dht * tc * g[3] * (1 - g[3])};
      for (int q = 0; q < 4; ++q) {
        expect_close(static_cast<float>(dg[b * 4 * H + q * H + j]), want[q], tol, "lstm backward dgates, " + at);
      }
      expect_close(dcp[k], dct * g[1], tol, "lstm backward dc_prev, " + at);
    }
  }
}

template <typename scalar_t>
void check_rows(int64_t n, int64_t V, bool with_grad, bool all_minus_inf, double tol, const char* name) {
  using acc_t = float;
  std::mt19937 rng(static_cast<unsigned>(n * 7919 + V));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  auto z = buffer<scalar_t>(n * V), start = buffer<float>(n * V);
  auto target = buffer<int64_t>(n), argmax = buffer<int64_t>(n);
  auto loss = buffer<acc_t>(n);
  for (int64_t k = 0; k < n * V; ++k) {
    z[k] = static_cast<scalar_t>(all_minus_inf && k < V ? -std::numeric_limits<float>::infinity() : normal(rng));
    start[k] = static_cast<float>(z[k]);
  }
  for (int64_t r = 0; r < n; ++r) target[r] = static_cast<int64_t>(rng() % V);
  const double scale = 1.0 / static_cast<double>(n);
  const auto kernel = &ulmlite::cross_entropy_rows_kernel<scalar_t, acc_t>;
  ULMLITE_LAUNCH(kernel, static_cast<unsigned>(n), kRowThreads, nullptr, z.get(), target.get(), loss.get(),
                 argmax.get(), V, static_cast<acc_t>(scale), with_grad);
  for (int64_t r = 0; r < n; ++r) {
    const float* x = start.get() + r * V;
    double m = -INFINITY;
    int64_t best = 0;
    for (int64_t j = 0; j < V; ++j) {
      if (x[j] > m) {
        m = x[j];
        best = j;
      }
    }
    const std::string at = std::string(name) + " n=" + std::to_string(n) + " V=" + std::to_string(V) + " row " +
                           std::to_string(r);
    if (!(m > -INFINITY)) {  // every logit -inf: the loss is not finite
      if (std::isfinite(loss[r])) {
        std::fprintf(stderr, "MISMATCH all -inf row gave a finite loss %g, %s\n", loss[r], at.c_str());
        ++failures;
      }
      continue;
    }
    double s = 0;
    for (int64_t j = 0; j < V; ++j) s += std::exp(x[j] - m);
    const double lse = m + std::log(s);
    expect_close(loss[r], lse - x[target[r]], tol, "row loss, " + at);
    if (argmax[r] != best) {
      std::fprintf(stderr, "MISMATCH argmax %lld, want %lld, %s\n", static_cast<long long>(argmax[r]),
                   static_cast<long long>(best), at.c_str());
      ++failures;
    }
    for (int64_t j = 0; j < V && with_grad; ++j) {
      const double want = (std::exp(x[j] - lse) - (j == target[r] ? 1.0 : 0.0)) * scale;
      expect_close(static_cast<float>(z[r * V + j]), want, tol, "row gradient, " + at + " logit " + std::to_string(j));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  if (which == "lstm" || which == "all") {
    // B*H around the block size: one short block, exactly one block, one element over.
    for (const auto& [B, H] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 85}, {1, 256}, {1, 257},
                                                                         {4, 64}, {5, 51}, {2, 300}}) {
      check_lstm<float>(B, H, 2e-5, "float32");
      check_lstm<double>(B, H, 2e-5, "float64");
      check_lstm<c10::BFloat16>(B, H, 2e-2, "bfloat16");
    }
  }
  if (which == "rows" || which == "all") {
    for (int64_t V : {1, 255, 256, 257, 1000}) {
      for (bool grad : {true, false}) {
        check_rows<float>(3, V, grad, false, 2e-5, "float32");
        check_rows<c10::BFloat16>(2, V, grad, false, 2e-2, "bfloat16");
      }
      check_rows<float>(2, V, true, true, 2e-5, "float32 all -inf");
    }
  }
  if (failures) {
    std::fprintf(stderr, "%d mismatches\n", failures);
    return 1;
  }
  std::printf("emulated kernels: all results match (%s)\n", which.c_str());
  return 0;
}
