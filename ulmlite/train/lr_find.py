"""The learning-rate range test (Smith 2017; fastai's lr_find): a short run with a rising rate whose
smoothed loss curve suggests where to train. Called as `Learner.lr_find`."""

import copy
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from ulmlite.train import distributed as dist
from ulmlite.train.model import Model, TrainingDiverged


class Trainer(Protocol):
    """What lr_find uses of a Learner (which calls it: `Learner.lr_find`)."""

    step: int

    @property
    def model(self) -> Model: ...

    @property
    def optimizer(self) -> torch.optim.Optimizer: ...

    @property
    def train_data(self) -> Iterable: ...

    def _reset(self) -> None: ...

    def discriminative_lrs(self, lr: float | list[float]) -> list[float]: ...

    def train_batch(self, x, y, lrs: list[float], momentum: float | None) -> float: ...


def lr_find(learn: Trainer, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, mode: str = "exp",
            stop_div: bool = True, plot: str | Path | None = None) -> "LRFinderResult":
    """Raise the learning rate batch by batch (exponentially or linearly), recording the
    smoothed loss; stop when it exceeds 4x its minimum. Weights and optimizer are restored."""
    if mode not in ("exp", "linear"):
        raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
    saved = copy.deepcopy(learn.model.state_dict()), copy.deepcopy(learn.optimizer.state_dict())
    rng = torch.get_rng_state()
    lrs: list[float] = []
    losses: list[float] = []
    smooth, best = 0.0, float("inf")
    learn.model.train()
    learn._reset()
    learn.step = 0
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(())  # (x, y); empty: the first next() starts an epoch
    for i in range(num_it):
        p = i / max(1, num_it - 1)
        lr = start_lr * (end_lr / start_lr) ** p if mode == "exp" else start_lr + (end_lr - start_lr) * p
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(learn.train_data)
            x, y = next(batches)
        try:
            loss = learn.train_batch(x, y, learn.discriminative_lrs(lr), None)
        except TrainingDiverged:
            break
        smooth = 0.98 * smooth + 0.02 * loss
        smoothed = smooth / (1 - 0.98 ** (i + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if stop_div and smoothed > 4 * best:
            break
    learn.model.load_state_dict(saved[0])
    learn.optimizer.load_state_dict(saved[1])
    torch.set_rng_state(rng)
    result = LRFinderResult(lrs, losses)
    if plot is not None and dist.is_main():
        result.plot(plot)
    return result


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]

    @property
    def suggestion(self) -> float | None:
        """The rate where the smoothed loss falls fastest (steepest descent against log lr)."""
        if len(self.losses) < 3:
            return None
        slopes = [(self.losses[k + 1] - self.losses[k]) / (math.log(self.lrs[k + 1]) - math.log(self.lrs[k]))
                  for k in range(len(self.losses) - 1) if self.lrs[k + 1] > self.lrs[k]]
        k = min(range(len(slopes)), key=slopes.__getitem__)
        return self.lrs[k]

    def plot(self, path: str | Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("smoothed training loss")
        if self.suggestion:
            ax.axvline(self.suggestion, color="red", linestyle="--", label=f"suggested {self.suggestion:.2e}")
            ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return Path(path)
