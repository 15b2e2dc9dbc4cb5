"""Moving weights between vocabularies and from fastai's formats.

- `map_vocab`: ULMFiT's vocabulary mapping (lesson 10): a word of the new vocabulary keeps its
  pretrained embedding row; a word the pretrained model never saw gets the mean row. The
  embedding, its dropout wrapper and the tied decoder share one matrix, so all three take it.
- `vectors_for_vocab`: an embedding matrix started from word vectors (GloVe): each token takes the
  vector of its lowercase form; special tokens and words without a vector get random rows at the
  vectors' scale; the pad row is zero.
- `convert_fastai`: fastai v0.7 (`fwd_wt103.h5` + `itos_wt103.pkl`) and fastai v1 (`.pth` + itos)
  language models into ulmlite's LanguageModel. Weights are read with `torch.load(weights_only=True)`
  (PyTorch's restricted unpickler: tensors and plain containers only), the itos with ulmlite's
  list-of-str unpickler.
"""

import re
from pathlib import Path

import torch

from ulmlite._util import first_line
from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.text import Vocab
from ulmlite.text.vocab import load_pickled_strings

# fastai v1's special tokens and their names in the lesson's (v0.7, ulmlite) vocabulary.
FASTAI_V1_SPECIALS = {"xxunk": "_unk_", "xxpad": "_pad_", "xxbos": "xbos", "xxfld": "xfld", "xxup": "t_up",
                      "xxrep": "tk_rep", "xxwrep": "tk_wrep"}


def map_vocab(embedding: torch.Tensor, old: Vocab, new: Vocab) -> torch.Tensor:
    """Rows of `embedding` (indexed by `old`) rearranged for `new`; unseen words get the mean row."""
    mean = embedding.mean(0)
    rows = torch.empty(len(new), embedding.shape[1], dtype=embedding.dtype)
    for i, word in enumerate(new.itos):
        j = old.stoi.get(word)
        rows[i] = embedding[j] if j is not None else mean
    return rows


def vectors_for_vocab(vocab: Vocab, words: list[str], vectors: torch.Tensor, emb_size: int | None = None,
                      std: float | None = None, seed: int = 0) -> tuple[torch.Tensor, float]:
    """(rows (len(vocab), emb_size), the fraction of the vocabulary found). A token takes the vector
    of its lowercase form; the others (special tokens, misses) get N(0, s^2) rows, s the vectors'
    own standard deviation. When `emb_size` differs from the vectors' size, every row goes through
    one fixed random projection (Gaussian, scaled by 1/sqrt(emb_size), so the rows' norms stay
    about the same). `std` rescales the result to that standard deviation (None: the vectors')."""
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"vectors must be (len(words), dim), got {tuple(vectors.shape)} for {len(words)} words")
    index: dict[str, int] = {}
    for j, word in enumerate(words):
        index.setdefault(word, j)
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randn(len(vocab), vectors.shape[1], generator=generator) * vectors.std()
    hits = [(i, index[w.lower()]) for i, w in enumerate(vocab.itos) if w.lower() in index and i >= 2]
    if hits:
        mine, theirs = (torch.tensor(x) for x in zip(*hits, strict=True))
        rows[mine] = vectors[theirs]
    emb_size = emb_size or vectors.shape[1]
    if emb_size != vectors.shape[1]:
        projection = torch.randn(vectors.shape[1], emb_size, generator=generator) / emb_size**0.5
        rows = rows @ projection
    if std is not None:
        others = torch.ones(len(vocab), dtype=torch.bool)
        others[vocab.pad_id] = False
        rows = rows * (std / rows[others].std())
    rows[vocab.pad_id] = 0
    return rows, len(hits) / max(len(vocab) - 2, 1)


def load_state_dict_file(path: str | Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated file, another format, or a pickle with code in it
        raise ValueError(f"{path}: not a readable PyTorch state dict ({first_line(err)})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # fastai v1 saves {'model': ..., 'opt': ...}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors")
    return state


def convert_fastai_state(state: dict) -> tuple[dict, AWDLSTMConfig]:
    """fastai v0.7 / v1 AWD-LSTM language-model keys -> ulmlite LanguageModel keys, and the sizes."""
    if "0.encoder.weight" not in state:
        raise ValueError("not a fastai AWD-LSTM language model: no '0.encoder.weight'")
    embedding = state["0.encoder.weight"]
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"0\.rnns\.(\d+)\.", k))})
    if not layers:
        raise ValueError("not a fastai AWD-LSTM language model: no '0.rnns.*' weights")
    out = {"encoder.embedding.weight": embedding}
    for k in layers:
        prefix = f"0.rnns.{k}."
        raw = state.get(prefix + "module.weight_hh_l0_raw", state.get(prefix + "weight_hh_l0_raw"))
        if raw is None:
            raw = state.get(prefix + "module.weight_hh_l0")
        names = {"weight_ih_l0": state.get(prefix + "module.weight_ih_l0"), "weight_hh_l0": raw,
                 "bias_ih_l0": state.get(prefix + "module.bias_ih_l0"),
                 "bias_hh_l0": state.get(prefix + "module.bias_hh_l0")}
        for name, tensor in names.items():
            if tensor is None:
                raise ValueError(f"not a fastai AWD-LSTM language model: layer {k} has no {name}")
            out[f"encoder.rnns.{k}.module.{name}"] = tensor
    has_bias = "1.decoder.bias" in state
    if has_bias:
        out["decoder.decoder.bias"] = state["1.decoder.bias"]
    hidden = out["encoder.rnns.0.module.weight_hh_l0"].shape[1]
    config = AWDLSTMConfig(vocab_size=embedding.shape[0], emb_size=embedding.shape[1], hidden_size=hidden,
                           n_layers=len(layers), decoder_bias=has_bias)
    return out, config


def convert_fastai(weights: str | Path, itos: str | Path) -> tuple[LanguageModel, Vocab]:
    """A fastai language model (v0.7 .h5 or v1 .pth state dict) and its itos.pkl -> (model, vocab)."""
    state, config = convert_fastai_state(load_state_dict_file(weights))
    words = load_pickled_strings(Path(itos).read_bytes())
    vocab = Vocab([FASTAI_V1_SPECIALS.get(w, w) for w in words])
    if len(vocab) != config.vocab_size:
        raise ValueError(f"{itos} has {len(vocab)} words but the weights have {config.vocab_size} rows")
    model = LanguageModel(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = ("decoder.decoder.weight", "encoder.embedding_dp.embedding.weight")  # the embedding under other names
    missing = [m for m in missing if m not in tied]
    if missing or unexpected:
        raise ValueError(f"weights do not fit an AWD-LSTM: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model, vocab
