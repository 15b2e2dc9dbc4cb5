"""The three AWD-LSTM regularizers (Merity, Keskar & Socher 2017, "Regularizing and Optimizing
LSTM Language Models", section 4) beside the ordinary dropout they replace.

Each is the identity in eval mode and at p = 0.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def _check_p(p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    return float(p)


def dropout_mask(like: torch.Tensor, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """A Bernoulli(1 - p) mask scaled by 1 / (1 - p), so the expectation is unchanged."""
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


class LockedDropout(nn.Module):
    """Variational dropout (Gal & Ghahramani 2016): one mask per sequence, the same at every step.
    Input (seq_len, batch, features)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = _check_p(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * dropout_mask(x, (1, *x.shape[1:]), self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Module):
    """Drops whole words: rows of the embedding matrix are zeroed (the same word is dropped
    everywhere in the batch) and the remaining rows scaled by 1 / (1 - p)."""

    def __init__(self, embedding: nn.Embedding, p: float):
        super().__init__()
        self.embedding, self.p = embedding, _check_p(p)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.weight
        if self.training and self.p > 0:
            weight = weight * dropout_mask(weight, (weight.shape[0], 1), self.p)
        return F.embedding(words, weight, self.embedding.padding_idx)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class WeightDrop(nn.Module):
    """DropConnect (Wan et al. 2013) on a module's weights, here the LSTM's hidden-to-hidden matrix:
    one mask per forward call, shared by every time step. The dropped matrix goes to the wrapped
    module as an ordinary tensor (torch.func.functional_call), so any LSTM backend works unchanged
    and no `flatten_parameters` trick is needed."""

    def __init__(self, module: nn.Module, p: float, weights: tuple[str, ...] = ("weight_hh_l0",)):
        super().__init__()
        self.module, self.p, self.weights = module, _check_p(p), tuple(weights)
        for name in self.weights:
            if not isinstance(getattr(module, name, None), torch.Tensor):
                raise ValueError(f"WeightDrop: {type(module).__name__} has no weight named {name!r}")

    def forward(self, *args, **kwargs):
        if not self.training or self.p == 0:
            return self.module(*args, **kwargs)
        dropped = {name: F.dropout(getattr(self.module, name), self.p, training=True) for name in self.weights}
        return functional_call(self.module, dropped, args, kwargs)

    def extra_repr(self) -> str:
        return f"p={self.p}, weights={self.weights}"
