// CPU kernels: the pointwise loops of lstm_pointwise.h, parallel over the batch.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "lstm.h"
#include "lstm_pointwise.h"

namespace ulmlite {

std::tuple<Tensor, Tensor, Tensor> lstm_cell_forward_cpu(const Tensor& gates, const Tensor& c_prev) {
  check_cell_forward(gates, c_prev);
  const int64_t B = gates.size(0), H = gates.size(1) / 4;
  auto h = at::empty({B, H}, gates.options());
  auto c = at::empty_like(c_prev);
  auto act = at::empty_like(gates);
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gates.scalar_type(), "lstm_cell_forward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* x = gates.data_ptr<scalar_t>();
    const acc_t* cp = c_prev.data_ptr<acc_t>();
    scalar_t* hp = h.data_ptr<scalar_t>();
    acc_t* cn = c.data_ptr<acc_t>();
    scalar_t* a = act.data_ptr<scalar_t>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const scalar_t* xb = x + b * 4 * H;
        scalar_t* ab = a + b * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          Gates<acc_t> g;
          acc_t cv, hv;
          cell_forward<acc_t>(xb[j], xb[H + j], xb[2 * H + j], xb[3 * H + j], cp[b * H + j], g, cv, hv);
          ab[j] = g.i;
          ab[H + j] = g.f;
          ab[2 * H + j] = g.g;
          ab[3 * H + j] = g.o;
          cn[b * H + j] = cv;
          hp[b * H + j] = hv;
        }
      }
    });
  });
  return {h, c, act};
}

std::tuple<Tensor, Tensor> lstm_cell_backward_cpu(const Tensor& act, const Tensor& c,
                                                  const Tensor& c_prev, const Tensor& dh,
                                                  const Tensor& dc) {
  check_cell_backward(act, c, c_prev, dh, dc);
  const int64_t B = act.size(0), H = act.size(1) / 4;
  auto dgates = at::empty_like(act);
  auto dc_prev = at::empty_like(c_prev);
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, act.scalar_type(), "lstm_cell_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* a = act.data_ptr<scalar_t>();
    const acc_t* cv = c.data_ptr<acc_t>();
    const acc_t* cp = c_prev.data_ptr<acc_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    const acc_t* dcp = dc.data_ptr<acc_t>();
    scalar_t* dg = dgates.data_ptr<scalar_t>();
    acc_t* dcprev = dc_prev.data_ptr<acc_t>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const scalar_t* ab = a + b * 4 * H;
        scalar_t* db = dg + b * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = b * H + j;
          Gates<acc_t> g{ab[j], ab[H + j], ab[2 * H + j], ab[3 * H + j]};
          acc_t di, df, dgg, dout, dcpv;
          cell_backward<acc_t>(g, cv[k], cp[k], dhp[k], dcp[k], di, df, dgg, dout, dcpv);
          db[j] = di;
          db[H + j] = df;
          db[2 * H + j] = dgg;
          db[3 * H + j] = dout;
          dcprev[k] = dcpv;
        }
      }
    });
  });
  return {dgates, dc_prev};
}

}  // namespace ulmlite
