"""What the Learner needs of its model: the contract LanguageModel and TextClassifier meet."""

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, Self

import torch


class Model(Protocol):
    """What the Learner needs of its model: an nn.Module (LanguageModel and TextClassifier are ones)
    with layer groups and a forward that also returns the per-layer outputs. Optional: `reset()`
    (called when present: forget the state carried from batch to batch, at each epoch and validation),
    `forward_loss` (see FusedLossModel) and `config`, a dataclass stored in checkpoints.

    Typing cannot say "an nn.Module that also has these", so the nn.Module methods that the Learner
    and lr_find call are listed too; `Learner._module` hands the model to functions typed on nn.Module."""

    def layer_groups(self) -> list[list[torch.nn.Module]]:
        """Modules from the input side to the output side; each parameter counts in its first group."""
        ...

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(logits, raw_outputs, outputs): logits (T, B, V) for an LM, (B, C) for a classifier, and
        the per-layer outputs before and after dropout (AR uses outputs[-1], TAR raw_outputs[-1])."""
        ...

    # nn.Module's
    def to(self, device: str | torch.device) -> Self: ...
    def parameters(self) -> Iterator[torch.nn.Parameter]: ...
    def train(self, mode: bool = True) -> Self: ...
    def eval(self) -> Self: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> object: ...


class FusedLossModel(Model, Protocol):
    """A language model that may also compute its loss with the decoder (used when present)."""

    def forward_loss(self, x: torch.Tensor, y: torch.Tensor):
        """(mean cross-entropy, number of correct predictions, raw_outputs, outputs)."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite (what training a Model can end in; Learner.fit raises it)."""
