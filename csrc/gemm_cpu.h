// The CPU GEMMs of the fused layer. MKL's sgemm (behind at::mm) takes an AVX2 path on some AMD CPUs;
// oneDNN's matmul with the weight reordered once into its blocked layout runs at the machine's
// AVX-512 rate in float32 and uses the bfloat16 dot-product instructions. PyTorch ships oneDNN and
// exposes it as the ops mkldnn::_reorder_linear_weight and mkldnn::_linear_pointwise,
// called here through the dispatcher. float64 (and builds without oneDNN) use at::mm.
#pragma once
#include <ATen/ATen.h>

namespace ulmlite {

// A weight W (N, K) prepared for repeated y = x W^T with x of `batch` rows.
struct PackedLinear {
  at::Tensor weight;  // oneDNN-blocked when `onednn`, else W itself
  bool onednn = false;
};

PackedLinear pack_linear(const at::Tensor& weight, int64_t batch);
// The same for W^T (N, K) -> (K, N), for the backward's x W products.
PackedLinear pack_linear_transposed(const at::Tensor& weight, int64_t batch);
// y = x W^T into a new tensor.
at::Tensor linear(const at::Tensor& x, const PackedLinear& w);
// y = x W^T + bias.
at::Tensor linear_bias(const at::Tensor& x, const PackedLinear& w, const c10::optional<at::Tensor>& bias);

// out = a b + beta out, written into `out` (no allocation). float32 and bfloat16 on CPU go to oneDNN
// through at::native::mkldnn_matmul (what torch.mm uses for bfloat16; exported by libtorch_cpu but not
// in its installed headers, so declared in gemm_cpu.cpp); anything else (double, CUDA: cuBLAS on the
// current stream) through at::mm_out / addmm_.
void matmul_into(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, float beta);

}  // namespace ulmlite
