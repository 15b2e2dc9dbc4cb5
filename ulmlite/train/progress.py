"""A fit's progress for people: a tqdm bar per epoch, or, for output that is not a terminal (the
demo's two processes), a line of text every few seconds with the speed and the time left."""

import itertools
import time
from collections.abc import Callable, Iterator

from tqdm.auto import tqdm

from ulmlite.train import distributed as dist


def progress_line(epoch: int, epochs: int, done: int, per_epoch: int, tokens: int, seconds: float,
                  batches_left: int, loss: float) -> str:
    """"epoch 1/3: 120/800 batches, 5.2k tokens/s, loss 5.123, about 4.1 min left in this fit"."""
    per_batch = seconds / max(done, 1)
    return (f"epoch {epoch + 1}/{epochs}: {done}/{per_epoch} batches, {tokens / max(seconds, 1e-9) / 1e3:.1f}k "
            f"tokens/s, loss {loss:.3f}, about {batches_left * per_batch / 60:.1f} min left in this fit")


def metrics_line(metrics: dict) -> str:
    return "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


class EpochProgress:
    """`progress` as Learner takes it: True for a bar, a function for lines every `report_seconds`
    (only rank 0 shows either)."""

    def __init__(self, progress: bool | Callable[[str], None], epoch: int, epochs: int, steps_per_epoch: int,
                 report_seconds: float):
        self.report = progress if callable(progress) and dist.is_main() else None
        self.show_bar = progress is True and dist.is_main()
        self.epoch, self.epochs, self.per_epoch, self.report_seconds = epoch, epochs, steps_per_epoch, report_seconds
        self.start = self.last_report = time.perf_counter()
        self.done = self.tokens = 0

    def batches(self, batches: Iterator) -> Iterator:
        """The epoch's first steps_per_epoch batches, behind the bar."""
        self.bar = tqdm(itertools.islice(batches, self.per_epoch), total=self.per_epoch, leave=False,
                        desc=f"epoch {self.epoch + 1}/{self.epochs}", disable=not self.show_bar)
        return iter(self.bar)

    def update(self, loss: float, tokens: int) -> None:
        self.done, self.tokens = self.done + 1, self.tokens + tokens
        self.bar.set_postfix(loss=f"{loss:.3f}")
        if self.report and time.perf_counter() - self.last_report >= self.report_seconds:
            self.last_report = time.perf_counter()
            left = (self.epochs - self.epoch) * self.per_epoch - self.done
            self.report(progress_line(self.epoch, self.epochs, self.done, self.per_epoch, self.tokens,
                                      self.last_report - self.start, left, loss))
