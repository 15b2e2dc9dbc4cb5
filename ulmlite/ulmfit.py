"""The ULMFiT recipe (Howard & Ruder 2018; fast.ai 2018 lesson 10), step by step:

1. pretrain      a language model on a general corpus (the paper: WikiText-103);
2. finetune_lm   it on the target domain's text: vocabulary mapping, the last layer group first,
                 then all, with one rate for every group (the lesson's) and slanted triangular rates;
3. train_classifier  on the labels: the fine-tuned encoder + a concat-pooling head, gradual
                 unfreezing (last group, last two, all), discriminative rates, STLR;
plus predict / evaluate, with a forward + backward ensemble.

Each step takes what the one before gave (a model folder, or the (model, vocab) it returned) and
writes its model folder (ulmlite.model_folder). `lm_streams` turns token corpora into the language
model's id streams, the same way for every caller.
"""

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ulmlite.data import ClassifierLoader, LanguageModelLoader
from ulmlite.hardware import PrecisionChoice, choose_precision
from ulmlite.model_folder import language_model, load_model_dir, save_model_dir, vocab_sha256  # noqa: F401
from ulmlite.nn import AWDLSTMConfig, LanguageModel, TextClassifier
from ulmlite.pretrained import map_vocab
from ulmlite.text import NumericCorpus, Vocab
from ulmlite.train import Learner

# --- data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Sizes and rates. Defaults: the lesson's (ULMFiT on IMDB with WT103 weights). `small()` is
    the CPU-sized variant the demo uses."""

    config: AWDLSTMConfig = AWDLSTMConfig()
    max_vocab: int = 60000  # lesson: 60k most frequent
    min_freq: int = 2  # lesson: counts > 2
    bptt: int = 70  # lesson
    lm_bs: int = 52  # lesson: bs = 52
    pretrain_epochs: int = 1
    pretrain_lr: float = 3e-3
    lm_lr: float = 1e-3  # lesson: lr = 1e-3, lrs = lr (the LM uses one rate for all groups)
    lm_last_epochs: int = 1  # lesson: freeze_to(-1), 1 epoch at lr/2, use_clr=(32, 2)
    lm_epochs: int = 15  # lesson: cycle_len=15, use_clr=(20, 10)
    clf_bs: int = 48  # lesson: bs = 48 (its notebook's classifier loaders take bs // 2)
    clf_lr: float = 3e-3  # lesson: lr = 3e-3, lrm = 2.6 (a later cell sets the five rates by hand)
    clf_epochs: int = 14  # lesson: the last stage, cycle_len=14, use_clr=(32, 10)
    clf_discriminative: bool = True  # lesson: lrs = lr / 2.6 per layer group downwards
    clf_keep_best: bool = False  # lesson: the last epoch; True: the last stage's best epoch by valid accuracy
    clip: float = 0.25  # gradient-norm clipping of the language models (awd-lstm-lm's; the lesson's LM sets none)
    clf_clip: float = 25.0  # lesson: learn.clip = 25. for the classifier
    keep_known_words: bool = False  # fine-tuning vocabulary: also the words pretraining knows seen only once or twice
    wd: float = 1e-7  # lesson: wd = 1e-7 for the language model (its classifier cell uses 0)
    precision: str = "auto"  # auto: bfloat16 autocast where this CPU computes bf16 natively (ulmlite.hardware)
    pretrain_drop_mult: float = 1.0  # every dropout of the pretraining LM scaled by this (fastai v1's drop_mult)
    lm_drop_mult: float = 1.0
    clf_drop_mult: float = 1.0

    @classmethod
    def small(cls) -> "Recipe":
        """Minutes on 2 CPU cores instead of the paper's days on a GPU: a narrower model, a smaller
        vocabulary, one pass of pretraining at a higher rate, one classifier rate for every group and
        the best epoch kept. Why each differs, with the runs that chose it: docs/ulmfit.md."""
        config = AWDLSTMConfig(emb_size=128, hidden_size=384, n_layers=3)
        return cls(config=config, max_vocab=15000, lm_bs=64, pretrain_epochs=1, pretrain_lr=7e-3, lm_lr=1e-2,
                   lm_epochs=3, clf_bs=64, clf_lr=5e-3, clf_epochs=5, clf_discriminative=False, clf_keep_best=True,
                   pretrain_drop_mult=0.2, lm_drop_mult=0.5, clf_drop_mult=1.0, precision="auto", clf_clip=0.25)


def training_precision(recipe: Recipe) -> PrecisionChoice:
    """The precision the recipe trains in on this CPU, and why (decided once per process)."""
    return choose_precision(recipe.precision)


def scale_dropouts(config: AWDLSTMConfig, mult: float) -> AWDLSTMConfig:
    return replace(config, dropouti=config.dropouti * mult, dropout=config.dropout * mult, wdrop=config.wdrop * mult,
                   dropoute=config.dropoute * mult, dropouth=config.dropouth * mult)


VALID_FRACTION = 0.05  # a language model's validation text: the last 5% of its stream, unless given


def lm_streams(tokens, recipe: Recipe, valid=None, max_tokens: int | None = None, vocab: Vocab | None = None,
               known=None) -> tuple[np.ndarray, np.ndarray, Vocab]:
    """(train_ids, valid_ids, vocab) of a language model from token corpora: the vocabulary from
    `tokens` (the recipe's max_vocab and min_freq; `known` words kept however rare) unless given,
    at most `max_tokens` of training text, validated on `valid` or else the stream's last 5%."""
    if vocab is None:
        vocab = Vocab.from_corpus(tokens, recipe.max_vocab, recipe.min_freq, known=known)
    ids = language_model_ids(tokens, vocab)[:max_tokens]
    if valid is not None:
        return ids, language_model_ids(valid, vocab), vocab
    return (*split_stream(ids), vocab)


def split_stream(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid): a stream's first 95% and its last 5% (VALID_FRACTION)."""
    cut = int(len(ids) * (1 - VALID_FRACTION))
    return ids[:cut], ids[cut:]


def language_model_ids(corpus_tokens, vocab: Vocab) -> np.ndarray:
    """The flat id stream for a language model (the loader reverses it for a backward model)."""
    return np.asarray(vocab.numericalize_corpus(corpus_tokens).ids)


def unigram_perplexity(train_ids, valid_ids, vocab_size: int) -> float:
    """The perplexity of word frequencies alone (train counts, add-one smoothed) on valid_ids: what a
    language model scores when it has learned nothing about context. A diverged run ends near it."""
    train_ids, valid_ids = np.asarray(train_ids, dtype=np.int64), np.asarray(valid_ids, dtype=np.int64)
    if valid_ids.size == 0:
        raise ValueError("unigram_perplexity needs at least one validation token")
    for name, ids in (("train", train_ids), ("valid", valid_ids)):
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"{name} ids must lie in [0, {vocab_size}), got {ids.min()}..{ids.max()}")
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_p = np.log(counts) - np.log(counts.sum())
    return float(np.exp(-log_p[valid_ids].mean()))


