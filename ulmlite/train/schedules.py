"""Learning-rate (and momentum) schedules, as functions of the training progress.

Each schedule maps the step t (0 <= t < total) to (lr, momentum); momentum is None when the
schedule leaves it alone.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SlantedTriangular:
    """ULMFiT's slanted triangular learning rates (Howard & Ruder 2018, eq. 3): a short linear
    warm-up to lr_max over cut_frac of the steps, then a long linear decay; the lowest rate is
    lr_max / ratio. The lesson's `use_clr=(div, cut_div)` is ratio=div, cut_frac=1/cut_div."""

    lr_max: float
    total: int
    cut_frac: float = 0.1
    ratio: float = 32.0

    @classmethod
    def from_clr(cls, lr_max: float, total: int, div: float, cut_div: float) -> "SlantedTriangular":
        return cls(lr_max, total, cut_frac=1.0 / cut_div, ratio=div)

    def __call__(self, t: int) -> tuple[float, None]:
        cut = max(1, math.floor(self.total * self.cut_frac))
        if t < cut:
            p = t / cut
        else:
            p = 1 - (t - cut) / max(1, self.total - cut)
        return self.lr_max * (1 + p * (self.ratio - 1)) / self.ratio, None


@dataclass(frozen=True)
class OneCycle:
    """One-cycle (Smith 2018) as in fastai v1: cosine warm-up from lr_max/div to lr_max over
    pct_start of the steps, cosine annealing to lr_max/final_div; momentum cycles the other way."""

    lr_max: float
    total: int
    pct_start: float = 0.3
    div: float = 25.0
    final_div: float = 1e4
    moms: tuple[float, float] = (0.95, 0.85)

    @staticmethod
    def _cos(start: float, end: float, p: float) -> float:
        return end + (start - end) / 2 * (1 + math.cos(math.pi * p))

    def __call__(self, t: int) -> tuple[float, float]:
        warm = max(1, round(self.total * self.pct_start))
        if t < warm:
            p = t / warm
            return self._cos(self.lr_max / self.div, self.lr_max, p), self._cos(self.moms[0], self.moms[1], p)
        p = (t - warm) / max(1, self.total - warm)
        return self._cos(self.lr_max, self.lr_max / self.final_div, p), self._cos(self.moms[1], self.moms[0], p)


@dataclass(frozen=True)
class Constant:
    lr_max: float
    total: int

    def __call__(self, t: int) -> tuple[float, None]:
        return self.lr_max, None


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing from lr_max to lr_max / ratio (Loshchilov & Hutter 2017, one cycle, no
    restart): the schedule ULMFiT's ablation (Table 7, "Freez + cos") sets against STLR."""

    lr_max: float
    total: int
    ratio: float = 32.0

    def __call__(self, t: int) -> tuple[float, None]:
        low = self.lr_max / self.ratio
        return low + (self.lr_max - low) / 2 * (1 + math.cos(math.pi * t / max(1, self.total))), None


SCHEDULES = {"stlr": SlantedTriangular, "one_cycle": OneCycle, "constant": Constant, "cosine": Cosine}
