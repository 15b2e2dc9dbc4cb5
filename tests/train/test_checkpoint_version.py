"""Checkpoints of the format before version 2 (the embedding named `encoder`): refused with a message
that says how to upgrade them, and upgrade_checkpoint rewrites them into ones that load and compute
the same outputs."""

import json
import re

import numpy as np
import pytest
import torch

from ulmlite.data import LanguageModelLoader
from ulmlite.nn import AWDLSTMConfig, LanguageModel, TextClassifier
from ulmlite.train import CheckpointVersionError, Learner, load_checkpoint, save_checkpoint, upgrade_checkpoint
from ulmlite.train import checkpoint as checkpoint_module

CONFIG = AWDLSTMConfig(vocab_size=20, emb_size=4, hidden_size=6, n_layers=2)
V1_NAMES = {"embedding": "encoder", "embedding_dp": "encoder_dp"}


def save_v1(monkeypatch, folder, model, *args, **info):
    """Write `model` as version 1 did: its encoder's embedding (and dropout) under the old names."""
    encoder = model.encoder if hasattr(model.encoder, "rnns") else model.encoder.encoder
    renamed = dict(encoder._modules)
    with monkeypatch.context() as m:
        m.setattr(encoder, "_modules", {V1_NAMES.get(k, k): v for k, v in renamed.items()})
        m.setattr(checkpoint_module, "FORMAT", "ulmlite-checkpoint-1")
        save_checkpoint(folder, model, *args, **info)


def models():
    torch.manual_seed(0)
    lm = LanguageModel(CONFIG)
    clf = TextClassifier(AWDLSTMConfig.classifier(vocab_size=20, emb_size=4, hidden_size=6, n_layers=2), 2, bptt=5)
    return {"lm": lm, "classifier": clf}


def outputs(model, ids):
    if hasattr(model, "reset"):
        model.reset()
    return model.eval()(ids)[0]


def test_a_version_1_checkpoint_is_refused_naming_its_file_versions_and_the_upgrade(tmp_path, monkeypatch):
    save_v1(monkeypatch, tmp_path / "old", models()["lm"], epoch=1)
    assert "encoder.encoder.weight" in json.loads((tmp_path / "old" / "checkpoint.json").read_text())["manifest"]
    message = (re.escape(f"{tmp_path / 'old' / 'checkpoint.json'} is a checkpoint of format version 1; this "
                         "ulmlite reads version 2")
               + r".*ulmlite upgrade-checkpoint " + re.escape(str(tmp_path / "old")))
    with pytest.raises(CheckpointVersionError, match=message):
        load_checkpoint(tmp_path / "old", LanguageModel(CONFIG))
    ids = np.random.default_rng(0).integers(2, 20, 600).astype(np.int32)
    learn = Learner(LanguageModel(CONFIG), LanguageModelLoader(ids, 4, 10), progress=False)
    with pytest.raises(CheckpointVersionError, match="upgrade-checkpoint"):  # resuming neither starts over
        learn.fit(1, 0.01, checkpoint_dir=tmp_path / "old")
    assert json.loads((tmp_path / "old" / "checkpoint.json").read_text())["format"] == "ulmlite-checkpoint-1"


@pytest.mark.parametrize("kind", ["lm", "classifier"])
def test_upgrade_checkpoint_loads_and_gives_the_same_outputs(tmp_path, monkeypatch, kind):
    model = models()[kind].eval()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(2, 20, (12, 3))
    model(ids)[0].float().sum().backward()
    optimizer.step()  # some Adam state to carry over
    save_v1(monkeypatch, tmp_path / "old", model, optimizer, epoch=3)
    (tmp_path / "old" / "inputs.sha256").write_text("abc")  # a file of the caller's
    assert upgrade_checkpoint(tmp_path / "old") == tmp_path / "old"
    assert upgrade_checkpoint(tmp_path / "old") == tmp_path / "old"  # a current checkpoint is left as it is
    fresh = models()[kind]
    torch.nn.init.zeros_(next(fresh.parameters()))
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    meta = load_checkpoint(tmp_path / "old", fresh, fresh_optimizer)
    assert meta["format"] == "ulmlite-checkpoint-2" and meta["epoch"] == 3
    assert meta["manifest"] == checkpoint_module.manifest(model)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    if kind == "lm":
        assert fresh.decoder.decoder.weight is fresh.encoder.embedding.weight  # still tied
    assert torch.equal(outputs(fresh, ids), outputs(model, ids))
    assert fresh_optimizer.state_dict()["state"][0]["exp_avg"].equal(optimizer.state_dict()["state"][0]["exp_avg"])
    assert (tmp_path / "old" / "inputs.sha256").read_text() == "abc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # no temporary folders left


def test_the_upgrade_command_upgrades_a_model_folder_and_its_stage_checkpoints(tmp_path, monkeypatch, capsys):
    from ulmlite.cli import main

    save_v1(monkeypatch, tmp_path / "run", models()["lm"], epoch=1)
    save_v1(monkeypatch, tmp_path / "run" / "training" / "stage-1", models()["lm"], epoch=1)
    assert main(["upgrade-checkpoint", str(tmp_path / "run")]) == 0
    for folder in (tmp_path / "run", tmp_path / "run" / "training" / "stage-1"):
        assert json.loads((folder / "checkpoint.json").read_text())["format"] == "ulmlite-checkpoint-2"
        load_checkpoint(folder, LanguageModel(CONFIG))
    assert capsys.readouterr().out.count(": current") == 2