def classifier_corpus(tokens, vocab: Vocab, labels, backwards: bool = False) -> NumericCorpus:
    numbers = vocab.numericalize_corpus(tokens, labels)
    return reverse_documents(numbers) if backwards else numbers


def reverse_documents(numbers: NumericCorpus) -> NumericCorpus:
    """Each document reversed on its own, the documents kept in their order: what a backward model reads."""
    ids = np.concatenate([numbers.doc(k)[::-1] for k in range(len(numbers))]) if len(numbers) else numbers.ids
    return NumericCorpus(ids.astype(np.int32), numbers.offsets, numbers.labels)


# --- the three steps ----------------------------------------------------------------------------
# Each stage of a step checkpoints into out/training/stage-N after every epoch, so running the same
# command again after a crash or a kill resumes where it stopped (a finished stage is reloaded, not
# retrained). The checkpoints record the config and the vocabulary's hash and are never resumed into
# another model. When the step finishes, its model folder replaces `out`, out/training included.


def _identity(vocab: Vocab, backwards: bool, seed: int) -> dict:
    return {"vocab_sha256": vocab_sha256(vocab), "backwards": backwards, "seed": seed}


def _stage_dir(out, stage: int) -> str:
    return str(Path(out) / "training" / f"stage-{stage}")


def _finish(out, learn: Learner, vocab: Vocab, kind: str, **info) -> list[dict]:
    save_model_dir(out, learn.model, vocab, kind, history=learn.history, **info)  # replaces out/training too
    return learn.history


def zero_pad_row(model) -> None:
    """Keep the pad token's embedding row zero: pads come first in a classifier batch and must feed
    the LSTM nothing (a language model's tied decoder may have moved it)."""
    embedding = model.encoder.embedding if isinstance(model, LanguageModel) else model.encoder.encoder.embedding
    with torch.no_grad():
        embedding.weight[model.config.pad_id].zero_()


