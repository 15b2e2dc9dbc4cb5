"""A trained model's folder: a ulmlite checkpoint whose checkpoint.json also carries the model's
kind, its AWDLSTMConfig, its vocabulary and (for a classifier) its classes, so that every command
can rebuild the model from the folder alone."""

import hashlib
from dataclasses import asdict, replace
from pathlib import Path

from ulmlite.nn import AWDLSTMConfig, LanguageModel, TextClassifier
from ulmlite.text import Vocab
from ulmlite.train.checkpoint import load_checkpoint, read_info, save_checkpoint

__all__ = ["language_model", "load_model_dir", "read_info", "save_model_dir", "vocab_sha256"]


def vocab_sha256(vocab: Vocab) -> str:
    return hashlib.sha256("\n".join(vocab.itos).encode()).hexdigest()


def save_model_dir(folder, model, vocab: Vocab, kind: str, classes: list[str] | None = None, **info) -> Path:
    return save_checkpoint(folder, model, kind=kind, config=asdict(model.config), vocab=vocab.itos,
                           vocab_sha256=vocab_sha256(vocab), classes=classes, **info)


KINDS = {"lm": "language model", "classifier": "classifier"}


def load_model_dir(folder, backend: str | None = None, kind: str | None = None):
    """(model, vocab, meta) from a folder written by save_model_dir, in eval mode; with `kind`
    ("lm" or "classifier"), a folder holding the other kind is refused before its weights load."""
    if not (Path(folder) / "checkpoint.json").exists():
        raise ValueError(f"{folder} is not a ulmlite model folder (no checkpoint.json)")
    meta = read_info(folder)
    try:
        found, config = meta["kind"], AWDLSTMConfig(**meta["config"])
        vocab = Vocab(meta["vocab"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{folder}/checkpoint.json is not a ulmlite model description: {err}") from None
    if kind is not None and found != kind:
        raise ValueError(f"{folder} is a {found}, not a {KINDS[kind]}")
    if vocab_sha256(vocab) != meta.get("vocab_sha256"):
        raise ValueError(f"{folder}: the vocabulary does not match its recorded hash")
    if backend:
        config = replace(config, backend=backend)
    model: LanguageModel | TextClassifier
    if found == "lm":
        model = LanguageModel(config)
    elif found == "classifier":
        model = TextClassifier(config, len(meta["classes"]), **meta.get("classifier", {}))
    else:
        raise ValueError(f"{folder}: unknown model kind {found!r}")
    load_checkpoint(folder, model)
    return model.eval(), vocab, meta


def language_model(source) -> tuple[LanguageModel, Vocab]:
    """(model, vocab) of a language model given as a folder or as an already loaded (model, vocab)."""
    if isinstance(source, tuple):
        return source
    model, vocab, _ = load_model_dir(source, kind="lm")
    return model, vocab
