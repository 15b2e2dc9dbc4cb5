"""Batches: the language-model loader, the length-aware samplers and the padding collate."""

from ulmlite.data.lm_loader import LanguageModelLoader
from ulmlite.data.samplers import ClassifierLoader, SortishSampler, SortSampler, pad_collate

__all__ = ["ClassifierLoader", "LanguageModelLoader", "SortSampler", "SortishSampler", "pad_collate"]
