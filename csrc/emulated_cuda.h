// The CUDA kernels run on the host by the emulator (cuda_emulation.h), for the CPU test suite: the
// CPU ops take these pointwise and row passes instead of their own while `_set_cpu_kernels` says
// "emulated-cuda", so every CPU op test also runs the CUDA kernels' code and launch arithmetic
// through the same layer loop and chunk loop the CUDA ops use.
#pragma once
#include <string>

#include "cross_entropy.h"
#include "lstm.h"

namespace ulmlite {

// "cpu" (the default) or "emulated-cuda"; the setter returns the previous value.
std::string cpu_kernels();
std::string set_cpu_kernels(const std::string& kernels);
bool emulating_cuda_kernels();

void pointwise_forward_emulated(const Tensor& gates, const Tensor& addend, const Tensor& c_prev, Tensor& h,
                                Tensor& c, Tensor& act);
void pointwise_backward_emulated(const Tensor& act, const Tensor& c, const Tensor& c_prev, const Tensor& dy,
                                 const Tensor& dh, const Tensor& dc, Tensor& dgates, Tensor& dc_prev);
void rows_emulated(Tensor& logits, const Tensor& target, Tensor& loss, Tensor& argmax, double scale,
                   bool with_grad);

}  // namespace ulmlite
