"""The recipe's steps resume after an interruption: each stage checkpoints into out/training, a rerun
reloads finished stages instead of retraining them, and the result equals an uninterrupted run."""

import numpy as np
import pytest
import torch

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
