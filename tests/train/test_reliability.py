"""Nothing lost: a run killed with SIGKILL mid-epoch resumes from its last checkpoint and ends where an
uninterrupted run ends; a failed save keeps the previous checkpoint."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.train import checkpoint as checkpoint_module
from ulmlite.train import load_checkpoint, save_checkpoint

WORKER = Path(__file__).with_name("kill_worker.py")


def start(folder: Path, tag: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(folder), tag], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    assert start(straight, "done").wait(timeout=300) == 0
    steps_per_epoch = json.loads((straight / "ckpt" / "checkpoint.json").read_text())["step"] // 4

    victim = start(killed, "never")
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until it is well into epoch 2, past the first checkpoint
        progress = killed / "progress"  # the worker replaces it whole, so one read sees a whole number
        if progress.exists() and int(progress.read_text()) > steps_per_epoch + 5:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert json.loads((killed / "ckpt" / "checkpoint.json").read_text())["epoch"] >= 1  # intact, readable
    assert start(killed, "done").wait(timeout=300) == 0  # the same command again resumes
    final = json.loads((killed / "final-done.json").read_text())
    assert final == json.loads((straight / "final-done.json").read_text())
    assert not any(p.name.startswith(".ckpt") for p in killed.iterdir())  # no temporary folders left


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = LanguageModel(AWDLSTMConfig(vocab_size=20, emb_size=4, hidden_size=6, n_layers=2))
    save_checkpoint(tmp_path / "ckpt", model, epoch=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.encoder.embedding.weight.add_(1.0)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_model", disk_full)
    message = "could not write checkpoint .*No space left on device; the previous checkpoint is kept"
    with pytest.raises(OSError, match=message):
        save_checkpoint(tmp_path / "ckpt", model, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    monkeypatch.undo()
    fresh = LanguageModel(AWDLSTMConfig(vocab_size=20, emb_size=4, hidden_size=6, n_layers=2))
    assert load_checkpoint(tmp_path / "ckpt", fresh)["epoch"] == 1
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, before[name])


def test_truncated_weights_give_a_clear_error(tmp_path):
    model = LanguageModel(AWDLSTMConfig(vocab_size=20, emb_size=4, hidden_size=6, n_layers=2))
    save_checkpoint(tmp_path / "ckpt", model)
    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(tmp_path / "ckpt", model)
