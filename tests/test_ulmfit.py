"""The recipe's steps resume after an interruption: each stage checkpoints into out/training, a rerun
reloads finished stages instead of retraining them, and the result equals an uninterrupted run.
The unigram perplexity the demo prints beside each language model matches a plain-Python one."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ulmlite import ulmfit
from ulmlite.nn import AWDLSTMConfig
from ulmlite.text import Vocab
from ulmlite.train import Learner

VOCAB = Vocab(["_unk_", "_pad_"] + [f"w{k}" for k in range(40)])
RECIPE = ulmfit.Recipe(config=AWDLSTMConfig(emb_size=8, hidden_size=12, n_layers=2), lm_bs=4, bptt=8,
                       pretrain_epochs=1, lm_last_epochs=1, lm_epochs=2)


def ids(seed, n):
    return np.random.default_rng(seed).integers(2, len(VOCAB), n).astype(np.int32)


def test_finetune_lm_interrupted_in_its_second_stage_resumes(tmp_path, monkeypatch):
    ulmfit.pretrain(ids(0, 1500), ids(1, 300), VOCAB, RECIPE, tmp_path / "pre", progress=False)
    batches = []
    real_train_batch = Learner.train_batch
    monkeypatch.setattr(Learner, "train_batch", lambda self, *a: batches.append(1) or real_train_batch(self, *a))
    straight, _ = ulmfit.finetune_lm(tmp_path / "pre", ids(2, 1500), ids(3, 300), VOCAB, RECIPE,
                                     tmp_path / "straight", progress=False)
    assert not (tmp_path / "straight" / "training").exists()  # the model folder replaced it
    per_epoch = len(batches) / 3  # stage 1: one epoch, stage 2: two (variable bptt: about equal epochs)

    saves = []
    real_save = Learner.save

    def save_then_die(self, folder, **info):  # the third checkpoint: stage 2, epoch 1
        real_save(self, folder, **info)
        saves.append(folder)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Learner, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        ulmfit.finetune_lm(tmp_path / "pre", ids(2, 1500), ids(3, 300), VOCAB, RECIPE, tmp_path / "run",
                           progress=False)
    assert saves[0].endswith("stage-1") and saves[1].endswith("stage-2")
    monkeypatch.setattr(Learner, "save", real_save)
    torch.manual_seed(123)  # anything the resumed run needs comes from the checkpoints
    batches.clear()
    resumed, history = ulmfit.finetune_lm(tmp_path / "pre", ids(2, 1500), ids(3, 300), VOCAB, RECIPE,
                                          tmp_path / "run", progress=False)
    assert [h["epoch"] for h in history] == [1, 1, 2]
    assert abs(len(batches) - per_epoch) < 0.2 * per_epoch  # only stage 2's second epoch was trained again
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_classifier_stages_chain_thaw_and_flat_rates(tmp_path, monkeypatch):
    """A stage ("only", n) trains layer group n alone; discriminative=False gives every group one rate;
    a finetune_lm with no epochs writes the mapped model untrained."""
    from ulmlite.text import NumericCorpus

    ulmfit.pretrain(ids(0, 1500), ids(1, 300), VOCAB, RECIPE, tmp_path / "pre", progress=False)
    untrained, history = ulmfit.finetune_lm(tmp_path / "pre", ids(2, 500), ids(3, 300), VOCAB,
                                            replace(RECIPE, lm_last_epochs=0, lm_epochs=0), tmp_path / "lm",
                                            progress=False)
    assert history == []
    pre, _, _ = ulmfit.load_model_dir(tmp_path / "pre")
    assert torch.equal(untrained.encoder.rnns[0].module.weight_hh_l0, pre.encoder.rnns[0].module.weight_hh_l0)
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, len(VOCAB), rng.integers(3, 12)) for _ in range(40)]
    corpus = NumericCorpus(np.concatenate(docs).astype(np.int32),
                           np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64),
                           np.array([int(d.mean() > 20) for d in docs]))
    seen = []
    real_fit = Learner.fit

    def record(self, epochs, lr, schedule="stlr", **kwargs):
        seen.append(([any(p.requires_grad for p in g) for g in self.groups], list(lr), schedule))
        return real_fit(self, epochs, lr, schedule=schedule, **kwargs)

    monkeypatch.setattr(Learner, "fit", record)
    ulmfit.train_classifier(tmp_path / "lm", corpus, corpus, ["a", "b"], RECIPE, tmp_path / "clf", progress=False,
                            schedule=[(("only", 1), 1, dict(schedule="constant")), (0, 1, dict(schedule="cosine"))],
                            discriminative=False)
    assert seen[0][0] == [False, True, False, False] and seen[0][2] == "constant"
    assert all(seen[1][0]) and seen[1][2] == "cosine"
    assert len(set(seen[0][1])) == 1  # one rate for every group


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.lists(st.integers(0, 5), min_size=1, max_size=20))
def test_unigram_perplexity_matches_plain_python(train, valid):
    counts = {w: train.count(w) + 1 for w in range(6)}  # add-one smoothing over the 6-word vocabulary
    total = sum(counts.values())
    expected = math.exp(-sum(math.log(counts[w] / total) for w in valid) / len(valid))
    assert ulmfit.unigram_perplexity(np.array(train), np.array(valid), 6) == pytest.approx(expected, rel=1e-9)


def test_unigram_perplexity_of_a_uniform_stream_is_the_vocabulary_size():
    stream = np.tile(np.arange(10), 100)
    assert ulmfit.unigram_perplexity(stream, stream[:50], 10) == pytest.approx(10.0)


@pytest.mark.parametrize(("train", "valid", "message"), [
    ([1, 2], [], "at least one validation token"),
    ([1, 2, 7], [1], "train ids must lie in \\[0, 6\\)"),
    ([1, 2], [-1], "valid ids must lie in \\[0, 6\\)"),
])
def test_unigram_perplexity_refuses_bad_ids(train, valid, message):
    with pytest.raises(ValueError, match=message):
        ulmfit.unigram_perplexity(np.array(train), np.array(valid), 6)


def test_finetune_lm_maps_a_pretrained_decoder_bias_onto_the_new_vocabulary(tmp_path):
    """fastai v1's language models have a decoder bias; the mapping keeps each known word's bias and
    gives new words the mean (it used to be dropped with the other decoder keys)."""
    recipe = replace(RECIPE, config=replace(RECIPE.config, decoder_bias=True), lm_last_epochs=0, lm_epochs=0)
    ulmfit.pretrain(ids(0, 600), ids(1, 200), VOCAB, replace(recipe, pretrain_epochs=1), tmp_path / "pre",
                    progress=False)
    old, _, _ = ulmfit.load_model_dir(tmp_path / "pre")
    with torch.no_grad():
        old.decoder.decoder.bias.copy_(torch.arange(len(VOCAB), dtype=torch.float32))
    ulmfit.save_model_dir(tmp_path / "pre", old, VOCAB, "lm")
    new_vocab = Vocab(["_unk_", "_pad_", "w5", "brand-new", "w0"])
    model, _ = ulmfit.finetune_lm(tmp_path / "pre", ids(2, 100) % 5, ids(3, 50) % 5, new_vocab, recipe,
                                  tmp_path / "ft", progress=False)
    bias = model.decoder.decoder.bias.detach()
    mean = (len(VOCAB) - 1) / 2
    assert bias.tolist() == [0.0, 1.0, float(VOCAB.stoi["w5"]), mean, float(VOCAB.stoi["w0"])]
    assert model.encoder.embedding.weight[new_vocab.pad_id].abs().sum() == 0


def test_classifier_clips_at_the_recipes_clf_clip(tmp_path, monkeypatch):
    from ulmlite.text import NumericCorpus

    ulmfit.pretrain(ids(0, 600), ids(1, 200), VOCAB, RECIPE, tmp_path / "lm", progress=False)
    clips = []
    real_init = Learner.__init__

    def spy(self, *args, **kwargs):
        clips.append(kwargs.get("clip"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Learner, "__init__", spy)
    offsets = np.arange(0, 41, 4)
    corpus = NumericCorpus(ids(4, 40), offsets, np.arange(10) % 2)
    recipe = replace(RECIPE, clf_epochs=1, clf_bs=4, clf_clip=7.5)
    ulmfit.train_classifier(tmp_path / "lm", corpus, corpus, ["a", "b"], recipe, tmp_path / "clf", progress=False)
    assert clips == [7.5]
    assert ulmfit.Recipe().clf_clip == 25.0 and ulmfit.Recipe().clip == 0.25  # the lesson's
