"""The training loop: discriminative learning rates over the model's layer groups, gradual
unfreezing, schedules, AR/TAR, gradient clipping, bfloat16 autocast, checkpoints that resume the
schedule where it stopped, and data parallelism over torch.distributed. Beside it in ulmlite/train:
model.py (what the Learner needs of its model), layer_groups.py, keep_best.py (the best epoch's
weights), progress.py and lr_find.py.

No callback machinery: the loop below is the whole story; `hooks` are plain functions called at
two named points (after each batch, after each epoch).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F

from ulmlite.nn.awd_lstm import ar_tar_loss
from ulmlite.train import distributed as dist
from ulmlite.train.checkpoint import (
    CheckpointVersionError,
    check_identity,
    load_checkpoint,
    model_identity,
    read_info,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ulmlite.train.keep_best import BestEpoch, check_metric
from ulmlite.train.layer_groups import discriminative_lrs, param_groups, set_trainable
from ulmlite.train.model import Model, TrainingDiverged
from ulmlite.train.progress import EpochProgress, metrics_line
from ulmlite.train.schedules import SCHEDULES

if TYPE_CHECKING:
    from ulmlite.train.lr_find import LRFinderResult


@dataclass
class Hooks:
    after_batch: list[Callable] = field(default_factory=list)  # f(learner, loss: float)
    after_epoch: list[Callable] = field(default_factory=list)  # f(learner, metrics: dict)


class Learner:
    """`task` is "lm" (targets (T, B) next tokens; metrics loss, accuracy, perplexity) or
    "classifier" (targets (B,) labels; metrics loss, accuracy). Adam betas default to the lesson's:
    (0.8, 0.99) for the language model, (0.7, 0.99) for the classifier.

    `identity` (JSON-serializable, e.g. the vocabulary's hash) is written into every checkpoint
    beside the model's config; a checkpoint whose identity differs is never resumed or loaded.

    `progress`: True shows a progress bar and a line per epoch; a function instead receives a line
    of text every `REPORT_SECONDS` (batches done, tokens/s, time left in the fit) and one per epoch,
    for runs whose output is not a terminal (the demo's two processes)."""

    REPORT_SECONDS = 30.0

    def __init__(self, model: Model, train_data, valid_data=None, task: str = "lm",
                 betas: tuple[float, float] | None = None, weight_decay: float = 1e-7, decoupled_wd: bool = False,
                 clip: float | None = 0.25, alpha: float = 2.0, beta: float = 1.0, mixed_precision: bool = False,
                 device: str | torch.device = "cpu", hooks: Hooks | None = None,
                 progress: bool | Callable[[str], None] = True, identity: dict | None = None):
        if task not in ("lm", "classifier"):
            raise ValueError(f"task must be 'lm' or 'classifier', got {task!r}")
        self.model, self.train_data, self.valid_data, self.task = model.to(device), train_data, valid_data, task
        self.device, self.clip, self.alpha, self.beta = torch.device(device), clip, alpha, beta
        self.mixed_precision, self.hooks, self.progress = mixed_precision, hooks or Hooks(), progress
        self.groups = param_groups(self.model)
        betas = betas or ((0.8, 0.99) if task == "lm" else (0.7, 0.99))
        optimizer = torch.optim.AdamW if decoupled_wd else torch.optim.Adam
        self.optimizer = optimizer([{"params": g, "lr": 1e-3} for g in self.groups], betas=betas,
                                   weight_decay=weight_decay, foreach=True)
        self.history: list[dict] = []
        self.step = 0  # batches trained in the current fit
        self.best: dict | None = None  # the epoch a fit with keep_best kept
        self.identity = model_identity(self._module, identity)  # as stored
        dist.broadcast_parameters(self._module)

    @property
    def _module(self) -> torch.nn.Module:
        """The model, for the functions typed on nn.Module (checkpoints, torch.distributed)."""
        return cast(torch.nn.Module, self.model)  # every Model is an nn.Module (see Model)

    # --- layer groups -----------------------------------------------------------------------

    def discriminative_lrs(self, lr: float | list[float]) -> list[float]:
        """lr for the last group, lr / 2.6 for the one before, lr / 2.6² ... (or a list, one per group)."""
        return discriminative_lrs(lr, len(self.groups))

    def freeze_to(self, n: int) -> None:
        """Train only layer groups n, n+1, ... (negative n counts from the end: -1 = the last)."""
        n = n % len(self.groups) if n < 0 else n
        set_trainable(self.groups, lambda k: k >= n)

    def train_only(self, n: int) -> None:
        """Train layer group n alone (chain-thaw, Felbo et al. 2017); negative n counts from the end."""
        n = n % len(self.groups)
        set_trainable(self.groups, lambda k: k == n)

    def freeze(self) -> None:
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    # --- one batch --------------------------------------------------------------------------

    def _forward(self, x: torch.Tensor, y: torch.Tensor):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.mixed_precision):
            if self.task == "lm" and hasattr(self.model, "forward_loss"):  # decoder + loss fused when built
                return self.model.forward_loss(x, y)
            logits, raw_outputs, outputs = self.model(x)
            logits = logits.float()
            # lm: logits (T, B, V) against next tokens (T, B); classifier: (B, C) against labels (B,)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            correct = (logits.argmax(-1) == y).sum()
        return loss, correct, raw_outputs, outputs

    def _reset(self) -> None:
        if hasattr(self.model, "reset"):
            self.model.reset()

    def train_batch(self, x, y, lrs: list[float], momentum: float | None) -> float:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
            if momentum is not None:
                group["betas"] = (momentum, group["betas"][1])
        x, y = x.to(self.device), y.to(self.device)
        loss, _, raw_outputs, outputs = self._forward(x, y)
        if not math.isfinite(loss.item()):
            raise TrainingDiverged(f"the training loss became {loss.item()} at step {self.step}; "
                                   "lower the learning rate (the last checkpoint is kept)")
        total = loss
        if self.alpha or self.beta:
            total = total + ar_tar_loss([r.float() for r in raw_outputs], [o.float() for o in outputs],
                                        self.alpha, self.beta)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        dist.average_gradients(self._module)
        if self.clip:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None], self.clip)
        self.optimizer.step()
        return loss.item()

    @torch.no_grad()
    def validate(self, data=None) -> dict:
        data = data if data is not None else self.valid_data
        self.model.eval()
        self._reset()
        loss_sum = correct = count = 0.0
        for x, y in data:
            x, y = x.to(self.device), y.to(self.device)
            loss, right, _, _ = self._forward(x, y)
            n = y.numel()
            loss_sum, correct, count = loss_sum + loss.item() * n, correct + right.item(), count + n
        loss_sum, correct, count = dist.all_reduce_sums([loss_sum, correct, count])
        self.model.train()
        metrics = {"valid_loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}
        if self.task == "lm":
            metrics["perplexity"] = math.exp(min(metrics["valid_loss"], 50))
        return metrics

    # --- fitting ----------------------------------------------------------------------------

    def fit(self, epochs: int, lr: float | list[float], schedule: str = "stlr", checkpoint_dir: str | None = None,
            keep_best: str | None = None, **schedule_args) -> list[dict]:
        """Train for `epochs` with discriminative rates from `lr` under `schedule` ("stlr",
        "one_cycle", "constant"). With `checkpoint_dir`, a checkpoint is written after every epoch
        and, when one from the same fit is there, training resumes from it.

        `keep_best` names a validation metric ("accuracy"; or "valid_loss", "perplexity", lower
        is better): the model ends with the weights of the epoch that scored best on it, not the
        last epoch's (fastai's SaveModelCallback). `self.best` says which epoch that was."""
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}")
        check_metric(keep_best, self.task, self.valid_data is not None)
        base_lrs = self.discriminative_lrs(lr)
        steps_per_epoch = dist.min_over_ranks(len(self.train_data))
        plan = SCHEDULES[schedule](lr_max=1.0, total=epochs * steps_per_epoch, **schedule_args)
        spec = {"epochs": epochs, "lr": base_lrs, "schedule": schedule, "args": schedule_args,
                "frozen": [not g[0].requires_grad for g in self.groups]}
        start_epoch, self.step = 0, 0
        if checkpoint_dir and (Path(checkpoint_dir) / "checkpoint.json").exists():
            start_epoch = self._resume(checkpoint_dir, spec)
        best = BestEpoch(keep_best, self._module, checkpoint_dir, resuming=start_epoch > 0) if keep_best else None
        self.best = None
        self.model.train()
        results = []
        for epoch in range(start_epoch, epochs):
            start = time.perf_counter()
            train_loss = self._train_epoch(epoch, epochs, steps_per_epoch, plan, base_lrs)
            metrics = {"epoch": epoch + 1, "train_loss": train_loss}
            if self.valid_data is not None:
                metrics.update(self.validate())
            metrics["seconds"] = time.perf_counter() - start
            results.append(metrics)
            self.history.append(metrics)
            if dist.is_main() and self.progress:
                self._say(metrics_line(metrics))
            if best is not None:  # before the epoch's checkpoint: a resumed fit never misses a best
                best.update(epoch + 1, metrics[best.metric])
            if checkpoint_dir:
                self.save(checkpoint_dir, fit=spec, epoch=epoch + 1)
            for hook in self.hooks.after_epoch:
                hook(self, metrics)
        if best is not None:
            self.best = best.restore(epochs)
            if dist.is_main() and self.progress and self.best["epoch"] != epochs:
                self._say(f"kept epoch {self.best['epoch']} ({keep_best} {self.best[keep_best]:.4f})")
        return results

    def _train_epoch(self, epoch: int, epochs: int, steps_per_epoch: int, plan, base_lrs: list[float]) -> float:
        """One epoch's batches under the schedule `plan`; the mean training loss over all ranks."""
        self._reset()
        losses, batches = [], iter(self.train_data)
        progress = EpochProgress(self.progress, epoch, epochs, steps_per_epoch, self.REPORT_SECONDS)
        for x, y in progress.batches(batches):
            multiplier, momentum = plan(self.step)
            loss = self.train_batch(x, y, [b * multiplier for b in base_lrs], momentum)
            losses.append(loss)
            self.step += 1
            progress.update(loss, x.numel())  # tokens: the LM's targets; a classifier's documents, pads included
            for hook in self.hooks.after_batch:
                hook(self, loss)
        for _ in batches:  # a rank with more batches skips them, so the loader finishes its epoch
            pass
        total, count = dist.all_reduce_sums([sum(losses), len(losses)])
        return total / max(count, 1)

    def _say(self, line: str) -> None:
        """A line of progress: to the `progress` function when there is one, else printed."""
        (self.progress if callable(self.progress) else print)(line)

    def _loader_state(self) -> dict:
        return self.train_data.state_dict() if hasattr(self.train_data, "state_dict") else {}

    def save(self, folder: str | Path, **info) -> None:
        """A checkpoint of the model, the optimizer, the RNGs and the loader (rank 0 writes)."""
        if dist.is_main():
            save_checkpoint(folder, self._module, self.optimizer, step=self.step, rng=rng_state(),
                            loader=self._loader_state(), history=self.history, identity=self.identity, **info)
        dist.barrier()

    def load(self, folder: str | Path) -> dict:
        check_identity(folder, read_info(folder), self.identity)
        meta = load_checkpoint(folder, self._module, self.optimizer)
        set_rng_state(meta["rng"])
        if meta.get("loader") and hasattr(self.train_data, "load_state_dict"):
            self.train_data.load_state_dict(meta["loader"])
        self.step, self.history = meta["step"], meta.get("history", [])
        return meta

    def _resume(self, folder: str, spec: dict) -> int:
        try:
            info = read_info(folder)
        except CheckpointVersionError:
            raise  # upgradable: never overwrite it
        except ValueError:
            info = {}
        if info:
            check_identity(folder, info, self.identity)  # never overwrite another model's checkpoint
        if info.get("fit") != spec:
            return 0  # a checkpoint from another fit: start this one afresh (it is overwritten later)
        meta = self.load(folder)
        set_trainable(self.groups, lambda k: not spec["frozen"][k])
        return meta["epoch"]

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, mode: str = "exp",
                stop_div: bool = True, plot: str | Path | None = None) -> "LRFinderResult":
        """The learning-rate range test: see ulmlite.train.lr_find.lr_find (weights are restored)."""
        from ulmlite.train.lr_find import lr_find  # lr_find.py builds on this module

        return lr_find(self, start_lr, end_lr, num_it, mode, stop_div, plot)
