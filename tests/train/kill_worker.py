"""Run by test_reliability.py: trains a tiny language model for 4 epochs with checkpoints, writing
its progress after every batch (so the test knows when to kill it) and its final weights."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from ulmlite.data import LanguageModelLoader
from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.train import Hooks, Learner

out = Path(sys.argv[1])
torch.manual_seed(0)
ids = np.random.default_rng(0).integers(2, 50, 6000).astype(np.int32)


def write_progress(learner, loss):
    """Written beside, then renamed over, so the test never reads the file between its truncation
    and its write (an empty read would make int('') fail the test)."""
    (out / "progress.tmp").write_text(str(learner.step))
    os.replace(out / "progress.tmp", out / "progress")


hooks = Hooks(after_batch=[write_progress])
learn = Learner(LanguageModel(AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=2)),
                LanguageModelLoader(ids, 8, 10, seed=0), LanguageModelLoader(ids[:600], 4, 10, seed=1),
                hooks=hooks, progress=False)
learn.fit(4, 0.01, schedule="stlr", checkpoint_dir=out / "ckpt")
state = {k: v.double().sum().item() for k, v in learn.model.state_dict().items()}
(out / f"final-{sys.argv[2]}.json").write_text(json.dumps(state))
