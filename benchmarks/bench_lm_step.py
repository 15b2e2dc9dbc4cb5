"""Language-model training at the lesson's size (vocab 60002, embedding 400, hidden 1150, 3 layers,
bptt 70, batch 52): ulmlite against a fastai-style reference, in one run.

- reference: the model built the way fastai v0.7 and awd-lstm-lm build it: torch.nn.LSTM layers
  wrapped in WeightDrop, an nn.Linear decoder tied to the embedding, F.cross_entropy on the full
  (3640, 60002) logits, the same dropouts and AR/TAR, gradient clipping and torch.optim.Adam;
- ulmlite: LanguageModel (fused LSTM layers, the fused chunked decoder + cross-entropy) trained by
  Learner.train_batch, in float32 and with bfloat16 autocast;
- levers: ulmlite with one fused part switched back to PyTorch's, and a fused Adam step.

Each configuration runs in a process of its own, so its peak memory is its own: the peak resident
memory during the timed steps above the resident memory before them (what a step needs beyond the
model and optimizer state), and the whole process's peak. Then ulmlite is trained in float32 and in
bfloat16 for the same steps from the same weights on real text (../shared/data/general_en) and the
validation losses compared. Model FLOP/s are set against the GEMM rate measured in the same run.

    python benchmarks/bench_lm_step.py [--quick]
"""

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, gemm_gflops, onednn_fp32_gflops, print_table, write_results  # noqa: E402

from ulmlite import hardware  # noqa: E402
from ulmlite.data import LanguageModelLoader  # noqa: E402
from ulmlite.nn import AWDLSTMConfig, EmbeddingDropout, LanguageModel, LockedDropout, WeightDrop, ar_tar_loss  # noqa: E402
from ulmlite.train import Learner  # noqa: E402

LESSON = dict(V=60002, E=400, H=1150, L=3, T=70, B=52)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "general_en"


class ReferenceLM(nn.Module):
    """fastai v0.7's get_language_model / awd-lstm-lm's RNNModel: nn.LSTM + WeightDrop, a tied
    nn.Linear decoder; the loss is F.cross_entropy on the logits."""

    def __init__(self, c: AWDLSTMConfig):
        super().__init__()
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size, padding_idx=c.pad_id)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.embedding_dp = EmbeddingDropout(self.embedding, c.dropoute)
        sizes = [c.emb_size] + [c.hidden_size] * (c.n_layers - 1) + [c.emb_size]
        self.rnns = nn.ModuleList(WeightDrop(nn.LSTM(sizes[k], sizes[k + 1]), c.wdrop) for k in range(c.n_layers))
        self.input_dp = LockedDropout(c.dropouti)
        self.hidden_dps = nn.ModuleList(LockedDropout(c.dropouth) for _ in range(c.n_layers))
        self.decoder = nn.Linear(c.emb_size, c.vocab_size, bias=False)
        self.decoder.weight = self.embedding.weight
        self.output_dp = LockedDropout(c.dropout)
        self.hidden = None

    def forward(self, ids):
        if self.hidden is None:
            self.hidden = [None] * len(self.rnns)
        x = self.input_dp(self.embedding_dp(ids))
        raw_outputs, outputs = [], []
        for k, rnn in enumerate(self.rnns):
            x, (h, c) = rnn(x, self.hidden[k])
            self.hidden[k] = (h.detach(), c.detach())
            raw_outputs.append(x)
            x = self.hidden_dps[k](x) if k < len(self.rnns) - 1 else self.output_dp(x)
            outputs.append(x)
        return self.decoder(x), raw_outputs, outputs


def model_flops(c: dict) -> float:
    """GEMM FLOPs of one training step (forward + backward = 3x the forward's)."""
    n = c["T"] * c["B"]
    sizes = [c["E"]] + [c["H"]] * (c["L"] - 1) + [c["E"]]
    lstm = sum(2 * n * 4 * h * (i + h) for i, h in zip(sizes[:-1], sizes[1:], strict=True))
    return 3 * (2 * n * c["E"] * c["V"] + lstm)


