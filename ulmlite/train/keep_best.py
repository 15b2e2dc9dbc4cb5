"""Keeping the best epoch of a fit (`Learner.fit(keep_best=...)`, fastai's SaveModelCallback): the
weights of the epoch that scored best on a validation metric, restored when the fit ends."""

import shutil
from pathlib import Path

import torch

from ulmlite.train import distributed as dist
from ulmlite.train.checkpoint import load_checkpoint, read_info, save_checkpoint

KEEP_BEST = {"accuracy": 1.0, "valid_loss": -1.0, "perplexity": -1.0}  # +1: higher is better


def check_metric(metric: str | None, task: str, has_validation: bool) -> None:
    """Refuse, before any training, a metric that validate() does not report for this task."""
    known = sorted(m for m in KEEP_BEST if m != "perplexity" or task == "lm")
    if metric is not None and (not has_validation or metric not in known):
        raise ValueError(f"keep_best needs validation data and one of {known}, got {metric!r}")


class BestEpoch:
    """The best epoch of one fit so far, by a validation metric: its weights are kept in memory, or
    beside the fit's checkpoint (`<checkpoint_dir>-best`, a model checkpoint) when the fit checkpoints,
    so that a resumed fit still knows them (each save replaces the checkpoint's own folder)."""

    def __init__(self, metric: str, model: torch.nn.Module, checkpoint_dir: str | Path | None, resuming: bool):
        self.metric, self.model, self.sign = metric, model, KEEP_BEST[metric]
        self.folder = Path(checkpoint_dir).with_name(Path(checkpoint_dir).name + "-best") if checkpoint_dir else None
        self.epoch: int | None = None
        self.value: float | None = None
        self.state: dict[str, torch.Tensor] | None = None  # the weights, when there is no folder for them
        if self.folder is not None:
            if resuming and (self.folder / "checkpoint.json").exists():
                info = read_info(self.folder)
                self.epoch, self.value = info["best_epoch"], info["best_value"]
            elif not resuming and dist.is_main():
                shutil.rmtree(self.folder, ignore_errors=True)  # a best of an earlier, finished fit

    def update(self, epoch: int, value: float) -> None:
        if self.value is not None and self.sign * value <= self.sign * self.value:
            return
        self.epoch, self.value = epoch, value
        if self.folder is None:
            self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            if dist.is_main():
                save_checkpoint(self.folder, self.model, best_epoch=epoch, best_value=value)
            dist.barrier()

    def restore(self, last_epoch: int) -> dict:
        """Load the best epoch's weights (unless that was the last) and say which it was."""
        if self.epoch is not None and self.epoch != last_epoch:
            if self.state is not None:
                self.model.load_state_dict(self.state)
            else:
                assert self.folder is not None  # update() keeps the weights in memory when there is none
                load_checkpoint(self.folder, self.model)
        return {"epoch": self.epoch, self.metric: self.value}
