"""Training: the Learner, schedules, checkpoints, lr_find and data parallelism."""

from ulmlite.train.checkpoint import load_checkpoint, load_encoder, save_checkpoint, save_encoder
from ulmlite.train.learner import Hooks, Learner, LRFinderResult, TrainingDiverged
from ulmlite.train.schedules import Constant, Cosine, OneCycle, SlantedTriangular

__all__ = [
    "Constant", "Cosine", "Hooks", "LRFinderResult", "Learner", "OneCycle", "SlantedTriangular", "TrainingDiverged",
    "load_checkpoint", "load_encoder", "save_checkpoint", "save_encoder",
]