def memory_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def config_for(name: str, vocab_size: int) -> tuple[AWDLSTMConfig, dict]:
    c = LESSON
    base = AWDLSTMConfig(vocab_size=vocab_size, emb_size=c["E"], hidden_size=c["H"], n_layers=c["L"])
    options = {
        "reference fp32": dict(kind="reference", mixed=False),
        "reference bf16": dict(kind="reference", mixed=True),
        "ulmlite fp32": dict(kind="ulmlite", mixed=False),
        "ulmlite bf16": dict(kind="ulmlite", mixed=True),
        "ulmlite fp32, nn.LSTM layers": dict(kind="ulmlite", mixed=False, backend="torch"),
        "ulmlite fp32, F.cross_entropy": dict(kind="ulmlite", mixed=False, loss_backend="torch"),
        "ulmlite bf16, F.cross_entropy": dict(kind="ulmlite", mixed=True, loss_backend="torch"),
        "ulmlite fp32, fused Adam": dict(kind="ulmlite", mixed=False, fused_adam=True),
    }[name]
    config = AWDLSTMConfig(**{**base.__dict__, **{k: options[k] for k in ("backend", "loss_backend") if k in options}})
    return config, options


def build(name: str, ids: np.ndarray, vocab_size: int, device: str = "cpu"):
    """(step function, model, loader) for one configuration. On CUDA each step ends synchronized."""
    c = LESSON
    kind = torch.device(device).type
    config, options = config_for(name, vocab_size)
    torch.manual_seed(0)
    loader = LanguageModelLoader(ids, c["B"], c["T"], seed=0)
    if options["kind"] == "reference":
        model = ReferenceLM(config).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.8, 0.99), weight_decay=1e-7)

        def step(x, y):
            x, y = x.to(device), y.to(device)
            with torch.autocast(kind, dtype=torch.bfloat16, enabled=options["mixed"]):
                logits, raw_outputs, outputs = model(x)
                loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1))
            total = loss + ar_tar_loss([r.float() for r in raw_outputs], [o.float() for o in outputs])
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            optimizer.step()
            return loss.item()

        return step, model, loader
    model = LanguageModel(config)
    learn = Learner(model, loader, mixed_precision=options["mixed"], progress=False, device=device)
    if options.get("fused_adam"):
        groups = [{"params": g["params"], "lr": g["lr"]} for g in learn.optimizer.param_groups]
        learn.optimizer = torch.optim.Adam(groups, betas=(0.8, 0.99), weight_decay=1e-7, fused=True)
    lrs = learn.discriminative_lrs(1e-3)
    sync = torch.cuda.synchronize if kind == "cuda" else (lambda: None)

    def step(x, y):
        loss = learn.train_batch(x.to(device), y.to(device), lrs, None)
        sync()
        return loss

    return step, model, loader


def run_config(name: str, steps: int, out: Path, device: str = "cpu") -> None:
    """Child process: time `steps` training steps after one warm-up step and record the memory
    (resident memory on the CPU; on CUDA the allocator's peak, in the same fields)."""
    c = LESSON
    ids = np.random.default_rng(0).integers(2, c["V"], c["T"] * c["B"] * (steps + 3) + 1).astype(np.int32)
    step, model, loader = build(name, ids, c["V"], device)
    cuda = torch.device(device).type == "cuda"
    batches = [(x[: c["T"]], y[: c["T"]]) for x, y in loader]
    step(*batches[0])  # warm-up: oneDNN primitives, allocator, Adam state
    gc.collect()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    before_kb = torch.cuda.memory_allocated() // 1024 if cuda else memory_kb("VmRSS")
    peak_reset = True if cuda else reset_peak()
    times, losses = [], []
    for x, y in batches[1 : steps + 1]:
        start = time.perf_counter()
        losses.append(step(x, y))
        times.append(time.perf_counter() - start)
    out.write_text(json.dumps({
        "name": name, "step_times": times, "losses": losses, "rss_before_kb": before_kb,
        "peak_kb": torch.cuda.max_memory_allocated() // 1024 if cuda else memory_kb("VmHWM"), "peak_reset": peak_reset,
    }))


