"""The training loop: discriminative learning rates over the model's layer groups, gradual
unfreezing, schedules, AR/TAR, gradient clipping, bfloat16 autocast, checkpoints that resume the
schedule where it stopped, lr_find, and data parallelism over torch.distributed.

No callback machinery: the loop below is the whole story; `hooks` are plain functions called at
two named points (after each batch, after each epoch).
"""

import copy
import itertools
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ulmlite.nn.awd_lstm import ar_tar_loss
from ulmlite.train import distributed as dist
from ulmlite.train.checkpoint import load_checkpoint, read_info, rng_state, save_checkpoint, set_rng_state
from ulmlite.train.schedules import SCHEDULES

DISCRIMINATIVE_FACTOR = 2.6  # ULMFiT section 3.2: eta^{l-1} = eta^l / 2.6


def _progress_line(epoch: int, epochs: int, done: int, per_epoch: int, tokens: int, seconds: float,
                   batches_left: int, loss: float) -> str:
    """"epoch 1/3: 120/800 batches, 5.2k tokens/s, loss 5.123, about 4.1 min left in this fit"."""
    per_batch = seconds / max(done, 1)
    return (f"epoch {epoch + 1}/{epochs}: {done}/{per_epoch} batches, {tokens / max(seconds, 1e-9) / 1e3:.1f}k "
            f"tokens/s, loss {loss:.3f}, about {batches_left * per_batch / 60:.1f} min left in this fit")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


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

    def __init__(self, model: torch.nn.Module, train_data, valid_data=None, task: str = "lm",
                 betas: tuple[float, float] | None = None, weight_decay: float = 1e-7, decoupled_wd: bool = False,
                 clip: float | None = 0.25, alpha: float = 2.0, beta: float = 1.0, mixed_precision: bool = False,
                 device: str | torch.device = "cpu", hooks: Hooks | None = None,
                 progress: bool | Callable[[str], None] = True, identity: dict | None = None):
        if task not in ("lm", "classifier"):
            raise ValueError(f"task must be 'lm' or 'classifier', got {task!r}")
        self.model, self.train_data, self.valid_data, self.task = model.to(device), train_data, valid_data, task
        self.device, self.clip, self.alpha, self.beta = torch.device(device), clip, alpha, beta
        self.mixed_precision, self.hooks, self.progress = mixed_precision, hooks or Hooks(), progress
        self.groups = self._param_groups()
        betas = betas or ((0.8, 0.99) if task == "lm" else (0.7, 0.99))
        optimizer = torch.optim.AdamW if decoupled_wd else torch.optim.Adam
        self.optimizer = optimizer([{"params": g, "lr": 1e-3} for g in self.groups], betas=betas,
                                   weight_decay=weight_decay, foreach=True)
        self.history: list[dict] = []
        self.step = 0  # batches trained in the current fit
        self.best: dict | None = None  # the epoch a fit with keep_best kept
        config = getattr(model, "config", None)
        config = ({k: v for k, v in asdict(config).items() if k not in ("backend", "loss_backend")}
                  if is_dataclass(config) else {})
        self.identity = json.loads(json.dumps({"config": config, **(identity or {})}))  # as stored
        dist.broadcast_parameters(self.model)

    # --- layer groups -----------------------------------------------------------------------

    def _param_groups(self) -> list[list[torch.nn.Parameter]]:
        seen: set[int] = set()
        groups = []
        for modules in self.model.layer_groups():
            params = []
            for module in modules:
                for p in module.parameters():
                    if id(p) not in seen:  # a tied weight belongs to its first group only
                        seen.add(id(p))
                        params.append(p)
            groups.append(params)
        rest = [p for p in self.model.parameters() if id(p) not in seen]
        if rest:
            raise ValueError(f"{len(rest)} parameters belong to no layer group")
        return groups

    def discriminative_lrs(self, lr: float | list[float]) -> list[float]:
        """lr for the last group, lr / 2.6 for the one before, lr / 2.6² ... (or a list, one per group)."""
        n = len(self.groups)
        if isinstance(lr, (list, tuple)):
            if len(lr) != n:
                raise ValueError(f"give one learning rate per layer group ({n}), got {len(lr)}")
            return [float(x) for x in lr]
        return [lr / DISCRIMINATIVE_FACTOR ** (n - 1 - k) for k in range(n)]

    def freeze_to(self, n: int) -> None:
        """Train only layer groups n, n+1, ... (negative n counts from the end: -1 = the last)."""
        n = n % len(self.groups) if n < 0 else n
        for k, group in enumerate(self.groups):
            for p in group:
                p.requires_grad_(k >= n)

    def train_only(self, n: int) -> None:
        """Train layer group n alone (chain-thaw, Felbo et al. 2017); negative n counts from the end."""
        n = n % len(self.groups)
        for k, group in enumerate(self.groups):
            for p in group:
                p.requires_grad_(k == n)

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
        dist.average_gradients(self.model)
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
        known = sorted(m for m in KEEP_BEST if m != "perplexity" or self.task == "lm")  # what validate() reports
        if keep_best is not None and (self.valid_data is None or keep_best not in known):
            raise ValueError(f"keep_best needs validation data and one of {known}, got {keep_best!r}")
        base_lrs = self.discriminative_lrs(lr)
        steps_per_epoch = dist.min_over_ranks(len(self.train_data))
        total = epochs * steps_per_epoch
        plan = SCHEDULES[schedule](lr_max=1.0, total=total, **schedule_args)
        spec = {"epochs": epochs, "lr": base_lrs, "schedule": schedule, "args": schedule_args,
                "frozen": [not g[0].requires_grad for g in self.groups]}
        start_epoch, self.step = 0, 0
        if checkpoint_dir and (Path(checkpoint_dir) / "checkpoint.json").exists():
            start_epoch = self._resume(checkpoint_dir, spec)
        # The best epoch's weights go beside the checkpoint (each save replaces the checkpoint's folder).
        best_dir = Path(checkpoint_dir).with_name(Path(checkpoint_dir).name + "-best") if checkpoint_dir else None
        best = _BestEpoch(keep_best, self.model, best_dir, resuming=start_epoch > 0) if keep_best else None
        self.best = None
        self.model.train()
        results = []
        for epoch in range(start_epoch, epochs):
            self._reset()
            start, losses = time.perf_counter(), []
            batches = iter(self.train_data)
            report = self.progress if callable(self.progress) and dist.is_main() else None
            bar = tqdm(itertools.islice(batches, steps_per_epoch), total=steps_per_epoch, leave=False,
                       desc=f"epoch {epoch + 1}/{epochs}", disable=self.progress is not True or not dist.is_main())
            tokens, last_report = 0, start
            for x, y in bar:
                multiplier, momentum = plan(self.step)
                loss = self.train_batch(x, y, [b * multiplier for b in base_lrs], momentum)
                losses.append(loss)
                self.step += 1
                tokens += x.numel()  # the LM: its targets; a classifier: its documents, pads included
                bar.set_postfix(loss=f"{loss:.3f}")
                if report and time.perf_counter() - last_report >= self.REPORT_SECONDS:
                    last_report = time.perf_counter()
                    report(_progress_line(epoch, epochs, len(losses), steps_per_epoch, tokens, last_report - start,
                                          (epochs - epoch) * steps_per_epoch - len(losses), loss))
                for hook in self.hooks.after_batch:
                    hook(self, loss)
            for _ in batches:  # a rank with more batches skips them, so the loader finishes its epoch
                pass
            train_loss = dist.all_reduce_sums([sum(losses), len(losses)])
            metrics = {"epoch": epoch + 1, "train_loss": train_loss[0] / max(train_loss[1], 1)}
            if self.valid_data is not None:
                metrics.update(self.validate())
            metrics["seconds"] = time.perf_counter() - start
            results.append(metrics)
            self.history.append(metrics)
            if dist.is_main() and self.progress:
                line = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
                self._say(line)
            if best is not None:  # before the epoch's checkpoint: a resumed fit never misses a best
                best.update(epoch + 1, metrics[keep_best])
            if checkpoint_dir:
                self.save(checkpoint_dir, fit=spec, epoch=epoch + 1)
            for hook in self.hooks.after_epoch:
                hook(self, metrics)
        if best is not None:
            self.best = best.restore(epochs)
            if dist.is_main() and self.progress and self.best["epoch"] != epochs:
                line = f"kept epoch {self.best['epoch']} ({keep_best} {self.best[keep_best]:.4f})"
                self._say(line)
        return results

    def _say(self, line: str) -> None:
        """A line of progress: to the `progress` function when there is one, else printed."""
        (self.progress if callable(self.progress) else print)(line)

    def _loader_state(self) -> dict:
        return self.train_data.state_dict() if hasattr(self.train_data, "state_dict") else {}

    def save(self, folder: str | Path, **info) -> None:
        """A checkpoint of the model, the optimizer, the RNGs and the loader (rank 0 writes)."""
        if dist.is_main():
            save_checkpoint(folder, self.model, self.optimizer, step=self.step, rng=rng_state(),
                            loader=self._loader_state(), history=self.history, identity=self.identity, **info)
        dist.barrier()

    def _check_identity(self, folder: str | Path, meta: dict) -> None:
        def flat(d: dict) -> dict:  # one level deep: config.hidden_size, vocab_sha256, ...
            return {f"{k}.{j}" if isinstance(v, dict) else k: w
                    for k, v in d.items() for j, w in (v.items() if isinstance(v, dict) else [(None, v)])}

        theirs, ours = flat(meta.get("identity", {})), flat(self.identity)
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        if differ:
            detail = "; ".join(f"{k} {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in differ[:3])
            raise ValueError(f"{folder} holds a checkpoint of another model or vocabulary ({detail}); "
                             "remove it or train into another folder")

    def load(self, folder: str | Path) -> dict:
        self._check_identity(folder, read_info(folder))
        meta = load_checkpoint(folder, self.model, self.optimizer)
        set_rng_state(meta["rng"])
        if meta.get("loader") and hasattr(self.train_data, "load_state_dict"):
            self.train_data.load_state_dict(meta["loader"])
        self.step, self.history = meta["step"], meta.get("history", [])
        return meta

    def _resume(self, folder: str, spec: dict) -> int:
        try:
            info = read_info(folder)
        except ValueError:
            info = {}
        if info:
            self._check_identity(folder, info)  # never overwrite another model's checkpoint
        if info.get("fit") != spec:
            return 0  # a checkpoint from another fit: start this one afresh (it is overwritten later)
        meta = self.load(folder)
        for group, frozen in zip(self.groups, spec["frozen"], strict=True):
            for p in group:
                p.requires_grad_(not frozen)
        return meta["epoch"]

    # --- lr_find ----------------------------------------------------------------------------

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, mode: str = "exp",
                stop_div: bool = True, plot: str | Path | None = None) -> "LRFinderResult":
        """Raise the learning rate batch by batch (exponentially or linearly), recording the
        smoothed loss; stop when it exceeds 4x its minimum. Weights and optimizer are restored."""
        if mode not in ("exp", "linear"):
            raise ValueError(f"mode must be 'exp' or 'linear', got {mode!r}")
        saved = copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict())
        rng = torch.get_rng_state()
        lrs, losses, smooth, best = [], [], 0.0, float("inf")
        self.model.train()
        self._reset()
        self.step = 0
        batches = iter(())
        for i in range(num_it):
            p = i / max(1, num_it - 1)
            lr = start_lr * (end_lr / start_lr) ** p if mode == "exp" else start_lr + (end_lr - start_lr) * p
            try:
                x, y = next(batches)
            except StopIteration:
                batches = iter(self.train_data)
                x, y = next(batches)
            try:
                loss = self.train_batch(x, y, self.discriminative_lrs(lr), None)
            except TrainingDiverged:
                break
            smooth = 0.98 * smooth + 0.02 * loss
            smoothed = smooth / (1 - 0.98 ** (i + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if stop_div and smoothed > 4 * best:
                break
        self.model.load_state_dict(saved[0])
        self.optimizer.load_state_dict(saved[1])
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


KEEP_BEST = {"accuracy": 1.0, "valid_loss": -1.0, "perplexity": -1.0}  # +1: higher is better


class _BestEpoch:
    """The best epoch of one fit so far, by a validation metric: its weights are kept in memory, or
    in `folder` (a model checkpoint) when the fit checkpoints, so that a resumed fit still knows them."""

    def __init__(self, metric: str, model: torch.nn.Module, folder: Path | None, resuming: bool):
        self.metric, self.model, self.folder, self.sign = metric, model, folder, KEEP_BEST[metric]
        self.epoch, self.value, self.state = None, None, None
        if folder is not None:
            if resuming and (folder / "checkpoint.json").exists():
                info = read_info(folder)
                self.epoch, self.value = info["best_epoch"], info["best_value"]
            elif not resuming and dist.is_main():
                shutil.rmtree(folder, ignore_errors=True)  # a best of an earlier, finished fit

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
                load_checkpoint(self.folder, self.model)
        return {"epoch": self.epoch, self.metric: self.value}

