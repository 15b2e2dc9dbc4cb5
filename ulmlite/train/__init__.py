"""Training: the Learner, schedules, checkpoints, lr_find and data parallelism."""

from ulmlite.train.checkpoint import (
    CheckpointVersionError,
    load_checkpoint,
    load_encoder,
    save_checkpoint,
    save_encoder,
    upgrade_checkpoint,
)
from ulmlite.train.learner import Hooks, Learner
from ulmlite.train.lr_find import LRFinderResult
from ulmlite.train.model import TrainingDiverged
from ulmlite.train.schedules import Constant, Cosine, OneCycle, SlantedTriangular

__all__ = [
    "CheckpointVersionError", "Constant", "Cosine", "Hooks", "LRFinderResult", "Learner", "OneCycle",
    "SlantedTriangular", "TrainingDiverged", "load_checkpoint", "load_encoder", "save_checkpoint", "save_encoder",
    "upgrade_checkpoint",
]
