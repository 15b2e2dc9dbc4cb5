// The LSTM ops' CPU kernels and their registration: the pointwise loops of lstm_pointwise.h,
// parallel over the batch, inside the layer loop of lstm_layer.cpp.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "lstm.h"
#include "emulated_cuda.h"
#include "lstm_pointwise.h"
#include "vec_cpu.h"

namespace ulmlite {
namespace {

// One step's pointwise pass over rows [b0, b1) of the batch: 16 hidden units at a time through
// cell_forward<vfloat> (float and bfloat16), the rest one by one through cell_forward<acc_t>.
// p (the input projection added to x) may be null.
template <typename scalar_t, typename acc_t>
ULMLITE_HOST_INLINE void forward_rows(const scalar_t* __restrict x, const scalar_t* __restrict p,
                                      const acc_t* __restrict cp, scalar_t* __restrict h, acc_t* __restrict c,
                                      scalar_t* __restrict act, int64_t b0, int64_t b1, int64_t H) {
  constexpr bool vectors = std::is_same<acc_t, float>::value;
  for (int64_t b = b0; b < b1; ++b) {
    const scalar_t* xb = x + b * 4 * H;
    const scalar_t* pb = p ? p + b * 4 * H : nullptr;
    scalar_t* ab = act + b * 4 * H;
    const acc_t* cpb = cp + b * H;
    acc_t* cb = c + b * H;
    scalar_t* hb = h + b * H;
    int64_t j = 0;
    if constexpr (vectors) {
      for (; j + 16 <= H; j += 16) {
        vfloat xi = load16(xb + j), xf = load16(xb + H + j), xg = load16(xb + 2 * H + j), xo = load16(xb + 3 * H + j);
        if (pb) {
          xi += load16(pb + j);
          xf += load16(pb + H + j);
          xg += load16(pb + 2 * H + j);
          xo += load16(pb + 3 * H + j);
        }
        Gates<vfloat> g;
        vfloat cv, hv;
        cell_forward<vfloat>(xi, xf, xg, xo, load16(cpb + j), g, cv, hv);
        store16(ab + j, g.i);
        store16(ab + H + j, g.f);
        store16(ab + 2 * H + j, g.g);
        store16(ab + 3 * H + j, g.o);
        store16(cb + j, cv);
        store16(hb + j, hv);
      }
    }
    for (; j < H; ++j) {
      forward_element<scalar_t, acc_t>(xb, pb, ab, j, H, cpb[j], cb[j], hb[j]);
    }
  }
}

// dy may be null (the cell op has no separate output gradient).
template <typename scalar_t, typename acc_t>
ULMLITE_HOST_INLINE void backward_rows(const scalar_t* __restrict act, const acc_t* __restrict c,
                                       const acc_t* __restrict cp, const scalar_t* __restrict dy,
                                       const scalar_t* __restrict dh, const acc_t* __restrict dc,
                                       scalar_t* __restrict dgates, acc_t* __restrict dc_prev, int64_t b0, int64_t b1,
                                       int64_t H) {
  constexpr bool vectors = std::is_same<acc_t, float>::value;
  for (int64_t b = b0; b < b1; ++b) {
    const scalar_t* ab = act + b * 4 * H;
    scalar_t* db = dgates + b * 4 * H;
    const int64_t o = b * H;
    int64_t j = 0;
    if constexpr (vectors) {
      for (; j + 16 <= H; j += 16) {
        Gates<vfloat> g{load16(ab + j), load16(ab + H + j), load16(ab + 2 * H + j), load16(ab + 3 * H + j)};
        vfloat dh_total = load16(dh + o + j);
        if (dy) dh_total += load16(dy + o + j);
        vfloat di, df, dgg, dout, dcpv;
        cell_backward<vfloat>(g, load16(c + o + j), load16(cp + o + j), dh_total, load16(dc + o + j), di, df, dgg,
                              dout, dcpv);
        store16(db + j, di);
        store16(db + H + j, df);
        store16(db + 2 * H + j, dgg);
        store16(db + 3 * H + j, dout);
        store16(dc_prev + o + j, dcpv);
      }
    }
    for (; j < H; ++j) {
      const acc_t dh_total = static_cast<acc_t>(dh[o + j]) + (dy ? static_cast<acc_t>(dy[o + j]) : acc_t(0));
      backward_element<scalar_t, acc_t>(ab, db, j, H, c[o + j], cp[o + j], dh_total, dc[o + j], dc_prev[o + j]);
    }
  }
}

template <typename scalar_t>
ULMLITE_CLONES void forward_rows_vec(const scalar_t* x, const scalar_t* p, const float* cp, scalar_t* h, float* c,
                                     scalar_t* act, int64_t b0, int64_t b1, int64_t H) {
  forward_rows<scalar_t, float>(x, p, cp, h, c, act, b0, b1, H);
}

template <typename scalar_t>
ULMLITE_CLONES void backward_rows_vec(const scalar_t* act, const float* c, const float* cp, const scalar_t* dy,
                                      const scalar_t* dh, const float* dc, scalar_t* dgates, float* dc_prev,
                                      int64_t b0, int64_t b1, int64_t H) {
  backward_rows<scalar_t, float>(act, c, cp, dy, dh, dc, dgates, dc_prev, b0, b1, H);
}

// Threads only when a step has enough work to pay for them.
inline int64_t grain_rows(int64_t H) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(H, 1)); }