def pretrain(train_ids, valid_ids, vocab: Vocab, recipe: Recipe, out, backwards=False, seed=0, progress=True,
             init_embeddings: torch.Tensor | None = None):
    """`init_embeddings`: rows (len(vocab), emb_size) to start the embedding (and so the tied decoder)
    from, e.g. pretrained.vectors_for_vocab's GloVe rows; by default uniform(-0.1, 0.1)."""
    torch.manual_seed(seed)
    model = LanguageModel(scale_dropouts(replace(recipe.config, vocab_size=len(vocab)), recipe.pretrain_drop_mult))
    if init_embeddings is not None:
        weight = model.encoder.embedding.weight
        if tuple(init_embeddings.shape) != tuple(weight.shape):
            raise ValueError(f"init_embeddings has shape {tuple(init_embeddings.shape)}, the embedding "
                             f"{tuple(weight.shape)} (vocabulary x emb_size)")
        with torch.no_grad():
            weight.copy_(init_embeddings)
        zero_pad_row(model)
    learn = Learner(model, LanguageModelLoader(train_ids, recipe.lm_bs, recipe.bptt, backwards, seed),
                    LanguageModelLoader(valid_ids, recipe.lm_bs, recipe.bptt, backwards, seed + 1),
                    weight_decay=recipe.wd, mixed_precision=training_precision(recipe).bf16, progress=progress,
                    identity=_identity(vocab, backwards, seed), clip=recipe.clip)
    learn.fit(recipe.pretrain_epochs, [recipe.pretrain_lr] * len(learn.groups), schedule="stlr",
              checkpoint_dir=_stage_dir(out, 1))
    return model, _finish(out, learn, vocab, "lm", backwards=backwards)


def finetune_lm(pretrained, train_ids, valid_ids, vocab: Vocab, recipe: Recipe, out, backwards=False, seed=0,
                progress=True, discriminative: bool = False, schedule: str = "stlr"):
    """`pretrained` is a model folder or a (model, vocab); its embedding is mapped onto `vocab` first.
    The lesson uses one rate for every layer group and slanted triangular rates; the paper's
    ablation (Table 6) also tries `discriminative` rates and a `schedule` of "constant". With no
    epochs at all the mapped model is written untrained (the ablation's "no LM fine-tuning")."""
    old_model, old_vocab = language_model(pretrained)
    torch.manual_seed(seed)
    config = replace(recipe.config, vocab_size=len(vocab), emb_size=old_model.config.emb_size,
                     hidden_size=old_model.config.hidden_size, n_layers=old_model.config.n_layers,
                     decoder_bias=old_model.config.decoder_bias)
    model = LanguageModel(scale_dropouts(config, recipe.lm_drop_mult))
    embedding_keys = ("encoder.embedding.", "encoder.embedding_dp.", "decoder.")
    state = {k: v for k, v in old_model.state_dict().items() if not k.startswith(embedding_keys)}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():  # embedding, its dropout copy and the tied decoder are one matrix
        model.encoder.embedding.weight.copy_(map_vocab(old_model.encoder.embedding.weight, old_vocab, vocab))
        if config.decoder_bias:  # a bias per word (fastai v1's models have one): mapped like the rows
            old_bias = old_model.decoder.decoder.bias[:, None]
            model.decoder.decoder.bias.copy_(map_vocab(old_bias, old_vocab, vocab)[:, 0])
    zero_pad_row(model)
    learn = Learner(model, LanguageModelLoader(train_ids, recipe.lm_bs, recipe.bptt, backwards, seed),
                    LanguageModelLoader(valid_ids, recipe.lm_bs, recipe.bptt, backwards, seed + 1),
                    weight_decay=recipe.wd, mixed_precision=training_precision(recipe).bf16, progress=progress,
                    identity=_identity(vocab, backwards, seed), clip=recipe.clip)
    n = len(learn.groups)
    rates = learn.discriminative_lrs(recipe.lm_lr) if discriminative else [recipe.lm_lr] * n
    # the schedule's keyword arguments in each stage (stlr: the lesson's use_clr=(32, 2), then (20, 10))
    stlr_args = [dict(cut_frac=0.5, ratio=32), dict(cut_frac=0.1, ratio=20)]
    args: list[dict[str, Any]] = stlr_args if schedule == "stlr" else [{}, {}]
    if recipe.lm_last_epochs:
        learn.freeze_to(-1)  # lesson: the new embedding rows first
        learn.fit(recipe.lm_last_epochs, [r / 2 for r in rates], schedule=schedule, checkpoint_dir=_stage_dir(out, 1),
                  **args[0])
    if recipe.lm_epochs:
        learn.unfreeze()
        learn.fit(recipe.lm_epochs, rates, schedule=schedule, checkpoint_dir=_stage_dir(out, 2), **args[1])
    return model, _finish(out, learn, vocab, "lm", backwards=backwards)


