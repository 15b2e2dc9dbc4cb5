"""AWD-LSTM (Merity, Keskar & Socher 2017) and ULMFiT's language model on it (Howard & Ruder 2018),
its decoder tied to the embedding; the classifier is in classifier.py. Defaults are those of
fast.ai's 2018 lesson 10 (the numbers' origins are noted).
"""

from dataclasses import dataclass, replace
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ulmlite.nn.dropout import EmbeddingDropout, LockedDropout, WeightDrop
from ulmlite.nn.fused_loss import fused_loss_available, linear_cross_entropy
from ulmlite.nn.lstm import LSTM


@dataclass(frozen=True)
class AWDLSTMConfig:
    vocab_size: int = 60002  # lesson 10: max_vocab 60000 + _unk_ and _pad_
    emb_size: int = 400  # lesson 10 `em_sz`, as WT103's pretrained weights
    hidden_size: int = 1150  # lesson 10 `nh`; the last layer's size is emb_size so the decoder can be tied
    n_layers: int = 3  # lesson 10 `nl`
    pad_id: int = 1  # `_pad_` = 1 in the vocabulary
    # Language-model dropouts: lesson 10's `drops = [0.25, 0.1, 0.2, 0.02, 0.15] * 0.7`.
    dropouti: float = 0.25 * 0.7  # LockedDropout on the embedding output (drops[0])
    dropout: float = 0.1 * 0.7  # LockedDropout on the last layer's output, before the decoder (drops[1])
    wdrop: float = 0.2 * 0.7  # DropConnect on each hidden-to-hidden matrix (drops[2])
    dropoute: float = 0.02 * 0.7  # EmbeddingDropout: whole words (drops[3])
    dropouth: float = 0.15 * 0.7  # LockedDropout between LSTM layers (drops[4])
    decoder_bias: bool = False  # fastai v0.7 (the lesson) has none; fastai v1 has one
    backend: str = "auto"  # LSTM backend: "python" | "torch" | "fused" | "auto" (fused when built)
    loss_backend: str = "auto"  # LM decoder + loss: "torch" (F.linear, F.cross_entropy) | "fused" | "auto"

    @classmethod
    def classifier(cls, **overrides) -> "AWDLSTMConfig":
        """Lesson 10's classifier dropouts: `dps = [0.4, 0.5, 0.05, 0.3, 0.4] * 0.5`
        (dropouti=dps[0], wdrop=dps[1], dropoute=dps[2], dropouth=dps[3]; dps[4] is the head's)."""
        base = cls(dropouti=0.4 * 0.5, wdrop=0.5 * 0.5, dropoute=0.05 * 0.5, dropouth=0.3 * 0.5, dropout=0.0)
        return replace(base, **overrides)