template <typename scalar_t>
void pointwise_forward_impl(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h, Tensor& c,
                            Tensor& act) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  const scalar_t* x = gates.data_ptr<scalar_t>();
  const scalar_t* p = addend.defined() ? addend.data_ptr<scalar_t>() : nullptr;
  const acc_t* cp = c_prev.data_ptr<acc_t>();
  scalar_t* hp = h.data_ptr<scalar_t>();
  acc_t* cn = c.data_ptr<acc_t>();
  scalar_t* a = act.data_ptr<scalar_t>();
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
    if constexpr (std::is_same<acc_t, float>::value) {
      forward_rows_vec<scalar_t>(x, p, cp, hp, cn, a, b0, b1, H);
    } else {
      forward_rows<scalar_t, acc_t>(x, p, cp, hp, cn, a, b0, b1, H);
    }
  });
}

template <typename scalar_t>
void pointwise_backward_impl(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                             const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t B = act.size(0), H = act.size(1) / 4;
  const scalar_t* a = act.data_ptr<scalar_t>();
  const acc_t* cv = c.data_ptr<acc_t>();
  const acc_t* cp = c_prev.data_ptr<acc_t>();
  const scalar_t* dyp = dy.defined() ? dy.data_ptr<scalar_t>() : nullptr;
  const scalar_t* dhp = dh.data_ptr<scalar_t>();
  const acc_t* dcp = dc.data_ptr<acc_t>();
  scalar_t* dg = dgates.data_ptr<scalar_t>();
  acc_t* dcprev = dc_prev.data_ptr<acc_t>();
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
    if constexpr (std::is_same<acc_t, float>::value) {
      backward_rows_vec<scalar_t>(a, cv, cp, dyp, dhp, dcp, dg, dcprev, b0, b1, H);
    } else {
      backward_rows<scalar_t, acc_t>(a, cv, cp, dyp, dhp, dcp, dg, dcprev, b0, b1, H);
    }
  });
}

void pointwise_forward_cpu(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h, Tensor& c,
                           Tensor& act) {
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gates.scalar_type(), "lstm_pointwise_forward", [&] {
    pointwise_forward_impl<scalar_t>(gates, addend, c_prev, h, c, act);
  });
}

void pointwise_backward_cpu(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                            const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev) {
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, act.scalar_type(), "lstm_pointwise_backward", [&] {
    pointwise_backward_impl<scalar_t>(act, c, c_prev, dy, dh, dc, dgates, dc_prev);
  });
}

// The pointwise passes the CPU ops run: their own, or the CUDA kernels on the host (tests).
PointwiseForward forward_pass() {
  return emulating_cuda_kernels() ? &pointwise_forward_emulated : &pointwise_forward_cpu;
}
PointwiseBackward backward_pass() {
  return emulating_cuda_kernels() ? &pointwise_backward_emulated : &pointwise_backward_cpu;
}

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cpu(const Tensor& gates, const Tensor& c_prev) {
  return lstm_cell_forward_with(gates, c_prev, forward_pass());
}

std::tuple<Tensor, Tensor> lstm_cell_backward_cpu(const Tensor& act, const Tensor& c, const Tensor& c_prev,
                                                  const Tensor& dh, const Tensor& dc) {
  return lstm_cell_backward_with(act, c, c_prev, dh, dc, backward_pass());
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lstm_forward_cpu(
    const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
    const c10::optional<Tensor>& b_ih, const c10::optional<Tensor>& b_hh) {
  return lstm_layer_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, forward_pass());
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lstm_backward_cpu(
    const Tensor& dy, const Tensor& dh_last, const Tensor& dc_last, const Tensor& x, const Tensor& h0,
    const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh, const Tensor& y, const Tensor& act,
    const Tensor& cs) {
  return lstm_layer_backward(dy, dh_last, dc_last, x, h0, c0, w_ih, w_hh, y, act, cs, backward_pass());
}

}  // namespace

TORCH_LIBRARY_IMPL(ulmlite, CPU, m) {
  m.impl("lstm_cell_forward", &lstm_cell_forward_cpu);
  m.impl("lstm_cell_backward", &lstm_cell_backward_cpu);
  m.impl("lstm_forward", &lstm_forward_cpu);
  m.impl("lstm_backward", &lstm_backward_cpu);
}

}  // namespace ulmlite
