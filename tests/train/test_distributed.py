"""Data parallelism: two CPU ranks under torchrun (gloo) stay in lock-step."""

import json
import os
import subprocess
import sys
from pathlib import Path


def test_two_ranks_train_in_lockstep(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker),
         str(tmp_path)], capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["first"] != ranks[1]["first"]  # each rank read its own slice
    assert ranks[0]["state"] == ranks[1]["state"]  # same weights after every averaged step
    assert ranks[0]["metrics"][0]["valid_loss"] == ranks[1]["metrics"][0]["valid_loss"]  # all-reduced
    assert (tmp_path / "ckpt" / "checkpoint.json").exists()
    assert not any(p.name.startswith(".ckpt") for p in tmp_path.iterdir())  # no leftovers from rank 1
