"""Checkpoints without pickle: tensors in safetensors files, everything else in JSON, written into a
temporary folder (files fsynced) that is renamed over the old checkpoint only when complete.

A checkpoint folder holds:
  model.safetensors       the model's weights (tied weights stored once)
  optimizer.safetensors   the optimizer's per-parameter tensors (Adam's moments, step counts)
  checkpoint.json         epoch, step, schedule position, RNG states, optimizer hyper-parameters,
                          a manifest of the weights' names, shapes and dtypes, and anything the
                          caller adds (config, vocabulary hash)

The format's version is in checkpoint.json's "format"; `upgrade_checkpoint` rewrites an older one.
"""

import json
import os
import re
import shutil
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from ulmlite._util import _fsync, first_line, write_folder_atomically

FORMAT_VERSION = 2  # 2: the encoder's embedding is `embedding` (`embedding_dp`), not `encoder` (`encoder_dp`)
FORMAT = f"ulmlite-checkpoint-{FORMAT_VERSION}"


class CheckpointVersionError(ValueError):
    """A checkpoint written in another version of the format (an older one: see upgrade_checkpoint)."""


def _format_version(meta) -> int | None:
    match = re.fullmatch(r"ulmlite-checkpoint-(\d+)", str(meta.get("format"))) if isinstance(meta, dict) else None
    return int(match.group(1)) if match else None


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def manifest(model: torch.nn.Module) -> dict:
    return {name: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
            for name, t in model.state_dict().items()}


def save_checkpoint(folder: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    **info) -> Path:
    """Write a checkpoint atomically; `info` (JSON-serializable) is stored in checkpoint.json."""
    folder = Path(folder)

    def write(tmp: Path) -> None:
        save_model(model, str(tmp / "model.safetensors"))
        meta = {"format": FORMAT, "manifest": manifest(model), **info}
        if optimizer is not None:
            tensors, meta["optimizer"] = _optimizer_tensors(optimizer)
            save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "checkpoint.json").write_text(json.dumps(meta, indent=1))

    try:
        write_folder_atomically(folder, write)
    except OSError as err:  # a full disk, no permission: say so, keep the previous checkpoint
        kept = "the previous checkpoint is kept" if folder.exists() else "no checkpoint was written"
        raise OSError(err.errno, f"could not write checkpoint {folder}: {err.strerror or err}; {kept}") from None
    return folder


def read_info(folder: str | Path) -> dict:
    """checkpoint.json of a checkpoint folder; ValueError when it is missing, corrupt or foreign,
    CheckpointVersionError (a ValueError) when it is of another format version."""
    meta_path = Path(folder) / "checkpoint.json"
    if not meta_path.exists():
        raise ValueError(f"{folder} is not a ulmlite checkpoint (no checkpoint.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_path} is corrupt: {err}") from None
    version = _format_version(meta)
    if version is None:
        raise ValueError(f"{folder}: unknown checkpoint format")
    if version < FORMAT_VERSION:
        raise CheckpointVersionError(
            f"{meta_path} is a checkpoint of format version {version}; this ulmlite reads version "
            f"{FORMAT_VERSION} (the embedding's weights were renamed). Upgrade it in place with "
            f"`ulmlite upgrade-checkpoint {folder}` (in Python: ulmlite.train.upgrade_checkpoint)")
    if version > FORMAT_VERSION:
        raise CheckpointVersionError(f"{meta_path} is a checkpoint of format version {version}, written by a newer "
                                     f"ulmlite; this one reads version {FORMAT_VERSION}: upgrade ulmlite")
    return meta


