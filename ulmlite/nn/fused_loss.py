"""Python side of the fused decoder + cross-entropy op: the wrapper, its fake (meta) kernel for
torch.compile and its autograd formula. The schema is in csrc/ops.cpp, the chunk loop in
csrc/cross_entropy.cpp, the row passes in cross_entropy_cpu.cpp and cross_entropy_cuda.cu.
"""

import torch

from ulmlite._extension import autocast_dtype, check_same_device, extension_available


def fused_loss_available() -> bool:
    """True when the extension provides the fused decoder + cross-entropy op."""
    return extension_available() and hasattr(torch.ops.ulmlite, "linear_cross_entropy")


def default_chunk_rows(vocab_size: int, element_size: int = 4) -> int:
    """Rows per chunk: the power of two giving at most 128 MB of logits (512 rows of a 60k vocabulary
    in float32, 1024 in bfloat16), at least 64. Blocked GEMMs like such row counts: at the lesson's
    size 1024 rows ran 1.2x faster than 1118 in bfloat16, 512 1.2x faster than 559 in float32."""
    rows = max(64, (128 << 20) // max(vocab_size * element_size, 1))
    return 1 << (rows.bit_length() - 1)


def linear_cross_entropy(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         target: torch.Tensor, chunk_rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """mean_i cross_entropy(input_i W^T + b, target_i) and the number of rows whose argmax is the
    target, without materializing the (N, V) logits. input (N, E), weight (V, E), target (N,).
    Differentiable in input, weight and bias; the gradients are computed in the forward pass (in the
    same chunks), so the backward only scales them."""
    if not fused_loss_available():
        raise RuntimeError("this build of ulmlite._C has no fused cross-entropy: rebuild it with `make rebuild`")
    if torch.is_autocast_enabled(input.device.type):  # a custom op is not cast by autocast itself
        dtype = autocast_dtype(input.device.type)
        input, weight = input.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (input, weight, bias))
    loss, correct, _, _, _ = torch.ops.ulmlite.linear_cross_entropy(
        input.contiguous(), weight.contiguous(), None if bias is None else bias.contiguous(), target.contiguous(),
        chunk_rows or default_chunk_rows(weight.shape[0], weight.element_size()), with_grad)
    return loss, correct


if fused_loss_available():

    @torch.library.register_fake("ulmlite::linear_cross_entropy")
    def _linear_cross_entropy_fake(input, weight, bias, target, chunk_rows, with_grad):
        check_same_device("linear_cross_entropy", input=input, weight=weight, target=target)
        loss = input.new_empty((), dtype=torch.float64 if input.dtype == torch.float64 else torch.float32)
        correct = input.new_empty((), dtype=torch.int64)
        if not with_grad:
            return loss, correct, input.new_empty((0,)), input.new_empty((0,)), input.new_empty((0,))
        d_bias = input.new_empty((weight.shape[0],)) if bias is not None else input.new_empty((0,))
        return loss, correct, torch.empty_like(input), torch.empty_like(weight), d_bias

    def _lce_setup_context(ctx, inputs, output):
        _, _, bias, _, _, with_grad = inputs
        _, correct, d_input, d_weight, d_bias = output
        ctx.with_grad, ctx.has_bias = with_grad, bias is not None
        ctx.mark_non_differentiable(correct, d_input, d_weight, d_bias)
        ctx.save_for_backward(d_input, d_weight, d_bias)

    def _lce_backward(ctx, d_loss, *_):
        if not ctx.with_grad:
            raise RuntimeError("linear_cross_entropy was called with with_grad=False: it has no gradient")
        d_input, d_weight, d_bias = ctx.saved_tensors
        scale = d_loss.to(d_input.dtype)  # the loss is a mean: its gradient only scales the saved ones
        return (d_input * scale, d_weight * scale, d_bias * scale if ctx.has_bias else None, None, None, None)

    torch.library.register_autograd("ulmlite::linear_cross_entropy", _lce_backward, setup_context=_lce_setup_context)
