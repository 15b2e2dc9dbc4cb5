"""ULMFiT's classifier (Howard & Ruder 2018, section 3.3) on the AWD-LSTM encoder: BPT3C over long
documents, masked concat pooling and the pooling head. Defaults are fast.ai's 2018 lesson 10.
"""

import torch
from torch import nn

from ulmlite.nn.awd_lstm import AWDLSTMConfig, AWDLSTMEncoder, check_token_ids


class MultiBatchEncoder(nn.Module):
    """BPT3C (ULMFiT section 3.3): a long document is run through the encoder in chunks of bptt
    tokens, the hidden state carried across chunks, and only the outputs of the last `max_len`
    tokens kept (gradients flow back through those alone)."""

    def __init__(self, encoder: AWDLSTMEncoder, bptt: int = 70, max_len: int = 20 * 70):
        super().__init__()
        if bptt <= 0 or max_len <= 0:
            raise ValueError(f"bptt and max_len must be positive, got bptt={bptt}, max_len={max_len}")
        self.encoder, self.bptt, self.max_len = encoder, bptt, max_len  # lesson: bptt 70, max_len 20·70

    def forward(self, ids: torch.Tensor):
        check_token_ids(ids, self.encoder.config.vocab_size, type(self).__name__)
        self.encoder.reset()
        seq_len = ids.shape[0]
        chunks = []
        for start in range(0, seq_len, self.bptt):
            if start + self.bptt > seq_len - self.max_len:  # this chunk reaches into the last max_len
                chunks.append(self.encoder(ids[start : start + self.bptt]))
            else:
                with torch.no_grad():
                    self.encoder(ids[start : start + self.bptt])
        n_layers = len(chunks[0][0])
        raw = [torch.cat([r[k] for r, _ in chunks])[-self.max_len :] for k in range(n_layers)]
        out = [torch.cat([o[k] for _, o in chunks])[-self.max_len :] for k in range(n_layers)]
        return raw, out


def masked_concat_pool(output: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
    """Concat pooling (ULMFiT section 3.3): [last, max, mean] over the non-pad steps of each
    column. output (T, B, E), pad_mask (T, B) True at padding -> (B, 3E)."""
    keep = (~pad_mask).unsqueeze(-1)
    lengths = keep.sum(0).clamp(min=1)
    steps = torch.arange(output.shape[0], device=output.device).unsqueeze(1)
    last_step = torch.where(~pad_mask, steps, -1).max(0).values.clamp(min=0)
    last = output[last_step, torch.arange(output.shape[1], device=output.device)]
    max_pool = output.masked_fill(~keep, float("-inf")).max(0).values
    max_pool = torch.where(keep.any(0), max_pool, torch.zeros_like(max_pool))
    mean_pool = (output * keep).sum(0) / lengths
    return torch.cat([last, max_pool, mean_pool], dim=1)


class PoolingLinearClassifier(nn.Module):
    """Concat pooling, then blocks of BatchNorm -> Dropout -> Linear (ReLU between blocks).
    layers [3·emb, 50, n_classes] and drops [dps[4], 0.1] = [0.2, 0.1] as in lesson 10."""

    def __init__(self, layers: list[int], drops: list[float]):
        super().__init__()
        if len(drops) != len(layers) - 1:
            raise ValueError(f"need one dropout per linear block: {len(layers) - 1} for layers {layers}, got {drops}")
        blocks = []
        for k, (n_in, n_out, p) in enumerate(zip(layers[:-1], layers[1:], drops, strict=True)):
            block = [nn.BatchNorm1d(n_in), nn.Dropout(p), nn.Linear(n_in, n_out)]
            if k < len(drops) - 1:
                block.append(nn.ReLU(inplace=True))
            blocks += block
        self.layers = nn.Sequential(*blocks)

    def forward(self, last_output: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        return self.layers(masked_concat_pool(last_output, pad_mask))


class TextClassifier(nn.Module):
    """ULMFiT's classifier: the BPT3C encoder and the concat-pooling head.
    forward(ids (T, B)) -> (logits (B, n_classes), raw_outputs, outputs)."""

    def __init__(self, config: AWDLSTMConfig, n_classes: int, bptt: int = 70, max_len: int = 20 * 70,
                 head_hidden: int = 50, head_drops: tuple[float, float] = (0.4 * 0.5, 0.1)):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
        self.config, self.head_drops = config, tuple(head_drops)
        self.encoder = MultiBatchEncoder(AWDLSTMEncoder(config), bptt, max_len)
        self.head = PoolingLinearClassifier([3 * config.emb_size, head_hidden, n_classes], list(head_drops))

    def forward(self, ids: torch.Tensor):
        raw_outputs, outputs = self.encoder(ids)
        pad_mask = ids[-outputs[-1].shape[0] :] == self.config.pad_id
        return self.head(outputs[-1], pad_mask), raw_outputs, outputs

    def layer_groups(self) -> list[list[nn.Module]]:
        """Embedding, each LSTM layer, the head (fastai v0.7's grouping for the classifier)."""
        enc = self.encoder.encoder
        return [[enc.embedding, enc.input_dp]] + [
            [rnn, dp] for rnn, dp in zip(enc.rnns, enc.hidden_dps, strict=True)
        ] + [[self.head]]