def run_validation(name: str, steps: int, data: Path, out: Path, device: str = "cpu") -> None:
    """Child process: train `steps` steps on real text from the same weights, then validate."""
    c = LESSON
    arrays = np.load(data)
    train, valid, vocab_size = arrays["train"], arrays["valid"], int(arrays["vocab_size"])
    step, model, loader = build(name, train, vocab_size, device)
    batches = iter(loader)
    losses = [step(x, y) for x, y in (next(batches) for _ in range(steps))]
    learn = Learner(model, None, LanguageModelLoader(valid, c["B"], c["T"], seed=1),
                    mixed_precision="bf16" in name, progress=False, device=device)
    out.write_text(json.dumps({"name": name, "train_losses": losses, **learn.validate()}))


def child(args: list[str], timeout: float = 1200, device: str = "cpu") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, *args, "--device", device, "--out", str(out)], check=True,
                       timeout=timeout)
        return json.loads(out.read_text())


def real_text(quick: bool) -> Path:
    """Token ids of general_en with the lesson's vocabulary rules (60k, count > 2), cached as .npz."""
    from ulmlite.text import PlainTextCorpus, Tokenizer, Vocab

    cache = Path(tempfile.gettempdir()) / f"ulmlite-bench-lm-step-{'quick' if quick else 'full'}.npz"
    if cache.exists():
        return cache
    tokenizer = Tokenizer(progress=False)
    docs = list(PlainTextCorpus(DATA / "train.txt"))
    if quick:
        docs = docs[: len(docs) // 4]
    train = tokenizer.corpus(docs)
    valid = tokenizer.corpus(list(PlainTextCorpus(DATA / "valid.txt")))
    vocab = Vocab.from_corpus(train, max_vocab=60000, min_freq=2)
    np.savez(cache, train=vocab.numericalize_corpus(train).ids, valid=vocab.numericalize_corpus(valid).ids[:60000],
             vocab_size=len(vocab))
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and configurations (a few minutes)")
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--validate", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    cuda = torch.device(args.device).type == "cuda"
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    if args.config:
        return run_config(args.config, args.steps, Path(args.out), args.device)
    if args.validate:
        return run_validation(args.validate, args.steps, Path(args.data), Path(args.out), args.device)

    steps = 2 if args.quick else 4
    # bfloat16 rows only where this CPU computes bf16 natively (the decision training uses): where it is
    # emulated a lesson-size bf16 step would take minutes and say nothing about training.
    precision = hardware.choose_precision("bf16" if cuda else "auto")  # every CUDA GPU we build for has bf16
    print(precision.training_line(), flush=True)
    names = ["reference fp32", "ulmlite fp32"] + (["reference bf16", "ulmlite bf16"] if precision.bf16 else [])
    if not args.quick:
        names += ["ulmlite fp32, nn.LSTM layers", "ulmlite fp32, F.cross_entropy", "ulmlite fp32, fused Adam"]
        names += ["ulmlite bf16, F.cross_entropy"] if precision.bf16 else []
    limits = {"fp32_mm_gflops": gemm_gflops(4096, 1024, 4096, repeats=3, device=args.device),
              "fp32_onednn_gflops": 0.0 if cuda else onednn_fp32_gflops(4096, 1024, 4096)}
    limits["bf16_mm_gflops"] = (gemm_gflops(4096, 1024, 4096, dtype=torch.bfloat16, repeats=3, device=args.device)
                                if precision.bf16 else gemm_gflops(256, 256, 256, dtype=torch.bfloat16, repeats=1))
    gemm_rate = max(limits["fp32_mm_gflops"], limits["fp32_onednn_gflops"])
    print(f"GEMM rates: torch.mm fp32 {limits['fp32_mm_gflops']:.0f}, oneDNN fp32 {limits['fp32_onednn_gflops']:.0f},"
          f" bf16 {limits['bf16_mm_gflops']:.0f} GFLOP/s", flush=True)

    c, flops = LESSON, model_flops(LESSON)
    tokens = c["T"] * c["B"]
    rows = []
    for name in names:
        r = child(["--config", name, "--steps", str(steps)], device=args.device)
        seconds = float(np.median(r["step_times"]))
        rows.append({"config": name, "step_s": seconds, "tokens_per_s": tokens / seconds,
                     "GFLOPs": flops / seconds / 1e9, "of_gemm_peak": flops / seconds / 1e9 / gemm_rate,
                     "step_peak_MB": (r["peak_kb"] - r["rss_before_kb"]) / 1024, "process_peak_MB": r["peak_kb"] / 1024,
                     "first_loss": r["losses"][0]})
        print(f"{name}: {seconds:.2f} s/step, step peak {rows[-1]['step_peak_MB']:.0f} MB", flush=True)
    ref = next(r for r in rows if r["config"] == "reference fp32")
    for r in rows:
        r["speedup_vs_reference_fp32"] = ref["step_s"] / r["step_s"]
        r["step_memory_vs_reference_fp32"] = r["step_peak_MB"] / ref["step_peak_MB"]
    print_table(rows, ["config", "step_s", "tokens_per_s", "GFLOPs", "of_gemm_peak", "speedup_vs_reference_fp32",
                       "step_peak_MB", "process_peak_MB", "step_memory_vs_reference_fp32"])

    val_steps = 8 if args.quick else 30
    data = real_text(args.quick)
    validation = {name: child(["--validate", name, "--steps", str(val_steps), "--data", str(data)], device=args.device)
                  for name in ("ulmlite fp32", "ulmlite bf16")[: 2 if precision.bf16 else 1]}
    by = {r["config"]: r for r in rows}
    bars = {
        "lm_step_speedup_fp32": bar(by["ulmlite fp32"]["speedup_vs_reference_fp32"], 2.5),
        "lm_step_speedup_fp32_portable": bar(by["ulmlite fp32"]["speedup_vs_reference_fp32"], 1.2),
        "peak_memory_ratio": bar(by["ulmlite fp32"]["step_memory_vs_reference_fp32"], 0.4, higher_is_better=False),
        "gemm_peak_fraction_fp32": bar(by["ulmlite fp32"]["of_gemm_peak"], 0.8),
    }
    if precision.bf16:
        fp32_loss, bf16_loss = (validation[n]["valid_loss"] for n in ("ulmlite fp32", "ulmlite bf16"))
        rel_diff = abs(bf16_loss - fp32_loss) / fp32_loss
        print(f"validation loss after {val_steps} steps on general_en (vocab {int(np.load(data)['vocab_size'])}): "
              f"fp32 {fp32_loss:.4f}, bf16 {bf16_loss:.4f}, relative difference {rel_diff:.2%} "
              f"(train loss {validation['ulmlite fp32']['train_losses'][0]:.2f} -> "
              f"{validation['ulmlite fp32']['train_losses'][-1]:.2f})")
        bars["lm_step_speedup_bf16"] = bar(by["ulmlite bf16"]["speedup_vs_reference_fp32"], 4.0)
        bars["bf16_val_loss_rel_diff"] = bar(rel_diff, 0.01, higher_is_better=False)
    # What the hardware allows: every GEMM at the measured rate and nothing else costing time.
    bound = {"fp32_step_s": flops / gemm_rate / 1e9, "bf16_step_s": flops / limits["bf16_mm_gflops"] / 1e9}
    bound["max_speedup_fp32"] = ref["step_s"] / bound["fp32_step_s"]
    bound["max_speedup_bf16"] = ref["step_s"] / bound["bf16_step_s"]
    print(f"bound: all GEMMs at the measured rates: fp32 {bound['fp32_step_s']:.2f} s/step "
          f"(at most {bound['max_speedup_fp32']:.2f}x the reference), bf16 {bound['bf16_step_s']:.2f} s/step "
          f"(at most {bound['max_speedup_bf16']:.2f}x)")
    for name, b in bars.items():
        print(f"bar {name}: {b['value']:.3f} (target {b['target']}) {'holds' if b['holds'] else 'does not hold'}")
    for r in rows:  # what each row ran on
        r["precision"] = "bf16" if "bf16" in r["config"] else "fp32"
        r["gemm_path"] = ("cuda" if cuda else hardware.gemm_path()) if r["config"].startswith("ulmlite") else "torch"
    write_results(__file__, rows, bars, extra={"quick": args.quick, "limits": limits, "gemm_rate_used": gemm_rate,
                                               "model_flops_per_step": flops, "bound": bound,
                                               "validation": validation, "validation_steps": val_steps,
                                               "threads": torch.get_num_threads(),
                                               "device": args.device}, suffix=".cuda" if cuda else "")


if __name__ == "__main__":
    main()
