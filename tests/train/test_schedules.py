"""Schedules against their formulas."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.train import Constant, Cosine, OneCycle, SlantedTriangular


@given(total=st.integers(10, 5000), cut_frac=st.floats(0.01, 0.9), ratio=st.floats(1.0, 100.0),
       lr=st.floats(1e-5, 1.0))
def test_slanted_triangular_matches_ulmfit_eq3(total, cut_frac, ratio, lr):
    schedule = SlantedTriangular(lr, total, cut_frac, ratio)
    cut = max(1, math.floor(total * cut_frac))
    for t in {0, cut // 2, cut, (cut + total) // 2, total - 1}:
        p = t / cut if t < cut else 1 - (t - cut) / max(1, total - cut)
        assert schedule(t)[0] == pytest.approx(lr * (1 + p * (ratio - 1)) / ratio)
    assert schedule(cut)[0] == pytest.approx(lr)  # the peak
    assert schedule(0)[0] == pytest.approx(lr / ratio)  # the floor
    lrs = [schedule(t)[0] for t in range(total)]
    peak = lrs.index(max(lrs))
    assert all(a <= b + 1e-12 for a, b in zip(lrs[:peak], lrs[1 : peak + 1], strict=True))
    assert all(a >= b - 1e-12 for a, b in zip(lrs[peak:-1], lrs[peak + 1 :], strict=True))


def test_lesson_clr_is_stlr():
    """use_clr=(32, 10): start at lr/32, peak at 1/10 of the steps, back to lr/32."""
    schedule = SlantedTriangular.from_clr(0.01, 1000, div=32, cut_div=10)
    assert schedule(0)[0] == pytest.approx(0.01 / 32)
    assert schedule(100)[0] == pytest.approx(0.01)
    assert schedule(999)[0] == pytest.approx(0.01 / 32, rel=0.05)


@given(total=st.integers(10, 2000), pct=st.floats(0.05, 0.95), lr=st.floats(1e-4, 1.0))
def test_one_cycle(total, pct, lr):
    schedule = OneCycle(lr, total, pct_start=pct)
    warm = max(1, round(total * pct))
    assert schedule(0) == pytest.approx((lr / 25, 0.95))
    assert schedule(warm) == pytest.approx((lr, 0.85))
    end_lr, end_mom = schedule(total)
    assert end_lr == pytest.approx(lr / 1e4) and end_mom == pytest.approx(0.95)
    mid = warm // 2
    expected = lr / 25 + (lr - lr / 25) * (1 - math.cos(math.pi * mid / warm)) / 2
    assert schedule(mid)[0] == pytest.approx(expected)


def test_constant():
    assert Constant(0.1, 10)(7) == (0.1, None)


@given(total=st.integers(2, 5000), ratio=st.floats(1.0, 100.0), lr=st.floats(1e-5, 1.0))
def test_cosine_anneals_from_lr_to_lr_over_ratio(total, ratio, lr):
    schedule = Cosine(lr, total, ratio)
    rates = [schedule(t)[0] for t in range(total + 1)]
    assert rates[0] == pytest.approx(lr) and rates[-1] == pytest.approx(lr / ratio)
    assert all(a >= b - 1e-12 for a, b in zip(rates, rates[1:], strict=False))  # never rises
    assert schedule(total // 2)[0] == pytest.approx(lr / ratio + (lr - lr / ratio) / 2 * (1 + math.cos(
        math.pi * (total // 2) / total)))
