"""A cost model of one AWD-LSTM training step (forward + backward, N = bptt·bs tokens): seconds
per component from GEMM rates and memory bandwidth, with the lesson's sizes and the projections
built on it. Pure arithmetic: bench_investigation.py measures the rates and checks the model.

  decoder      6·N·E·V FLOPs at the GEMM rate measured at shape (N, E, V)
  softmax/CE   ~6 passes over the N×V logits (read/write, forward + backward) at memory bandwidth
  LSTM layer   batched: 6·N·4H·I + 2·N·4H·H FLOPs (input projection, dX, dW) at the rate for (N, I, 4H)
               serial:  4·N·4H·H FLOPs (h·Rᵀ forward, dG·R backward) at the rate for (bs, H, 4H)
               pointwise: ~24 float passes over N·H at memory bandwidth
  the rest     embedding, dropouts, AR/TAR: ~12 passes over N·(E + ΣH) floats at bandwidth
  optimizer    Adam: ~10 float passes over the P parameters at bandwidth

A configuration is a dict: name, V (vocabulary), E (embedding), H (hidden), L (layers), T (bptt),
B (batch). Rates are FLOP/s keyed as gemm_shapes() names them; bandwidth is bytes/s.
"""

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
SAMPLED_CANDIDATES = 8192


def tokens_per_step(c) -> int:
    return c["T"] * c["B"]


def layer_sizes(c) -> list[tuple[int, int]]:
    """(input size, hidden size) of each LSTM layer; the last one's output is the embedding size."""
    sizes = [c["E"]] + [c["H"]] * (c["L"] - 1) + [c["E"]]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def gemm_shapes(c) -> dict:
    """The (m, k, n) GEMM shapes whose rates the model needs, keyed as step_cost reads them:
    ("dec", name) the decoder, ("big", name, k) layer k's batched GEMMs, ("step", name, k) its serial ones."""
    n = tokens_per_step(c)
    shapes = {("dec", c["name"]): (n, c["E"], c["V"])}
    for k, (i, h) in enumerate(layer_sizes(c)):
        shapes[("big", c["name"], k)] = (n, i, 4 * h)
        shapes[("step", c["name"], k)] = (c["B"], h, 4 * h)
    return shapes


def parameter_count(c) -> int:
    """The tied embedding/decoder and the LSTM layers (weights and both biases)."""
    return c["V"] * c["E"] + sum(4 * h * (i + h + 2) for i, h in layer_sizes(c))


def step_flops(c) -> int:
    """GEMM FLOPs of one step, forward + backward: the decoder and the LSTM layers."""
    n = tokens_per_step(c)
    return 6 * n * c["E"] * c["V"] + sum(6 * n * 4 * h * (i + h) for i, h in layer_sizes(c))


def step_cost(c, rates: dict, bw: float) -> dict:
    """{"seconds": {component: s, ..., "total": s}, "flops_per_step", "params"} of one step."""
    n = tokens_per_step(c)
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
    params = parameter_count(c)
    parts["optimizer"] = 10 * params * 4 / bw
    parts["total"] = sum(parts.values())
    return {"seconds": parts, "flops_per_step": step_flops(c), "params": params}


def shares(seconds: dict) -> dict:
    """Each component's fraction of the step's total."""
    return {k: v / seconds["total"] for k, v in seconds.items() if k != "total"}


# --- levers: the step's seconds with one thing changed --------------------------------------------


def bf16_seconds(seconds: dict, fp32_rate: float, bf16_rate: float) -> float:
    """Every GEMM at the bfloat16 rate (the rates' ratio, measured on one large GEMM)."""
    gemm = seconds["decoder"] + seconds["lstm_batched"] + seconds["lstm_serial"]
    return seconds["total"] - gemm + gemm * fp32_rate / bf16_rate


def sampled_softmax_seconds(seconds: dict, vocab: int, candidates: int = SAMPLED_CANDIDATES) -> float:
    """The decoder and the softmax over `candidates` words instead of the vocabulary."""
    return seconds["total"] - seconds["decoder"] - seconds["softmax_ce"] + (
        seconds["decoder"] + seconds["softmax_ce"]) * candidates / vocab


def qrnn_seconds(c, seconds: dict, rates: dict) -> float:
    """A QRNN-style recurrence: no serial GEMM; its gate GEMMs (3 gates over a window of 2 inputs)
    are batched, about 6·N·3H·2I FLOPs per layer at the big-GEMM rate."""
    n = tokens_per_step(c)
    qrnn_lstm = sum(6 * n * 3 * h * 2 * i / rates[("big", c["name"], k)] for k, (i, h) in enumerate(layer_sizes(c)))
    return seconds["total"] - seconds["lstm_batched"] - seconds["lstm_serial"] + qrnn_lstm


# --- the lesson's epoch ---------------------------------------------------------------------------


def epoch_steps(c, epoch_tokens: int = EPOCH_TOKENS) -> float:
    return epoch_tokens / tokens_per_step(c)


def epoch_minutes_at_peak(c, peaks: dict = GPUS, epoch_tokens: int = EPOCH_TOKENS) -> dict:
    """Minutes per epoch on each device running the step's GEMM FLOPs at its datasheet peak."""
    steps = epoch_steps(c, epoch_tokens)
    return {f"{gpu} at datasheet peak": steps * step_flops(c) / peak / 60 for gpu, peak in peaks.items()}


def tokenize_share(tokens_per_s: float, c, step_seconds: float, epoch_tokens: int = EPOCH_TOKENS) -> float:
    """The fraction of a first epoch spent tokenizing its text at `tokens_per_s`."""
    tokenizing = epoch_tokens / tokens_per_s
    return tokenizing / (tokenizing + epoch_steps(c, epoch_tokens) * step_seconds)