def load_checkpoint(folder: str | Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load weights (and the optimizer's state) and return checkpoint.json. A checkpoint for
    another model raises ValueError naming the first difference."""
    folder = Path(folder)
    meta = read_info(folder)
    expected = manifest(model)
    for name, spec in meta["manifest"].items():
        if name not in expected:
            raise ValueError(f"{folder}: the checkpoint has {name!r}, which this model lacks")
        if spec != expected[name]:
            raise ValueError(f"{folder}: {name} is {spec['shape']} {spec['dtype']} in the checkpoint, "
                             f"{expected[name]['shape']} {expected[name]['dtype']} in the model")
    missing = sorted(set(expected) - set(meta["manifest"]))
    if missing:
        raise ValueError(f"{folder}: the checkpoint lacks {missing[:3]}")
    try:
        load_model(model, str(folder / "model.safetensors"))
    except Exception as err:  # safetensors raises several types for a damaged file
        raise ValueError(f"{folder}/model.safetensors cannot be read: {err}") from None
    if optimizer is not None and "optimizer" in meta:
        _restore_optimizer(optimizer, load_file(str(folder / "optimizer.safetensors")), meta["optimizer"])
    return meta


def _v1_name(name: str) -> str:
    """A version-1 weight name in version 2: the encoder's `encoder` (the embedding) is `embedding`,
    its `encoder_dp` is `embedding_dp` (LM: encoder.encoder.weight -> encoder.embedding.weight)."""
    name = re.sub(r"(^|\.)encoder_dp\.", r"\1embedding_dp.", name)
    return re.sub(r"(^|\.)encoder\.weight$", r"\1embedding.weight", name)


def upgrade_checkpoint(folder: str | Path) -> Path:
    """Rewrite a version-1 checkpoint folder in place (atomically) as version 2: the weights' names
    in model.safetensors and the manifest, and the format. A current checkpoint is left as it is."""
    folder = Path(folder)
    meta_path = folder / "checkpoint.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{folder} is not a readable ulmlite checkpoint: {err}") from None
    version = _format_version(meta)
    if version == FORMAT_VERSION:
        return folder
    if version != 1:
        raise ValueError(f"{meta_path}: format {meta.get('format')!r}, not one upgrade_checkpoint knows")
    weights = folder / "model.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        extra = {_v1_name(k): _v1_name(v) for k, v in (f.metadata() or {}).items()}
    tensors = {_v1_name(k): v for k, v in load_file(str(weights)).items()}
    meta = {**meta, "format": FORMAT, "manifest": {_v1_name(k): v for k, v in meta["manifest"].items()}}

    def write(tmp: Path) -> None:
        for item in folder.iterdir():  # everything else as it was (optimizer state, markers)
            if item.name not in ("model.safetensors", "checkpoint.json"):
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        save_file(tensors, str(tmp / "model.safetensors"), metadata=extra or None)
        (tmp / "checkpoint.json").write_text(json.dumps(meta, indent=1))

    return write_folder_atomically(folder, write)


def model_identity(model: torch.nn.Module, extra: dict | None = None) -> dict:
    """What a checkpoint records to recognise its model: the config (backends aside) and `extra`
    (e.g. the vocabulary's hash), as JSON stores them."""
    config = getattr(model, "config", None)
    config = ({k: v for k, v in asdict(config).items() if k not in ("backend", "loss_backend")}
              if is_dataclass(config) and not isinstance(config, type) else {})
    return json.loads(json.dumps({"config": config, **(extra or {})}))


def check_identity(folder: str | Path, meta: dict, identity: dict) -> None:
    """Refuse a checkpoint (its checkpoint.json `meta`) recorded for another identity, naming the differences."""
    def flat(d: dict) -> dict:  # one level deep: config.hidden_size, vocab_sha256, ...
        return {f"{k}.{j}" if isinstance(v, dict) else k: w
                for k, v in d.items() for j, w in (v.items() if isinstance(v, dict) else [(None, v)])}

    theirs, ours = flat(meta.get("identity", {})), flat(identity)
    differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if differ:
        detail = "; ".join(f"{k} {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in differ[:3])
        raise ValueError(f"{folder} holds a checkpoint of another model or vocabulary ({detail}); "
                         "remove it or train into another folder")


def rng_state(loader_rng: np.random.Generator | None = None) -> dict:
    state: dict[str, Any] = {"torch": torch.get_rng_state().tolist()}
    if loader_rng is not None:
        state["numpy"] = loader_rng.bit_generator.state
    return state


def set_rng_state(state: dict, loader_rng: np.random.Generator | None = None) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if loader_rng is not None and "numpy" in state:
        loader_rng.bit_generator.state = state["numpy"]


def _encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The AWD-LSTM encoder of a LanguageModel, or of a TextClassifier (inside its MultiBatchEncoder)."""
    encoder = model.encoder
    encoder = getattr(encoder, "encoder", encoder) if not hasattr(encoder, "rnns") else encoder
    return cast(torch.nn.Module, encoder)  # nn.Module's __getattr__ says Tensor | Module


def save_encoder(path: str | Path, model: torch.nn.Module) -> Path:
    """The encoder alone (embedding + LSTMs), to start a classifier from a fine-tuned LM."""
    encoder = _encoder(model)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    save_model(encoder, str(tmp))
    _fsync(tmp)
    os.replace(tmp, path)
    return path


def load_encoder(path: str | Path, model: torch.nn.Module) -> None:
    encoder = _encoder(model)
    try:
        load_model(encoder, str(path))
    except Exception as err:
        raise ValueError(f"{path} does not fit this model's encoder: {first_line(err)}") from None
