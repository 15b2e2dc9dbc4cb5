"""Run by test_distributed.py under torchrun: two ranks train a tiny language model on their own
slices of a stream and record what they end with."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ulmlite.data import LanguageModelLoader
from ulmlite.nn import AWDLSTMConfig, LanguageModel
from ulmlite.train import Learner
from ulmlite.train import distributed as dist

out = Path(sys.argv[1])
assert dist.init_from_environment()
torch.manual_seed(100 + dist.rank())  # different initial weights: rank 0's must be broadcast
ids = np.random.default_rng(0).integers(2, 50, 4000).astype(np.int32)
mine = dist.shard(ids)
model = LanguageModel(AWDLSTMConfig(vocab_size=50, emb_size=8, hidden_size=12, n_layers=2))
learn = Learner(model, LanguageModelLoader(mine, 4, 10, seed=dist.rank()),  # different window lengths too
                LanguageModelLoader(dist.shard(ids[:1000]), 2, 10, seed=0), progress=False)
metrics = learn.fit(1, 0.01, schedule="constant", checkpoint_dir=out / "ckpt")
state = {k: v.double().sum().item() for k, v in model.state_dict().items()}
first_token = int(mine[0])
(out / f"rank{dist.rank()}.json").write_text(json.dumps({"metrics": metrics, "state": state, "first": first_token}))
dist.barrier()
