// The GEMMs of the fused ops, for both devices: on CUDA at::mm and friends (cuBLAS on the current
// stream, transposed weights as views); on the CPU chosen by what the CPU has.
//
// Three paths, from fastest to most portable:
//   "onednn"       oneDNN for every float32 and bfloat16 GEMM: the weights reordered once into its
//                  blocked layout (mkldnn::_reorder_linear_weight + _linear_pointwise) and
//                  at::native::mkldnn_matmul for the products of two activations. mkldnn_matmul
//                  refuses, for float32 too, a CPU that fails PyTorch's mkldnn_bf16_device_check()
//                  (avx512bw+vl+dq or avx_ne_convert on x86; bf16 on Arm), which is what
//                  torch.ops.mkldnn._is_mkldnn_bf16_supported() returns: PyTorch's own addmm
//                  checks the same before it calls mkldnn_matmul (Matmul.cpp, use_mkldnn_matmul).
//   "onednn-fp32"  a CPU with oneDNN but without that check (AVX2-only x86): the reordered-weight
//                  ops in float32 (their only precondition is the bf16 check for bf16 inputs,
//                  mkldnn_check_low_precision), ATen for everything else.
//   "aten"         at::mm / at::mm_out / addmm_ everywhere: MKL or OpenBLAS on CPU, cuBLAS on
//                  CUDA. float64, CUDA tensors and builds without oneDNN always take it.
// The path is detected once; ULMLITE_ONEDNN=0 in the environment (read once) forces "aten"; the
// tests lower it with set_cpu_gemm_path (never above what the CPU has) to run every path anywhere.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace ulmlite {

// The path the GEMMs take now: "onednn", "onednn-fp32" or "aten".
std::string cpu_gemm_path();
// The best path this CPU and build allow, ULMLITE_ONEDNN aside.
std::string detected_cpu_gemm_path();
// Take `path` ("auto" = the detected one), or the most capable path below it that this CPU and
// ULMLITE_ONEDNN allow; returns the path now taken.
std::string set_cpu_gemm_path(const std::string& path);

// A weight W (N, K) prepared for repeated y = x W^T with x of `batch` rows.
struct PackedLinear {
  at::Tensor weight;        // oneDNN-blocked when `onednn`; else W, or when `transposed` the original (K, N)
  bool onednn = false;
  bool transposed = false;  // y = x weight (the ATen path multiplies by a transposed view: no copy)
};

PackedLinear pack_linear(const at::Tensor& weight, int64_t batch);
// The same for W^T (N, K) -> (K, N), for the backward's x W products.
PackedLinear pack_linear_transposed(const at::Tensor& weight, int64_t batch);
// y = x W^T into a new tensor.
at::Tensor linear(const at::Tensor& x, const PackedLinear& w);
// y = x W^T: written into `buffer` (B, N) and returned on the ATen path; oneDNN returns a new tensor
// (copying its output into the buffer would cost more than the allocation).
at::Tensor linear_buffered(const at::Tensor& x, const PackedLinear& w, at::Tensor& buffer);
// y = x W^T + bias.
at::Tensor linear_bias(const at::Tensor& x, const PackedLinear& w, const c10::optional<at::Tensor>& bias);

// out = a b + beta out, written into `out` (no allocation). On the "onednn" path float32 and
// bfloat16 go to at::native::mkldnn_matmul (what torch.mm uses for bfloat16; exported by
// libtorch_cpu but not in its installed headers, so declared in gemm.cpp); anything else
// through at::mm_out / addmm_.
void matmul_into(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, float beta);

}  // namespace ulmlite
