"""Layer groups (ULMFiT section 3.2): the model's parameters in groups from the input side to the
output side, each with its own learning rate (discriminative fine-tuning) and its own freezing."""

from collections.abc import Callable

import torch

from ulmlite.train.model import Model

DISCRIMINATIVE_FACTOR = 2.6  # ULMFiT section 3.2: eta^{l-1} = eta^l / 2.6


def param_groups(model: Model) -> list[list[torch.nn.Parameter]]:
    """The parameters of each of `model.layer_groups()`; every parameter must be in one."""
    seen: set[int] = set()
    groups = []
    for modules in model.layer_groups():
        params = []
        for module in modules:
            for p in module.parameters():
                if id(p) not in seen:  # a tied weight belongs to its first group only
                    seen.add(id(p))
                    params.append(p)
        groups.append(params)
    rest = [p for p in model.parameters() if id(p) not in seen]
    if rest:
        raise ValueError(f"{len(rest)} parameters belong to no layer group")
    return groups


def discriminative_lrs(lr: float | list[float], n: int) -> list[float]:
    """lr for the last of n groups, lr / 2.6 for the one before, lr / 2.6² ... (or a list, one per group)."""
    if isinstance(lr, (list, tuple)):
        if len(lr) != n:
            raise ValueError(f"give one learning rate per layer group ({n}), got {len(lr)}")
        return [float(x) for x in lr]
    return [lr / DISCRIMINATIVE_FACTOR ** (n - 1 - k) for k in range(n)]


def set_trainable(groups: list[list[torch.nn.Parameter]], trainable: Callable[[int], bool]) -> None:
    """requires_grad on the parameters of group k when trainable(k), off elsewhere."""
    for k, group in enumerate(groups):
        for p in group:
            p.requires_grad_(trainable(k))
