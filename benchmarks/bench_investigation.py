"""Why did a language-model epoch take 30 minutes? The cost model of one AWD-LSTM training step
(cost_model.py) checked against measured step times, with the machine's limits measured in the same
run, and a markdown report and a plot of the result.

Measured: the GEMM rates at the shapes the model needs, the model's components in isolation and the
whole step (ulmlite's LanguageModel with the `torch` backend, i.e. nn.LSTM-backed layers, as
fastai's), medians.

    python benchmarks/bench_investigation.py [--quick]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, bar, gemm_gflops, median_time, onednn_fp32_gflops, print_table, write_results  # noqa: E402
from cost_model import (  # noqa: E402
    CONFIGS,
    LESSON,
    PUBLISHED_MINUTES,
    bf16_seconds,
    epoch_minutes_at_peak,
    epoch_steps,
    gemm_shapes,
    layer_sizes,
    qrnn_seconds,
    sampled_softmax_seconds,
    shares,
    step_cost,
    tokenize_share,
)

from ulmlite.data import LanguageModelLoader  # noqa: E402
from ulmlite.nn import AWDLSTMConfig, LanguageModel  # noqa: E402
from ulmlite.train import Learner  # noqa: E402


def bandwidth_gbs() -> float:
    """Copy a 256 MB buffer: bytes read + written per second."""
    a = torch.empty(64 * 2**20)
    b = torch.empty_like(a)
    a.normal_()
    seconds = median_time(lambda: b.copy_(a), 5)
    return 2 * a.numel() * 4 / seconds / 1e9


def measure_rates(c) -> dict:
    """FLOP/s at each GEMM shape the cost model needs (the small serial ones timed more often)."""
    return {key: gemm_gflops(*shape, repeats=5 if key[0] == "step" else 3) * 1e9
            for key, shape in gemm_shapes(c).items()}


def measure_step(c, repeats: int, backend: str = "torch", mixed_precision: bool = False,
                 loss_backend: str = "torch") -> float:
    """Median seconds of one full training step (forward, AR/TAR, backward, clip, Adam)."""
    torch.manual_seed(0)
    n = c["T"] * c["B"]
    model = LanguageModel(AWDLSTMConfig(vocab_size=c["V"], emb_size=c["E"], hidden_size=c["H"], n_layers=c["L"],
                                        backend=backend, loss_backend=loss_backend))
    ids = np.random.default_rng(0).integers(2, c["V"], n * (repeats + 3) + 1).astype(np.int32)
    loader = LanguageModelLoader(ids, c["B"], c["T"], seed=0)
    learn = Learner(model, loader, progress=False, mixed_precision=mixed_precision)
    batches = iter([(xb[: c["T"]], yb[: c["T"]]) for xb, yb in loader])
    lrs = learn.discriminative_lrs(1e-3)
    return median_time(lambda: learn.train_batch(*next(batches), lrs, None), repeats, warmup=1)


def levers(rates: dict, bw: float, repeats: int, limits: dict) -> list[dict]:
    """What each lever buys at the lesson's size: the cost model's estimate and, where it runs here,
    a measurement (tokens per second against the fp32 nn.LSTM-backed baseline)."""
    base_c = LESSON
    base_model = step_cost(base_c, rates, bw)["seconds"]
    base_measured = measure_step(base_c, repeats)
    n = base_c["T"] * base_c["B"]
    out = [{"lever": "baseline (fp32, nn.LSTM, V=60k, batch 52)", "model_speedup": 1.0, "measured_speedup": 1.0}]
    bf16_total = bf16_seconds(base_model, limits["fp32_mm_gflops_big"], limits["bf16_mm_gflops_big"])
    out.append({"lever": "bfloat16 autocast", "model_speedup": base_model["total"] / bf16_total,
                "measured_speedup": base_measured / measure_step(base_c, repeats, mixed_precision=True)})
    # Larger batch: the serial GEMMs get wider (closer to the big-GEMM rate); per token.
    big = dict(base_c, name="lesson_b104", B=104)
    big_rates = {**rates, **measure_rates(big)}
    big_model = step_cost(big, big_rates, bw)["seconds"]["total"] / 2
    out.append({"lever": "batch 104 (per token)", "model_speedup": base_model["total"] / big_model,
                "measured_speedup": base_measured / (measure_step(big, repeats) / 2)})
    # Smaller vocabulary.
    small_v = dict(base_c, name="lesson_v30k", V=30000)
    v_rates = {**rates, **measure_rates(small_v)}
    out.append({"lever": "vocabulary 30k instead of 60k",
                "model_speedup": base_model["total"] / step_cost(small_v, v_rates, bw)["seconds"]["total"],
                "measured_speedup": base_measured / measure_step(small_v, repeats)})
    # Sampled softmax with 8192 candidates (estimate only): the decoder's GEMMs shrink by V / 8192.
    sampled = sampled_softmax_seconds(base_model, base_c["V"])
    out.append({"lever": "sampled softmax, 8192 candidates (estimate)", "model_speedup": base_model["total"] / sampled,
                "measured_speedup": None})
    # Fused LSTM kernel (ulmlite's extension), fp32 and bf16.
    try:
        out.append({"lever": "ulmlite fused LSTM (fp32)", "model_speedup": None,
                    "measured_speedup": base_measured / measure_step(base_c, repeats, backend="fused")})
        out.append({"lever": "ulmlite fused LSTM + bf16", "model_speedup": None,
                    "measured_speedup": base_measured / measure_step(base_c, repeats, "fused", True)})
    except RuntimeError as err:
        print(f"fused backend not measured: {err}")
    # QRNN-style recurrence (estimate only): no serial GEMM.
    qrnn_total = qrnn_seconds(base_c, base_model, rates)
    out.append({"lever": "QRNN-style recurrence (estimate)", "model_speedup": base_model["total"] / qrnn_total,
                "measured_speedup": None})
    for row in out:
        row["tokens_per_s"] = (n / base_measured * row["measured_speedup"]) if row["measured_speedup"] else None
    return out


def measure_components(c, repeats: int) -> dict:
    torch.manual_seed(0)
    n, out = c["T"] * c["B"], {}
    x = torch.randn(n, c["E"], requires_grad=True)
    w = torch.randn(c["V"], c["E"], requires_grad=True)
    y = torch.randint(0, c["V"], (n,))
    out["decoder_softmax_ce"] = median_time(lambda: F.cross_entropy(F.linear(x, w), y).backward(), repeats)
    with torch.no_grad():
        out["decoder_softmax_ce_forward"] = median_time(lambda: F.cross_entropy(F.linear(x, w), y), repeats)
    lstm_total = lstm_forward = 0.0
    for i, h in layer_sizes(c):
        lstm = torch.nn.LSTM(i, h)
        inp = torch.randn(c["T"], c["B"], i, requires_grad=True)
        lstm_total += median_time(lambda lstm=lstm, inp=inp: lstm(inp)[0].sum().backward(), repeats)
        with torch.no_grad():
            lstm_forward += median_time(lambda lstm=lstm, inp=inp: lstm(inp), repeats)
    out["lstm_layers"], out["lstm_layers_forward"] = lstm_total, lstm_forward
    model = LanguageModel(AWDLSTMConfig(vocab_size=c["V"], emb_size=c["E"], hidden_size=c["H"], n_layers=c["L"],
                                        backend="torch", loss_backend="torch"))  # the lesson-era step
    ids = np.random.default_rng(0).integers(2, c["V"], n * (repeats + 3) + 1).astype(np.int32)
    loader = LanguageModelLoader(ids, c["B"], c["T"], seed=0)
    learn = Learner(model, loader, progress=False)
    batches = [(xb[: c["T"]], yb[: c["T"]]) for xb, yb in loader]
    lrs = learn.discriminative_lrs(1e-3)
    it = iter(batches)
    out["step"] = median_time(lambda: learn.train_batch(*next(it), lrs, None), repeats, warmup=1)
    opt = learn.optimizer
    out["optimizer"] = median_time(opt.step, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two repeats per measurement")
    args = parser.parse_args()
    repeats = 2 if args.quick else 4
    torch.set_num_threads(torch.get_num_threads())
    limits = {
        "fp32_mm_gflops_big": gemm_gflops(4096, 1024, 4096, repeats=3),
        "bf16_mm_gflops_big": gemm_gflops(4096, 1024, 4096, dtype=torch.bfloat16, repeats=3),
        "memory_bandwidth_gbs": bandwidth_gbs(),
    }
    try:
        limits["onednn_fp32_gflops_big"] = onednn_fp32_gflops(4096, 1024, 4096)
    except (RuntimeError, AttributeError) as err:
        print(f"oneDNN fp32 not measured: {err}")
    bw = limits["memory_bandwidth_gbs"] * 1e9
    print(f"limits: fp32 GEMM (torch.mm: MKL) {limits['fp32_mm_gflops_big']:.0f} GFLOP/s, "
          f"oneDNN fp32 {limits.get('onednn_fp32_gflops_big', float('nan')):.0f}, "
          f"bf16 {limits['bf16_mm_gflops_big']:.0f}, bandwidth {limits['memory_bandwidth_gbs']:.1f} GB/s")

    rows, breakdowns, all_rates = [], {}, {}
    for c in CONFIGS:
        rates = measure_rates(c)
        all_rates.update(rates)
        model = step_cost(c, rates, bw)
        measured = measure_components(c, repeats)
        predicted = model["seconds"]["total"]
        rel = (predicted - measured["step"]) / measured["step"]
        n = c["T"] * c["B"]
        rows.append({
            "config": c["name"], "V": c["V"], "E": c["E"], "H": c["H"], "tokens_per_step": n,
            "measured_step_s": measured["step"], "model_step_s": predicted, "rel_error": rel,
            "measured_tokens_per_s": n / measured["step"],
            "achieved_GFLOPs": model["flops_per_step"] / measured["step"] / 1e9,
            "measured_decoder_ce_fwd_s": measured["decoder_softmax_ce_forward"],
            "measured_decoder_ce_s": measured["decoder_softmax_ce"],
            "model_decoder_ce_s": model["seconds"]["decoder"] + model["seconds"]["softmax_ce"],
            "measured_lstm_fwd_s": measured["lstm_layers_forward"],
            "measured_lstm_s": measured["lstm_layers"],
            "model_lstm_s": sum(model["seconds"][k] for k in ("lstm_batched", "lstm_serial", "lstm_pointwise")),
            "measured_optimizer_s": measured["optimizer"], "model_optimizer_s": model["seconds"]["optimizer"],
        })
        breakdowns[c["name"]] = model

    print_table(rows, ["config", "V", "E", "H", "tokens_per_step", "measured_step_s", "model_step_s", "rel_error",
                       "measured_tokens_per_s", "achieved_GFLOPs", "measured_decoder_ce_fwd_s", "measured_decoder_ce_s",
                       "model_decoder_ce_s", "measured_lstm_fwd_s", "measured_lstm_s", "model_lstm_s",
                       "measured_optimizer_s", "model_optimizer_s"])
    lesson = next(r for r in rows if r["config"] == "lesson")
    steps = epoch_steps(LESSON)
    projections = {"this CPU (measured step time)": steps * lesson["measured_step_s"] / 60}
    projections.update(epoch_minutes_at_peak(LESSON))
    print("\nthe lesson's 24M-token epoch, minutes:")
    for name, minutes in projections.items():
        print(f"  {name:45s} {minutes:10.1f}")
    print("published: " + ", ".join(f"{k} ~{v} min" for k, v in PUBLISHED_MINUTES.items()))
    lesson_shares = shares(breakdowns["lesson"]["seconds"])
    print("lesson step, model shares: " + ", ".join(f"{k} {v:.0%}" for k, v in lesson_shares.items()))
    tok = RESULTS / "bench_tokenize.json"
    tokenizing = None
    if tok.exists():
        cold = json.loads(tok.read_text())["rows"][0]["tokens_per_s"]  # the lesson's tokenizer
        tokenizing = tokenize_share(cold, LESSON, lesson["measured_step_s"])
        print(f"tokenizing 24M tokens the lesson's way at {cold:,.0f} tokens/s would be {tokenizing:.1%} of "
              "one epoch's time here (once, then cached)")
    lever_rows = levers(all_rates, bw, repeats, limits)
    print("\nlevers at the lesson's size (speedup in tokens/s over the fp32 nn.LSTM baseline):")
    print_table(lever_rows, ["lever", "model_speedup", "measured_speedup", "tokens_per_s"])
    worst = max(abs(r["rel_error"]) for r in rows)
    bars = {"cost_model_max_rel_error": bar(worst, 0.2, higher_is_better=False),
            "configs_checked": bar(len(rows), 3)}
    write_results(__file__, rows, bars, extra={
        "limits": limits, "model": {k: v for k, v in breakdowns.items()}, "lesson_step_shares": lesson_shares,
        "epoch_projection_minutes": projections, "published_minutes": PUBLISHED_MINUTES,
        "tokenization_share_of_first_epoch": tokenizing, "levers": lever_rows, "quick": args.quick})
    plot(rows, lesson_shares, projections)
    write_report(rows, limits, lesson_shares, projections, lever_rows, tokenizing, worst)


def write_report(rows, limits, step_shares, projections, lever_rows, tokenizing, worst) -> None:
    """benchmarks/results/investigation.md: the run's numbers as a markdown report."""
    def fmt(x, spec=".3g"):
        return "" if x is None else format(x, spec)

    lines = ["# Why did a language-model epoch take 30 minutes? (generated by bench_investigation.py)", "",
             f"Machine limits measured in this run: float32 GEMM (torch.mm, MKL) {limits['fp32_mm_gflops_big']:.0f} "
             f"GFLOP/s, oneDNN float32 {fmt(limits.get('onednn_fp32_gflops_big'), '.0f')} GFLOP/s, bfloat16 "
             f"{limits['bf16_mm_gflops_big']:.0f} GFLOP/s, memory bandwidth {limits['memory_bandwidth_gbs']:.1f} GB/s.",
             "", "| config | V | E | H | measured s/step | model s/step | error | tokens/s | achieved GFLOP/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['config']} | {r['V']} | {r['E']} | {r['H']} | {r['measured_step_s']:.3f} | "
              f"{r['model_step_s']:.3f} | {r['rel_error']:+.1%} | {r['measured_tokens_per_s']:.0f} | "
              f"{r['achieved_GFLOPs']:.0f} |" for r in rows]
    lines += ["", "| config | decoder+CE fwd s | decoder+CE fwd+bwd s (model) | LSTMs fwd s | LSTMs fwd+bwd s (model) |"
              " Adam s (model) |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['config']} | {r['measured_decoder_ce_fwd_s']:.3f} | {r['measured_decoder_ce_s']:.3f} "
              f"({r['model_decoder_ce_s']:.3f}) | {r['measured_lstm_fwd_s']:.3f} | {r['measured_lstm_s']:.3f} "
              f"({r['model_lstm_s']:.3f}) | {r['measured_optimizer_s']:.4f} ({r['model_optimizer_s']:.4f}) |"
              for r in rows]
    lines += ["", f"Largest cost-model error: {worst:.1%} (bar: 20%).", "",
              "Where the lesson's step goes (model): " + ", ".join(f"{k} {v:.0%}" for k, v in step_shares.items()), "",
              "| the lesson's 24M-token epoch | minutes |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in projections.items()]
    lines += ["", "| lever | model speedup | measured speedup |", "| --- | --- | --- |"]
    lines += [f"| {r['lever']} | {fmt(r['model_speedup'])} | {fmt(r['measured_speedup'])} |" for r in lever_rows]
    if tokenizing is not None:
        lines += ["", f"Tokenizing the epoch's text the lesson's way: {tokenizing:.1%} of the first epoch here."]
    (RESULTS / "investigation.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'investigation.md'}")


def plot(rows, step_shares, projections) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    names = [r["config"] for r in rows]
    xs = np.arange(len(names))
    axes[0].bar(xs - 0.2, [r["measured_step_s"] for r in rows], 0.4, label="measured")
    axes[0].bar(xs + 0.2, [r["model_step_s"] for r in rows], 0.4, label="cost model")
    axes[0].set_xticks(xs, names)
    axes[0].set_ylabel("seconds per step")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[0].set_title("training step: model vs measured")
    axes[1].barh(list(step_shares), list(step_shares.values()))
    axes[1].set_title("lesson config: where the step goes (model)")
    axes[2].barh(list(projections), list(projections.values()))
    axes[2].set_xscale("log")
    axes[2].set_xlabel("minutes per 24M-token epoch")
    axes[2].set_title("projections")
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "bench_investigation.png")
    plt.close(fig)


if __name__ == "__main__":
    main()
