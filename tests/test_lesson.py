"""`make lesson`'s plumbing (`--quick`, forward only) on a tiny IMDB-shaped data folder the test
writes: the report, the baselines, --train-docs, GloVe initialisation, and that a rerun reuses the
finished steps instead of training them again."""

import csv
import json

import numpy as np
import pytest
import torch

from ulmlite import lesson
from ulmlite.datasets import load_vectors
from ulmlite.datasets.vectors import _write_vectors
from ulmlite.pretrained import vectors_for_vocab
from ulmlite.ulmfit import load_model_dir

WORDS = "the a film movie was is plot actor story scene director music".split()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lesson_data")
    rng = np.random.default_rng(0)
    (root / "imdb").mkdir()
    for split, n in (("train", 240), ("valid", 60), ("test", 60)):
        with open(root / "imdb" / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            for k in range(n):
                label = "pos" if k >= n // 2 else "neg"
                cue = "great" if label == "pos" else "awful"
                writer.writerow([label, " ".join(rng.choice(WORDS, 25)) + f" {cue}<br /><br />{cue} ."])
    (root / "general_en").mkdir()
    general = "\n\f\n".join(" ".join(rng.choice(WORDS + ["great", "awful"], 80)) + " ." for _ in range(80))
    (root / "general_en" / "train.txt").write_text(general + "\n", encoding="utf-8")
    words = WORDS + ["great", "awful"]
    _write_vectors(root / "glove-50d", words, rng.normal(0, 0.5, (len(words), 6)), "test vectors")
    return root


def test_quick_lesson_reports_and_a_rerun_reuses_the_finished_steps(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "lesson"
    argv = ["--quick", "--no-backward", "--train-docs", "100", "--data", str(data_root), "--out", str(out)]
    report = lesson.main(argv)
    saved = json.loads((out / "report.json").read_text())
    assert saved["imdb_test_accuracy"] == report["imdb_test_accuracy"] and 0.0 <= report["imdb_test_accuracy"] <= 1
    assert set(saved["baselines"]) == {"tfidf_lr", "nbsvm_bi"}
    assert all(0.5 <= v <= 1.0 for v in saved["baselines"].values())  # the cue words make the toy task easy
    assert saved["train_docs"] == 100 and saved["test_documents"] == 60 and saved["models"] == ["forward"]
    assert (out / "curves.png").stat().st_size > 0
    assert "--train-docs 100" in capsys.readouterr().out
    # The language model read every training review (200 of them after --quick), not only the 100.
    assert saved["lm_train_tokens"] > 200 * 25
    again = lesson.main(argv)
    printed = capsys.readouterr().out
    for step in ("pretrained", "fine-tuned model", "classifier"):
        assert f"{step} found in" in printed or f"{step} model found in" in printed, step
    assert again["imdb_test_accuracy"] == report["imdb_test_accuracy"]
    check_lesson_bars(saved)


def check_lesson_bars(saved: dict) -> None:
    """benchmarks/lesson_bars.py on a real (quick) report: refused as it is, then no bar for a subset or one
    direction, and the ensemble's accuracy as the bar once the report says every review and both ran."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from lesson_bars import lesson_bars

    assert saved["train_docs_available"] == 200  # --quick keeps 200 training reviews; the classifier took 100
    with pytest.raises(ValueError, match="--quick"):
        lesson_bars(saved)
    full = {**saved, "quick": False}
    rows, bars, extra = lesson_bars(full)
    assert bars == {} and rows[0]["test_accuracy"] == saved["forward_test_accuracy"]
    assert {r["model"] for r in rows[1:]} == {"tfidf_lr", "nbsvm_bi"} and extra["train_docs"] == 100
    assert extra["perplexity"]["forward"]["finetune_lm"] > 1.0
    both = {**full, "train_docs": 200, "models": ["forward", "backward"], "imdb_test_accuracy": 0.93,
            **{f"backward_{k}": full[f"forward_{k}"] for k in ("test_accuracy", "valid_accuracy")},
            "history": {"forward": full["history"]["forward"], "backward": full["history"]["forward"]}}
    rows, bars, _ = lesson_bars(both)
    assert bars == {"imdb_test_accuracy": {"value": 0.93, "target": 0.92, "holds": True}}
    assert rows[2] == {"model": "ULMFiT forward + backward", "test_accuracy": 0.93}
    with pytest.raises(ValueError, match="not a `ulmlite lesson` report"):
        lesson_bars({"test_accuracy": 0.8})


def test_quick_lesson_with_glove_starts_the_embedding_from_the_vectors(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "lesson"
    report = lesson.main(["--quick", "--no-backward", "--init-embeddings", "glove-50d", "--data", str(data_root),
                          "--out", str(out)])
    assert report["config"]["emb_size"] == 6 and report["init_embeddings_found"] > 0.5
    model, vocab, _ = load_model_dir(out / "forward" / "pretrained")
    words, vectors = load_vectors(data_root / "glove-50d")
    start, _ = vectors_for_vocab(vocab, words, vectors, seed=0)
    trained = model.encoder.embedding.weight.detach()
    rows = [i for i, w in enumerate(vocab.itos) if w in words]
    cosine = torch.nn.functional.cosine_similarity(trained[rows], start[rows], dim=1)
    assert cosine.mean() > 0.8  # a short run moves the rows a little; a random start would give about 0
    classifier, vocab, _ = load_model_dir(out / "forward" / "classifier")  # pads feed the classifier's LSTM nothing
    assert classifier.encoder.encoder.embedding.weight[vocab.pad_id].abs().sum() == 0


@pytest.mark.parametrize(("flag", "value"), [("--train-docs", "0"), ("--train-docs", "1"), ("--pretrain-tokens", "0"),
                                             ("--clf-epochs", "0"), ("--lm-epochs", "-1")])
def test_lesson_refuses_bad_numbers_before_doing_anything(flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit):
        lesson.main(["--quick", flag, value, "--data", str(tmp_path / "none"), "--out", str(tmp_path / "l")])
    assert flag in capsys.readouterr().err and not (tmp_path / "none").exists()
