"""Why did a language-model epoch take 30 minutes? A cost model of one AWD-LSTM training step,
checked against measured step times, with the machine's limits measured in the same run.

Cost model (per step of N = bptt·bs tokens; forward + backward):
  decoder      6·N·E·V FLOPs at the GEMM rate measured at shape (N, E, V)
  softmax/CE   ~6 passes over the N×V logits (read/write, forward + backward) at memory bandwidth
  LSTM layer   batched: 6·N·4H·I + 2·N·4H·H FLOPs (input projection, dX, dW) at the rate for (N, I, 4H)
               serial:  4·N·4H·H FLOPs (h·Rᵀ forward, dG·R backward) at the rate for (bs, H, 4H)
               pointwise: ~24 float passes over N·H at memory bandwidth
  the rest     embedding, dropouts, AR/TAR: ~12 passes over N·(E + ΣH) floats at bandwidth
  optimizer    Adam: ~10 float passes over the P parameters at bandwidth
Measured: the same components in isolation and the whole step (ulmlite's LanguageModel with the
`torch` backend, i.e. nn.LSTM-backed layers, as fastai's), medians.

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

from ulmlite.data import LanguageModelLoader  # noqa: E402
from ulmlite.nn import AWDLSTMConfig, LanguageModel  # noqa: E402
from ulmlite.train import Learner  # noqa: E402

LESSON = dict(name="lesson", V=60002, E=400, H=1150, L=3, T=70, B=52)
CONFIGS = [
    dict(name="small", V=8000, E=128, H=384, L=3, T=70, B=32),
    dict(name="medium", V=30000, E=200, H=640, L=3, T=70, B=52),
    LESSON,
]
EPOCH_TOKENS = 24_000_000  # the lesson's IMDB LM fine-tuning corpus, about 24M tokens per epoch
# Datasheet peak rates (FLOP/s), dense, no sparsity; for the projections.
GPUS = {
    "GTX 1080 Ti (fp32)": 11.3e12,
    "Quadro P5000 (fp32)": 8.9e12,
    "V100 SXM2 (fp32)": 15.7e12,
    "V100 SXM2 (fp16 tensor cores)": 125e12,
    "H100 SXM (fp32)": 67e12,
    "H100 SXM (bf16 tensor cores)": 989e12,
}
PUBLISHED_MINUTES = {"lesson notebook, batch 52": 21, "lesson video": 30, "fastai v1 course": 20,
                     "fastai v2 fp16, batch 128": 12}


def layer_sizes(c):
    sizes = [c["E"]] + [c["H"]] * (c["L"] - 1) + [c["E"]]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def bandwidth_gbs() -> float:
    """Copy a 256 MB buffer: bytes read + written per second."""
    a = torch.empty(64 * 2**20)
    b = torch.empty_like(a)
    a.normal_()
    seconds = median_time(lambda: b.copy_(a), 5)
    return 2 * a.numel() * 4 / seconds / 1e9


def cost_model(c, rates: dict, bw: float) -> dict:
    n = c["T"] * c["B"]
    parts = {}
    parts["decoder"] = 6 * n * c["E"] * c["V"] / rates[("dec", c["name"])]
    parts["softmax_ce"] = 6 * n * c["V"] * 4 / bw
    batched = serial = pointwise = 0.0
    for k, (i, h) in enumerate(layer_sizes(c)):
        batched += (6 * n * 4 * h * i + 2 * n * 4 * h * h) / rates[("big", c["name"], k)]
        serial += 4 * n * 4 * h * h / rates[("step", c["name"], k)]
        pointwise += 24 * n * h * 4 / bw
    parts["lstm_batched"], parts["lstm_serial"], parts["lstm_pointwise"] = batched, serial, pointwise
    parts["embedding_dropouts"] = 12 * n * (c["E"] + sum(h for _, h in layer_sizes(c))) * 4 / bw
    params = c["V"] * c["E"] + sum(4 * h * (i + h + 2) for i, h in layer_sizes(c))
    parts["optimizer"] = 10 * params * 4 / bw
    parts["total"] = sum(parts.values())
    flops = 6 * n * c["E"] * c["V"] + sum(6 * n * 4 * h * (i + h) for i, h in layer_sizes(c))
    return {"seconds": parts, "flops_per_step": flops, "params": params}


def measure_rates(c) -> dict:
    n = c["T"] * c["B"]
    rates = {("dec", c["name"]): gemm_gflops(n, c["E"], c["V"], repeats=3) * 1e9}
    for k, (i, h) in enumerate(layer_sizes(c)):
        rates[("big", c["name"], k)] = gemm_gflops(n, i, 4 * h, repeats=3) * 1e9
        rates[("step", c["name"], k)] = gemm_gflops(c["B"], h, 4 * h, repeats=5) * 1e9
    return rates


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
    base_model = cost_model(base_c, rates, bw)["seconds"]
    base_measured = measure_step(base_c, repeats)
    n = base_c["T"] * base_c["B"]
    out = [{"lever": "baseline (fp32, nn.LSTM, V=60k, batch 52)", "model_speedup": 1.0, "measured_speedup": 1.0}]
    # bfloat16: every GEMM at the bf16 rate.
    gemm = base_model["decoder"] + base_model["lstm_batched"] + base_model["lstm_serial"]
    bf16_total = base_model["total"] - gemm + gemm * limits["fp32_mm_gflops_big"] / limits["bf16_mm_gflops_big"]
    out.append({"lever": "bfloat16 autocast", "model_speedup": base_model["total"] / bf16_total,
                "measured_speedup": base_measured / measure_step(base_c, repeats, mixed_precision=True)})
    # Larger batch: the serial GEMMs get wider (closer to the big-GEMM rate); per token.
    big = dict(base_c, name="lesson_b104", B=104)
    big_rates = {**rates, **measure_rates(big)}
    big_model = cost_model(big, big_rates, bw)["seconds"]["total"] / 2
    out.append({"lever": "batch 104 (per token)", "model_speedup": base_model["total"] / big_model,
                "measured_speedup": base_measured / (measure_step(big, repeats) / 2)})
    # Smaller vocabulary.
    small_v = dict(base_c, name="lesson_v30k", V=30000)
    v_rates = {**rates, **measure_rates(small_v)}
    out.append({"lever": "vocabulary 30k instead of 60k",
                "model_speedup": base_model["total"] / cost_model(small_v, v_rates, bw)["seconds"]["total"],
                "measured_speedup": base_measured / measure_step(small_v, repeats)})
    # Sampled softmax with 8192 candidates (estimate only): the decoder's GEMMs shrink by V / 8192.
    sampled = base_model["total"] - base_model["decoder"] - base_model["softmax_ce"] + (
        base_model["decoder"] + base_model["softmax_ce"]) * 8192 / base_c["V"]
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
    # QRNN-style recurrence (estimate only): no serial GEMM; its gate GEMMs (3 gates over a window of
    # 2 inputs) are batched: about 6·N·3H·2I FLOPs per layer at the big-GEMM rate.
    qrnn_lstm = sum(6 * n * 3 * h * 2 * i / rates[("big", "lesson", k)]
                    for k, (i, h) in enumerate(layer_sizes(base_c)))
    qrnn_total = base_model["total"] - base_model["lstm_batched"] - base_model["lstm_serial"] + qrnn_lstm
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
        model = cost_model(c, rates, bw)
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
    steps = EPOCH_TOKENS / lesson["tokens_per_step"]
    flops = breakdowns["lesson"]["flops_per_step"]
    projections = {"this CPU (measured step time)": steps * lesson["measured_step_s"] / 60}
    projections.update({f"{gpu} at datasheet peak": steps * flops / peak / 60 for gpu, peak in GPUS.items()})
    print("\nthe lesson's 24M-token epoch, minutes:")
    for name, minutes in projections.items():
        print(f"  {name:45s} {minutes:10.1f}")
    print("published: " + ", ".join(f"{k} ~{v} min" for k, v in PUBLISHED_MINUTES.items()))
    shares = {k: v / breakdowns["lesson"]["seconds"]["total"] for k, v in breakdowns["lesson"]["seconds"].items()
              if k != "total"}
    print("lesson step, model shares: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    tok = RESULTS / "bench_tokenize.json"
    tokenize_share = None
    if tok.exists():
        cold = json.loads(tok.read_text())["rows"][0]["tokens_per_s"]  # the lesson's tokenizer
        tokenize_share = (EPOCH_TOKENS / cold) / (EPOCH_TOKENS / cold + steps * lesson["measured_step_s"])
        print(f"tokenizing 24M tokens the lesson's way at {cold:,.0f} tokens/s would be {tokenize_share:.1%} of "
              "one epoch's time here (once, then cached)")
    lever_rows = levers(all_rates, bw, repeats, limits)
    print("\nlevers at the lesson's size (speedup in tokens/s over the fp32 nn.LSTM baseline):")
    print_table(lever_rows, ["lever", "model_speedup", "measured_speedup", "tokens_per_s"])
    worst = max(abs(r["rel_error"]) for r in rows)
    bars = {"cost_model_max_rel_error": bar(worst, 0.2, higher_is_better=False),
            "configs_checked": bar(len(rows), 3)}
    write_results(__file__, rows, bars, extra={
        "limits": limits, "model": {k: v for k, v in breakdowns.items()}, "lesson_step_shares": shares,
        "epoch_projection_minutes": projections, "published_minutes": PUBLISHED_MINUTES,
        "tokenization_share_of_first_epoch": tokenize_share, "levers": lever_rows, "quick": args.quick})
    plot(rows, shares, projections)
    write_report(rows, limits, shares, projections, lever_rows, tokenize_share, worst)


def write_report(rows, limits, shares, projections, lever_rows, tokenize_share, worst) -> None:
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
              "Where the lesson's step goes (model): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()), "",
              "| the lesson's 24M-token epoch | minutes |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in projections.items()]
    lines += ["", "| lever | model speedup | measured speedup |", "| --- | --- | --- |"]
    lines += [f"| {r['lever']} | {fmt(r['model_speedup'])} | {fmt(r['measured_speedup'])} |" for r in lever_rows]
    if tokenize_share is not None:
        lines += ["", f"Tokenizing the epoch's text the lesson's way: {tokenize_share:.1%} of the first epoch here."]
    (RESULTS / "investigation.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'investigation.md'}")


def plot(rows, shares, projections) -> None:
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
    axes[1].barh(list(shares), list(shares.values()))
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