def train_classifier(lm, train: NumericCorpus, valid: NumericCorpus, classes: list[str], recipe: Recipe, out,
                     backwards=False, seed=0, progress=True, pretrained_encoder=True, schedule=None,
                     discriminative: bool | None = None):
    """Gradual unfreezing with discriminative rates (`discriminative`, default the recipe's
    `clf_discriminative`) and STLR, the lesson's three stages.

    `schedule` replaces the stages: a list of (trainable, epochs, args), where trainable is n (layer
    groups n and above, as freeze_to) or ("only", n) (that group alone, for chain-thaw), and args
    holds the schedule's keyword arguments plus optionally "schedule" (default "stlr"). Without
    `pretrained_encoder` the encoder starts from random weights (training from scratch). `lm` is
    the fine-tuned language model's folder or its (model, vocab)."""
    lm, vocab = language_model(lm)
    torch.manual_seed(seed)
    config = AWDLSTMConfig.classifier(**{k: v for k, v in asdict(lm.config).items()
                                         if k in ("vocab_size", "emb_size", "hidden_size", "n_layers", "pad_id")},
                                      backend=recipe.config.backend)
    model = TextClassifier(scale_dropouts(config, recipe.clf_drop_mult), len(classes), bptt=recipe.bptt,
                           head_drops=(0.4 * 0.5 * recipe.clf_drop_mult, 0.1 * recipe.clf_drop_mult))
    if pretrained_encoder:
        model.encoder.encoder.load_state_dict(lm.encoder.state_dict())
    zero_pad_row(model)
    learn = Learner(model, ClassifierLoader(train, recipe.clf_bs, train=True, seed=seed),
                    ClassifierLoader(valid, recipe.clf_bs, train=False), task="classifier",
                    weight_decay=recipe.wd, mixed_precision=training_precision(recipe).bf16, progress=progress,
                    identity={**_identity(vocab, backwards, seed), "classes": classes}, clip=recipe.clf_clip)
    if discriminative is None:
        discriminative = recipe.clf_discriminative
    lrs = learn.discriminative_lrs(recipe.clf_lr) if discriminative else [recipe.clf_lr] * len(learn.groups)
    stages = schedule or [(-1, 1, dict(cut_frac=1 / 3, ratio=8)), (-2, 1, dict(cut_frac=1 / 3, ratio=8)),
                          (0, recipe.clf_epochs, dict(cut_frac=0.1, ratio=32))]
    for k, (trainable, epochs, args) in enumerate(stages):  # lesson: use_clr=(8, 3) twice, then (32, 10)
        if isinstance(trainable, tuple):  # ("only", n): one layer group alone
            learn.train_only(trainable[1])
        else:
            learn.freeze_to(trainable)
        args = dict(args)
        keep = "accuracy" if recipe.clf_keep_best and k == len(stages) - 1 else None  # the last stage's best epoch
        learn.fit(epochs, lrs, schedule=args.pop("schedule", "stlr"), checkpoint_dir=_stage_dir(out, k + 1),
                  keep_best=keep, **args)
    if learn.best is not None:  # the history says which epoch the model's weights are from
        learn.history[len(learn.history) - epochs + learn.best["epoch"] - 1]["kept"] = True
    return model, _finish(out, learn, vocab, "classifier", classes=classes, backwards=backwards,
                          classifier={"bptt": recipe.bptt, "head_drops": list(model.head_drops)},
                          kept_epoch=learn.best)


def kept_epoch(history: list[dict]) -> dict | None:
    """The history entry of the epoch a keep-best classifier ended with (train_classifier marks it),
    or None when the model is the last epoch's."""
    return next((h for h in history if h.get("kept")), None)


@torch.no_grad()
def predict_proba(model: TextClassifier, corpus: NumericCorpus, bs: int = 64) -> np.ndarray:
    """Class probabilities for every document, in corpus order."""
    model.eval()
    n_classes = cast(torch.nn.Linear, model.head.layers[-1]).out_features  # the head ends in a Linear
    probs = np.zeros((len(corpus), n_classes), dtype=np.float64)
    order = np.argsort(-corpus.lengths(), kind="stable")
    for i in range(0, len(order), bs):
        batch = order[i : i + bs]
        x, _ = ClassifierLoader.collate(corpus, batch)
        logits, _, _ = model(x)
        probs[batch] = torch.softmax(logits.float(), -1).numpy()
    return probs


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix
