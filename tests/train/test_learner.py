"""The Learner: discriminative rates, freezing, lr_find, checkpoints and resuming, and a small
language model that really learns on real text."""

from pathlib import Path

import numpy as np
import pytest
import torch

from ulmlite.data import ClassifierLoader, LanguageModelLoader
from ulmlite.nn import AWDLSTMConfig, LanguageModel, TextClassifier
from ulmlite.text import NumericCorpus
from ulmlite.train import Learner, TrainingDiverged, load_checkpoint, load_encoder, save_encoder

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "general_en" / "valid.txt"
TINY = AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=3)


def tiny_lm_learner(seed=0, init_seed=None, **kwargs):
    torch.manual_seed(seed if init_seed is None else init_seed)
    ids = np.random.default_rng(seed).integers(2, 50, 3000).astype(np.int32)
    return Learner(LanguageModel(TINY), LanguageModelLoader(ids, 8, 10, seed=seed),
                   LanguageModelLoader(ids[:600], 4, 10, seed=1), progress=False, **kwargs)


def test_discriminative_rates_land_in_their_groups():
    learn = tiny_lm_learner()
    lrs = learn.discriminative_lrs(0.01)
    assert lrs == pytest.approx([0.01 / 2.6**3, 0.01 / 2.6**2, 0.01 / 2.6, 0.01])
    learn.fit(1, 0.01, schedule="constant")
    got = [g["lr"] for g in learn.optimizer.param_groups]
    assert got == pytest.approx(lrs)
    decoder = learn.model.decoder.decoder.weight
    assert any(p is decoder for p in learn.optimizer.param_groups[-1]["params"])
    rnn0 = learn.model.encoder.rnns[0].module.weight_hh_l0
    assert any(p is rnn0 for p in learn.optimizer.param_groups[0]["params"])
    with pytest.raises(ValueError, match="one learning rate per layer group"):
        learn.discriminative_lrs([0.1, 0.2])


def test_frozen_groups_stay_bit_identical():
    learn = tiny_lm_learner()
    learn.freeze_to(-1)
    before = {n: p.detach().clone() for n, p in learn.model.named_parameters()}
    learn.fit(1, 0.01, schedule="constant")
    last = {id(p) for p in learn.groups[-1]}
    for name, p in learn.model.named_parameters():
        if id(p) in last:
            assert not torch.equal(p, before[name]), name
        else:
            assert torch.equal(p, before[name]), name
    learn.unfreeze()
    assert all(p.requires_grad for p in learn.model.parameters())


def test_lr_find_stops_on_divergence_and_restores_weights(tmp_path):
    learn = tiny_lm_learner()
    before = {n: p.detach().clone() for n, p in learn.model.state_dict().items()}
    # Up to 1e8: Adam's steps are about the rate whatever the gradient, so how high a rate the tiny
    # model survives depends on the CPU's kernels. On an Intel AMX Xeon a sweep to 1e4 ended with a
    # smoothed loss of 5.9, under 4x its minimum of 3.9; the sweep to 1e8 stopped there after 116 steps.
    result = learn.lr_find(start_lr=1e-5, end_lr=1e8, num_it=200, plot=tmp_path / "lr.png")
    assert len(result.lrs) < 200  # stopped early: the smoothed loss passed 4x its minimum, or went non-finite
    assert result.lrs == sorted(result.lrs)  # the rate only rose
    assert result.suggestion is not None and 1e-5 <= result.suggestion <= 1e8
    assert (tmp_path / "lr.png").stat().st_size > 1000
    for name, tensor in learn.model.state_dict().items():
        assert torch.equal(tensor, before[name])


def test_nan_loss_stops_with_a_clear_error():
    learn = tiny_lm_learner()
    with torch.no_grad():
        learn.model.encoder.embedding.weight[5] = float("nan")  # poison one word's embedding
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        learn.fit(1, 0.01, schedule="constant")


def test_checkpoint_round_trip(tmp_path):
    learn = tiny_lm_learner()
    learn.fit(1, 0.01, schedule="constant")
    learn.save(tmp_path / "ckpt", note="hello")
    other = tiny_lm_learner(init_seed=5)
    meta = other.load(tmp_path / "ckpt")
    assert meta["note"] == "hello"
    for (name, a), b in zip(learn.model.state_dict().items(), other.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert other.model.decoder.decoder.weight is other.model.encoder.embedding.weight  # still tied
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["checkpoint.json", "model.safetensors", "optimizer.safetensors"]


def test_resuming_equals_uninterrupted_training(tmp_path):
    straight = tiny_lm_learner()
    straight.fit(3, 0.01, schedule="stlr")
    first = tiny_lm_learner()  # stopped by an exception right after epoch 1's checkpoint
    first.hooks.after_epoch.append(lambda learner, metrics: (_ for _ in ()).throw(KeyboardInterrupt)
                                   if metrics["epoch"] == 1 else None)
    with pytest.raises(KeyboardInterrupt):
        first.fit(3, 0.01, schedule="stlr", checkpoint_dir=tmp_path / "run")
    resumed = tiny_lm_learner(init_seed=9)  # different initial weights: everything must come from the checkpoint
    resumed.fit(3, 0.01, schedule="stlr", checkpoint_dir=tmp_path / "run")
    assert [m["epoch"] for m in resumed.history] == [1, 2, 3]
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_encoder_save_and_load(tmp_path):
    lm = LanguageModel(TINY)
    save_encoder(tmp_path / "enc.safetensors", lm)
    clf = TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12), 2)
    load_encoder(tmp_path / "enc.safetensors", clf)
    assert torch.equal(clf.encoder.encoder.embedding.weight, lm.encoder.embedding.weight)
    wrong = TextClassifier(AWDLSTMConfig.classifier(vocab_size=60, emb_size=8, hidden_size=12), 2)
    with pytest.raises(ValueError, match="does not fit"):
        load_encoder(tmp_path / "enc.safetensors", wrong)


def test_checkpoint_for_another_model_is_refused(tmp_path):
    learn = tiny_lm_learner()
    learn.save(tmp_path / "ckpt")
    other = Learner(LanguageModel(AWDLSTMConfig(vocab_size=60, emb_size=8, hidden_size=12)),
                    LanguageModelLoader(np.arange(600) % 60, 4, 10), progress=False)
    with pytest.raises(ValueError, match=r"config.vocab_size 50 there, 60 here"):
        other.load(tmp_path / "ckpt")
    with pytest.raises(ValueError, match=r"encoder.embedding.weight is \[50, 8\]"):  # the weights' manifest
        load_checkpoint(tmp_path / "ckpt", other.model)


def test_classifier_trains_and_is_deterministic():
    def run():
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        docs = [rng.integers(2, 50, rng.integers(3, 30)) for _ in range(64)]
        labels = np.array([int(d.mean() > 25) for d in docs])
        corpus = NumericCorpus(np.concatenate(docs).astype(np.int32),
                               np.concatenate([[0], np.cumsum([len(d) for d in docs])]), labels)
        model = TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12), 2, bptt=10)
        learn = Learner(model, ClassifierLoader(corpus, 16, train=True, seed=0),
                        ClassifierLoader(corpus, 16, train=False), task="classifier", progress=False)
        learn.freeze_to(-1)
        learn.fit(1, 0.01)
        learn.unfreeze()
        return learn.fit(2, 0.01)

    first, second = run(), run()
    assert first == [{**m, "seconds": f["seconds"]} for m, f in zip(second, first, strict=True)]
    assert 0.0 <= first[-1]["accuracy"] <= 1.0


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data not present")
def test_small_language_model_learns_real_text():
    """After one epoch on 180k tokens of real English, validation cross-entropy must beat the
    unigram model (the best a model that ignores context can do: every token's training-set
    frequency, add-one smoothed): evidence that the LSTM uses context."""
    from ulmlite.text import PlainTextCorpus, Tokenizer, Vocab

    docs = list(PlainTextCorpus(SHARED))
    corpus = Tokenizer(n_workers=2, progress=False).corpus(docs, cache=False)
    vocab = Vocab.from_corpus(corpus, max_vocab=4000)
    ids = np.asarray(vocab.numericalize_corpus(corpus).ids)
    cut = int(len(ids) * 0.9)
    train, valid = ids[:cut], ids[cut:]
    freq = np.bincount(train, minlength=len(vocab)) + 1.0
    unigram = float(-np.log(freq[valid] / freq.sum()).mean())
    torch.manual_seed(0)
    model = LanguageModel(AWDLSTMConfig(vocab_size=len(vocab), emb_size=64, hidden_size=128, n_layers=2))
    learn = Learner(model, LanguageModelLoader(train, 32, 35, seed=0), LanguageModelLoader(valid, 16, 35, seed=1),
                    progress=False)
    metrics = learn.fit(2, 3e-2, schedule="one_cycle")
    assert metrics[-1]["valid_loss"] < unigram - 0.2, (metrics, unigram)


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_bfloat16_autocast_trains(backend):
    """Mixed precision: the forward pass under bfloat16 autocast, weights and optimizer in float32."""
    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(2, 50, 3000).astype(np.int32)
    config = AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=2, backend=backend)
    learn = Learner(LanguageModel(config), LanguageModelLoader(ids, 8, 10, seed=0),
                    LanguageModelLoader(ids[:600], 4, 10), mixed_precision=True, progress=False)
    before = learn.validate()["valid_loss"]
    learn.fit(2, 0.01, schedule="constant")
    assert all(p.dtype == torch.float32 for p in learn.model.parameters())
    assert learn.history[-1]["valid_loss"] < before


def test_a_checkpoint_of_another_vocabulary_or_config_is_refused(tmp_path):
    """The manifest checks shapes; the identity (config + vocabulary hash) catches what shapes cannot:
    the same sizes with other words, or other dropouts."""
    learn = tiny_lm_learner(identity={"vocab_sha256": "aaa"})
    learn.fit(1, 0.01, schedule="constant", checkpoint_dir=tmp_path / "run")
    other_vocab = tiny_lm_learner(identity={"vocab_sha256": "bbb"})
    with pytest.raises(ValueError, match="another model or vocabulary.*vocab_sha256 'aaa' there, 'bbb' here"):
        other_vocab.fit(1, 0.01, schedule="constant", checkpoint_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="vocab_sha256"):
        other_vocab.load(tmp_path / "run")
    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(2, 50, 3000).astype(np.int32)
    other_config = Learner(LanguageModel(AWDLSTMConfig(**{**TINY.__dict__, "dropouth": 0.1})),
                           LanguageModelLoader(ids, 8, 10, seed=0), progress=False, identity={"vocab_sha256": "aaa"})
    with pytest.raises(ValueError, match="config.dropouth"):
        other_config.fit(1, 0.01, schedule="constant", checkpoint_dir=tmp_path / "run")
    assert learn.load(tmp_path / "run")["epoch"] == 1  # refused twice, still intact


def scripted(learn, accuracies):
    """Validation that answers these accuracies (and losses 1 - accuracy) epoch by epoch."""
    answers = iter(accuracies)

    def validate():
        a = next(answers)
        return {"valid_loss": 1.0 - a, "accuracy": a}

    learn.validate = validate
    snapshots = {}
    learn.hooks.after_epoch.append(lambda learner, metrics: snapshots.__setitem__(
        metrics["epoch"], {k: v.clone() for k, v in learner.model.state_dict().items()}))
    return snapshots


@pytest.mark.parametrize("metric", ["accuracy", "valid_loss"])
def test_keep_best_ends_with_the_best_epochs_weights(metric):
    learn = tiny_lm_learner()
    snapshots = scripted(learn, [0.5, 0.9, 0.7, 0.6])
    learn.fit(4, 0.01, schedule="constant", keep_best=metric)
    assert learn.best["epoch"] == 2 and learn.best[metric] == pytest.approx(0.9 if metric == "accuracy" else 0.1)
    for name, value in learn.model.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name
    assert not torch.equal(snapshots[2]["decoder.decoder.weight"], snapshots[4]["decoder.decoder.weight"])


def test_keep_best_survives_an_interruption(tmp_path):
    first = tiny_lm_learner()
    snapshots = scripted(first, [0.5, 0.9, 0.7, 0.6])
    first.hooks.after_epoch.append(lambda learner, metrics: (_ for _ in ()).throw(KeyboardInterrupt)
                                   if metrics["epoch"] == 3 else None)
    with pytest.raises(KeyboardInterrupt):
        first.fit(4, 0.01, schedule="constant", checkpoint_dir=tmp_path / "run", keep_best="accuracy")
    resumed = tiny_lm_learner(init_seed=9)
    scripted(resumed, [0.6])  # only epoch 4 is trained again; epoch 2 stays the best
    resumed.fit(4, 0.01, schedule="constant", checkpoint_dir=tmp_path / "run", keep_best="accuracy")
    assert resumed.best == {"epoch": 2, "accuracy": 0.9}
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name


def test_keep_best_needs_a_known_metric_and_validation_data():
    learn = tiny_lm_learner()
    with pytest.raises(ValueError, match="keep_best"):
        learn.fit(1, 0.01, keep_best="f1")
    learn.valid_data = None
    with pytest.raises(ValueError, match="keep_best"):
        learn.fit(1, 0.01, keep_best="accuracy")


def test_keep_best_perplexity_is_refused_for_a_classifier_before_training():
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, 50, 8) for _ in range(16)]
    corpus = NumericCorpus(np.concatenate(docs).astype(np.int32), np.arange(0, 8 * 17, 8), np.arange(16) % 2)
    model = TextClassifier(AWDLSTMConfig.classifier(vocab_size=50, emb_size=8, hidden_size=12), 2, bptt=10)
    learn = Learner(model, ClassifierLoader(corpus, 8, train=True, seed=0), ClassifierLoader(corpus, 8, train=False),
                    task="classifier", progress=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"keep_best .*\['accuracy', 'valid_loss'\].*'perplexity'"):
        learn.fit(1, 0.01, keep_best="perplexity")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # nothing trained


def test_progress_as_a_function_receives_lines_with_speed_and_time_left(monkeypatch):
    """The demo's side-by-side processes print lines, not bars: a line every REPORT_SECONDS and one
    per epoch."""
    lines = []
    learn = tiny_lm_learner()
    learn.progress = lines.append
    monkeypatch.setattr(Learner, "REPORT_SECONDS", 0.0)  # a line after every batch
    learn.fit(2, 0.01, schedule="constant")
    per_batch = [x for x in lines if "batches" in x]
    per_epoch = [x for x in lines if x.startswith("epoch ") and "train_loss" in x]
    assert len(per_batch) == learn.step and len(per_epoch) == 2  # one line per batch trained
    assert per_batch[0].startswith("epoch 1/2: 1/") and " batches, " in per_batch[0]
    assert "k tokens/s, loss " in per_batch[0]
    assert per_batch[-1].endswith("about 0.0 min left in this fit")