def check_token_ids(ids: torch.Tensor, vocab_size: int, who: str) -> None:
    """Token ids must be a (seq_len, batch) integer tensor of ids below vocab_size."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"{who} expects token ids of shape (seq_len, batch), got {shape}")
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{who} expects integer token ids (torch.long), got {ids.dtype}")
    # The values: on the CPU for free; on CUDA reading them would wait for the device twice per call,
    # so there the embedding's own device-side bounds check reports a bad id instead.
    if ids.device.type == "cpu" and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{who}: token ids must be in [0, {vocab_size}), got [{int(ids.min())}, {int(ids.max())}]")


class AWDLSTMEncoder(nn.Module):
    """Embedding -> n LSTM layers with AWD-LSTM's dropouts. The hidden state is carried from one
    batch to the next (detached: truncated BPTT) until `reset()`.

    forward(ids (T, B)) -> (raw_outputs, outputs): per layer, the output before and after its
    LockedDropout (the last layer's is not dropped here; the decoder or the head does that).
    """

    def __init__(self, config: AWDLSTMConfig = AWDLSTMConfig()):
        super().__init__()
        c = self.config = config
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size, padding_idx=c.pad_id)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        with torch.no_grad():  # the pads (which come first in a classifier batch) feed the LSTM nothing
            self.embedding.weight[c.pad_id].zero_()
        self.embedding_dp = EmbeddingDropout(self.embedding, c.dropoute)
        sizes = [c.emb_size] + [c.hidden_size] * (c.n_layers - 1) + [c.emb_size]
        self.rnns = nn.ModuleList(
            WeightDrop(LSTM(sizes[k], sizes[k + 1], backend=c.backend), c.wdrop) for k in range(c.n_layers)
        )
        self.input_dp = LockedDropout(c.dropouti)
        self.hidden_dps = nn.ModuleList(LockedDropout(c.dropouth) for _ in range(c.n_layers))
        self.hidden: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def reset(self) -> None:
        """Forget the carried hidden state (at the start of an epoch or a new document)."""
        self.hidden = None

    def forward(self, ids: torch.Tensor):
        check_token_ids(ids, self.config.vocab_size, type(self).__name__)
        batch = ids.shape[1]
        if self.hidden is None or self.hidden[0][0].shape[1] != batch:
            w = self.embedding.weight
            sizes = [cast(LSTM, rnn.module).hidden_size for rnn in self.rnns]  # each WeightDrop wraps an LSTM
            self.hidden = [(w.new_zeros(1, batch, n), w.new_zeros(1, batch, n)) for n in sizes]
        x = self.input_dp(self.embedding_dp(ids))
        raw_outputs, outputs, new_hidden = [], [], []
        for k, (rnn, hidden_dp) in enumerate(zip(self.rnns, self.hidden_dps, strict=True)):
            x, (h, c) = rnn(x, self.hidden[k])
            new_hidden.append((h.detach(), c.detach()))
            raw_outputs.append(x)
            if k != len(self.rnns) - 1:
                x = hidden_dp(x)
            outputs.append(x)
        self.hidden = new_hidden
        return raw_outputs, outputs


def resolve_loss_backend(backend: str) -> str:
    if backend not in ("torch", "fused", "auto"):
        raise ValueError(f"loss backend must be 'torch', 'fused' or 'auto', got {backend!r}")
    if backend == "auto":
        return "fused" if fused_loss_available() else "torch"
    if not fused_loss_available():
        raise RuntimeError("loss_backend='fused' needs ulmlite._C with the fused cross-entropy: run `make build`")
    return backend


class LinearDecoder(nn.Module):
    """LockedDropout then a linear map to the vocabulary, its weight tied to the embedding
    (Inan et al. 2017; Press & Wolf 2017)."""

    def __init__(self, embedding: nn.Embedding, dropout: float, bias: bool = False):
        super().__init__()
        self.decoder = nn.Linear(embedding.embedding_dim, embedding.num_embeddings, bias=bias)
        self.decoder.weight = embedding.weight  # one Parameter, two uses
        if bias:
            nn.init.zeros_(self.decoder.bias)
        self.output_dp = LockedDropout(dropout)

    def forward(self, last_output: torch.Tensor):
        dropped = self.output_dp(last_output)
        return self.decoder(dropped), dropped


class LanguageModel(nn.Module):
    """AWD-LSTM language model: forward(ids (T, B)) -> (logits (T, B, V), raw_outputs, outputs).
    outputs[-1] is the decoder's (dropped) input, as AR expects."""

    def __init__(self, config: AWDLSTMConfig = AWDLSTMConfig()):
        super().__init__()
        self.config = config
        self.encoder = AWDLSTMEncoder(config)
        self.decoder = LinearDecoder(self.encoder.embedding, config.dropout, bias=config.decoder_bias)
        self.loss_backend = resolve_loss_backend(config.loss_backend)

    def reset(self) -> None:
        self.encoder.reset()

    def forward(self, ids: torch.Tensor):
        raw_outputs, outputs = self.encoder(ids)
        logits, dropped = self.decoder(outputs[-1])
        return logits, raw_outputs, outputs[:-1] + [dropped]

    def forward_loss(self, ids: torch.Tensor, targets: torch.Tensor):
        """The training and validation path: (mean cross-entropy against targets (T, B), the number of
        correct next-token predictions, raw_outputs, outputs). With the fused loss backend the decoder
        and the cross-entropy run as one op in chunks of rows, so the (T*B, V) logits never exist."""
        raw_outputs, outputs = self.encoder(ids)
        dropped = self.decoder.output_dp(outputs[-1])
        linear = self.decoder.decoder
        flat, flat_targets = dropped.reshape(-1, dropped.shape[-1]), targets.reshape(-1).long()
        if self.loss_backend == "fused":
            loss, correct = linear_cross_entropy(flat, linear.weight, linear.bias, flat_targets)
        else:
            logits = linear(flat).float()
            loss, correct = F.cross_entropy(logits, flat_targets), (logits.argmax(-1) == flat_targets).sum()
        return loss, correct, raw_outputs, outputs[:-1] + [dropped]

    def layer_groups(self) -> list[list[nn.Module]]:
        """For discriminative rates and gradual unfreezing: each LSTM layer, then the tied
        embedding + decoder (fastai v0.7's grouping), from the input side to the output side."""
        return [[rnn, dp] for rnn, dp in zip(self.encoder.rnns, self.encoder.hidden_dps, strict=True)] + [
            [self.encoder.embedding, self.decoder]
        ]


def ar_tar_loss(raw_outputs, outputs, alpha: float = 2.0, beta: float = 1.0) -> torch.Tensor:
    """AWD-LSTM's activation regularization (alpha · mean(h²) on the last layer's dropped output)
    and temporal activation regularization (beta · mean((h_t - h_{t-1})²) on its raw output),
    Merity et al. 2017 section 4.6; the lesson's alpha = 2, beta = 1."""
    loss = alpha * outputs[-1].pow(2).mean()
    last = raw_outputs[-1]
    if last.shape[0] > 1:
        loss = loss + beta * (last[1:] - last[:-1]).pow(2).mean()
    return loss


def language_model_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-token logits (T, B, V) against targets (T, B)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
