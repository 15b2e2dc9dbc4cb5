"""`make demo`'s plumbing (`--quick`) on a tiny data folder the test writes: both directions
train in their own processes, and the report holds what the issue asks for."""

import csv
import json

import numpy as np
import pytest
import torch

from ulmlite import demo, ulmfit
from ulmlite.datasets import load_vectors
from ulmlite.datasets.vectors import _write_vectors
from ulmlite.pretrained import vectors_for_vocab
from ulmlite.ulmfit import load_model_dir

WORDS = "the a film movie was is plot actor story scene director music".split()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_data")
    rng = np.random.default_rng(0)
    (root / "rt_polarity").mkdir()
    for split, n in (("train", 160), ("valid", 60), ("test", 60)):
        with open(root / "rt_polarity" / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text", "movie"])
            for k in range(n):
                label = "fresh" if k % 2 else "rotten"
                cue = "great" if label == "fresh" else "awful"
                writer.writerow([label, " ".join(rng.choice(WORDS, 10)) + f" {cue} {cue} .", f"movie_{k % 7}"])
    plots = [" ".join(rng.choice(WORDS, 30)) + " ." for _ in range(20)]
    (root / "rt_polarity" / "unlabelled_plots.txt").write_text("\n".join(plots) + "\n", encoding="utf-8")
    (root / "imdb").mkdir()  # the reviews' text joins general English in pretraining
    for split in ("train", "valid", "test"):
        with open(root / "imdb" / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            for k in range(40):
                writer.writerow(["pos" if k % 2 else "neg", " ".join(rng.choice(WORDS, 30)) + "<br /><br />ok ."])
    (root / "general_en").mkdir()
    general = "\n\f\n".join(" ".join(rng.choice(WORDS + ["great", "awful"], 80)) + " ." for _ in range(80))
    (root / "general_en" / "train.txt").write_text(general + "\n", encoding="utf-8")
    words = WORDS + ["great", "awful"]
    _write_vectors(root / "glove-50d", words, rng.normal(0, 0.5, (len(words), 6)), "test vectors")
    return root


def test_quick_demo_trains_both_directions_and_reports(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    report = demo.main(["--quick", "--pretrain-on", "general+imdb", "--imdb-share", "0.9", "--data", str(data_root),
                        "--out", str(out)])
    saved = json.loads((out / "report.json").read_text())
    assert saved["test_accuracy"] == report["test_accuracy"]
    for key in ("test_accuracy", "baseline_tfidf_lr_accuracy", "forward_test_accuracy", "backward_test_accuracy",
                "forward_valid_accuracy", "backward_valid_accuracy"):
        assert 0.0 <= saved[key] <= 1.0, key
    assert saved["seconds"] > 0 and saved["models"] == ["forward", "backward"] and saved["test_documents"] == 60
    assert sum(map(sum, saved["confusion_matrix"])) == 60
    assert set(saved["unigram_perplexity"]) == {"pretrain", "finetune_lm"}
    assert all(value > 1.0 for value in saved["unigram_perplexity"].values())
    assert set(saved["history"]) == {"forward", "backward"}
    for direction in ("forward", "backward"):
        assert set(saved["history"][direction]) == {"pretrain", "finetune_lm", "classifier"}
        meta = json.loads((out / direction / "classifier" / "checkpoint.json").read_text())
        assert meta["kind"] == "classifier" and meta["backwards"] == (direction == "backward")
        assert meta["kept_epoch"]["epoch"] == 1 and 0.0 <= meta["kept_epoch"]["accuracy"] <= 1.0  # --quick: 1 epoch
    assert (out / "curves.png").stat().st_size > 0
    assert saved["pretrain_on"] == "general+imdb" and "IMDB reviews" in saved["pretrain_text"]
    # --imdb-share 0.9 of --quick's 30k tokens: general English gets 3k (95% of them for training); the
    # reviews' 27k are more than the fixture has, so it gives what it has.
    parts = saved["pretrain_parts"]
    assert set(parts) == {"general English", "IMDB reviews"} and sum(parts.values()) == saved["pretrain_tokens"]
    assert abs(parts["general English"] - 0.95 * 3000) < 30 and 0 < parts["IMDB reviews"] < 0.95 * 27000
    assert saved["default_settings"] is False and saved["quick"] is True  # --pretrain-on, --imdb-share were set
    assert saved["seed"] == 0
    check_demo_bars(saved)


def check_demo_bars(saved: dict) -> None:
    """benchmarks/demo_bars.py on a real (quick) report: refused as it is, for other settings than the
    demo's own and for one direction; the margin over TF-IDF (the mean over seeds) and the time from a
    fresh clone (the slowest run's) otherwise."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from demo_bars import demo_bars

    with pytest.raises(ValueError, match="--quick"):
        demo_bars([saved])
    with pytest.raises(ValueError, match="default settings"):
        demo_bars([{**saved, "quick": False}])
    default = {**saved, "quick": False, "default_settings": True, "test_accuracy": 0.78,
               "baseline_tfidf_lr_accuracy": 0.75, "seconds": 900.0}
    rows, bars, extra = demo_bars([default])
    assert bars == {"demo_margin_over_tfidf": {"value": pytest.approx(0.03), "target": 0.02, "holds": True}}
    assert rows[0]["seed"] == 0 and rows[0]["forward_backward"] == 0.78 and rows[0]["tfidf_lr"] == 0.75
    assert rows[0]["forward"] == saved["forward_test_accuracy"] and rows[0]["minutes"] == 15.0
    assert extra["minutes_from_a_fresh_clone"] is None and extra["runs"][0]["perplexity"]["backward"]["pretrain"] > 1
    seed1 = {**default, "seed": 1, "test_accuracy": 0.755, "seconds": 1000.0}  # +0.5 points, and slower
    _, bars, extra = demo_bars([default, seed1], setup_seconds=200.0)
    assert bars["demo_margin_over_tfidf"] == {"value": pytest.approx(0.0175), "target": 0.02, "holds": False}
    assert bars["demo_minutes"] == {"value": 20.0, "target": 20.0, "holds": True}  # the slower run: 1000 + 200 s
    assert extra["seeds"] == [0, 1] and extra["minutes_from_a_fresh_clone"] == 20.0
    with pytest.raises(ValueError, match="the same seed twice"):
        demo_bars([default, default])
    with pytest.raises(ValueError, match="different precisions"):
        demo_bars([default, {**seed1, "precision": "bf16" if default["precision"] == "fp32" else "fp32"}])
    with pytest.raises(ValueError, match="one direction"):
        demo_bars([{**default, "models": ["forward"]}])
    with pytest.raises(ValueError, match="--setup-seconds"):
        demo_bars([default], setup_seconds=float("nan"))
    with pytest.raises(ValueError, match="not a `make demo` report"):
        demo_bars([{"imdb_test_accuracy": 0.9, "baseline_tfidf_lr_accuracy": 0.8}])
    with pytest.raises(ValueError, match="no report"):
        demo_bars([])


def test_quick_demo_forward_only(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    report = demo.main(["--quick", "--no-backward", "--data", str(data_root), "--out", str(tmp_path / "demo")])
    assert report["models"] == ["forward"] and report["test_accuracy"] == report["forward_test_accuracy"]
    sizes = demo.BF16_SIZES if report["precision"] == "bf16" else demo.FP32_SIZES
    assert report["default_settings"] is False  # --no-backward
    assert report["init_embeddings"] == sizes.init_embeddings and report["pretrain_on"] == sizes.pretrain_on


@pytest.mark.parametrize(("argv", "default"), [
    (["--data", "d", "--out", "o", "--seed", "3"], True), ([], True), (["--quick"], True),
    (["--pretrain-tokens", "1500000"], False), (["--init-embeddings", "none"], False), (["--no-backward"], False),
    (["--precision", "fp32"], False), (["--imdb-share", "0.5"], True),  # the default's own value is the default
])
def test_default_settings_are_what_make_demo_runs(argv, default):
    parser = demo.build_parser()
    assert demo.default_settings(parser.parse_args(argv), parser) is default


def test_float32_demo_starts_from_glove_by_default(data_root, tmp_path, monkeypatch, capsys):
    """Where training runs in float32 the demo pretrains less, from GloVe rows (the fixture's 6-d ones)."""
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    report = demo.main(["--quick", "--no-backward", "--precision", "fp32", "--data", str(data_root),
                        "--out", str(tmp_path / "demo")])
    assert report["precision"] == "fp32" and report["init_embeddings"] == "glove-50d"
    assert report["config"]["emb_size"] == 6 and report["pretrain_on"] == "general+imdb"
    assert report["recipe"]["lm_epochs"] == 1 and report["recipe"]["clf_epochs"] == 1  # --quick's
    assert "float32: 450k pretraining tokens (general+imdb, embedding from glove-50d)" in capsys.readouterr().out


def test_bfloat16_sizes_are_the_small_recipes_epochs():
    small = ulmfit.Recipe.small()
    assert (demo.BF16_SIZES.lm_epochs, demo.BF16_SIZES.clf_epochs) == (small.lm_epochs, small.clf_epochs)
    assert demo.FP32_SIZES.pretrain_tokens < demo.BF16_SIZES.pretrain_tokens


def test_quick_demo_with_glove_starts_the_pretraining_embedding_from_the_vectors(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    report = demo.main(["--quick", "--no-backward", "--init-embeddings", "glove-50d", "--data", str(data_root),
                        "--out", str(out)])
    assert report["config"]["emb_size"] == 6 and report["init_embeddings"] == "glove-50d"
    assert report["init_embeddings_found"] > 0.5  # all the fixture's words but the special tokens
    model, vocab, _ = load_model_dir(out / "forward" / "pretrained")
    words, vectors = load_vectors(data_root / "glove-50d")
    start, _ = vectors_for_vocab(vocab, words, vectors, seed=0)
    rows = [i for i, w in enumerate(vocab.itos) if w in words]
    cosine = torch.nn.functional.cosine_similarity(model.encoder.embedding.weight.detach()[rows], start[rows], dim=1)
    assert cosine.mean() > 0.8  # a short run moves the rows a little; a random start would give about 0
    plain = demo.main(["--quick", "--no-backward", "--init-embeddings", "none", "--data", str(data_root),
                       "--out", str(tmp_path / "plain")])
    assert plain["init_embeddings"] == "none" and plain["init_embeddings_found"] is None
    assert plain["config"]["emb_size"] == 16  # --quick's own size when no vectors set it


def test_demo_refuses_glove_with_a_lesson_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--quick", "--init-embeddings", "glove-50d", "--pretrained-from", str(tmp_path),
                   "--data", str(tmp_path / "none"), "--out", str(tmp_path / "d")])
    assert exit_info.value.code == 2 and "--init-embeddings" in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and not (tmp_path / "d").exists()


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--pretrain-lr", "0", "--pretrain-lr must be between 0 and 1"),
    ("--pretrain-lr", "-1e-3", "--pretrain-lr must be between 0 and 1"),
    ("--pretrain-lr", "3", "--pretrain-lr must be between 0 and 1"),
    ("--pretrain-lr", "nan", "--pretrain-lr must be between 0 and 1"),
    ("--imdb-share", "0", "--imdb-share must be between 0 and 1"),
    ("--imdb-share", "1", "--imdb-share must be between 0 and 1"),
    ("--imdb-share", "nan", "--imdb-share must be between 0 and 1"),
    ("--pretrain-tokens", "0", "--pretrain-tokens must be positive"),
    ("--pretrain-tokens", "-5", "--pretrain-tokens must be positive"),
])
def test_demo_refuses_bad_numbers_before_doing_anything(flag, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--quick", f"{flag}={value}", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "d")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and not (tmp_path / "d").exists()  # refused before anything


def test_spread_documents_takes_evenly_spaced_documents_or_the_first_ones():
    from ulmlite.text import TokenCorpus, Vocab

    # 40 documents of 10 tokens each: the first 20 say "bad", the last 20 "good" (a sorted file).
    strings = ["bad", "good"]
    ids = np.repeat([0] * 20 + [1] * 20, 10).astype(np.int32)
    tokens = TokenCorpus(strings, ids, np.arange(0, 401, 10))
    vocab = Vocab(["_unk_", "_pad_", "bad", "good"])
    train, valid = demo.spread_documents(tokens, vocab, 100)
    both = np.concatenate([train, valid])
    assert len(both) == 100 and set(both.tolist()) == {2, 3}  # both halves of the file
    first, rest = demo.spread_documents(tokens, vocab, 100, spread=False)
    assert set(np.concatenate([first, rest]).tolist()) == {2}  # the first documents only
    assert len(train) == 95 and len(first) == 95


def test_quick_demo_starts_from_a_lesson_runs_language_model(data_root, tmp_path, monkeypatch, capsys):
    from ulmlite import lesson
    from ulmlite.model_folder import language_model

    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    lesson_run = tmp_path / "lesson"
    lesson.main(["--quick", "--no-backward", "--data", str(data_root), "--out", str(lesson_run)])
    capsys.readouterr()
    out = tmp_path / "demo"
    report = demo.main(["--quick", "--no-backward", "--pretrained-from", str(lesson_run), "--data", str(data_root),
                        "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"pretrained model: {lesson_run / 'forward' / 'finetuned'}" in printed and "pretraining on" not in printed
    assert not (out / "forward" / "pretrained").exists()  # nothing was pretrained here
    assert report["pretrain_on"] == "lesson" and str(lesson_run) in report["pretrain_text"]
    # The demo's language model has the lesson model's sizes (not the demo's --quick ones) and its weights
    # came from there: an LSTM matrix moved by one fit of a few batches, not a fresh random one.
    lesson_lm, _ = language_model(lesson_run / "forward" / "finetuned")
    demo_lm, _ = language_model(out / "forward" / "finetuned")
    assert demo_lm.config.hidden_size == lesson_lm.config.hidden_size
    key = next(k for k in demo_lm.state_dict() if k.startswith("encoder.rnns.1.") and "weight_hh" in k)
    before, after = (m.state_dict()[key] for m in (lesson_lm, demo_lm))
    fresh = type(demo_lm)(demo_lm.config).state_dict()[key]
    assert (after - before).abs().mean() < 0.1 * (fresh - before).abs().mean()
    # A rerun reuses the demo's own steps; the lesson's report is not needed (its classifiers may still train).
    (lesson_run / "report.json").unlink()
    again = demo.main(["--quick", "--no-backward", "--pretrained-from", str(lesson_run), "--data", str(data_root),
                       "--out", str(out)])
    assert "fine-tuned model found in" in capsys.readouterr().out
    assert again["test_accuracy"] == report["test_accuracy"]


def test_demo_refuses_a_pretrained_from_folder_that_is_no_lesson_run(tmp_path, capsys):
    # forward finished; backward's fit is still going (a checkpoint, no inputs.sha256 yet)
    for direction, files in (("forward", ("model.safetensors", "inputs.sha256")), ("backward", ("model.safetensors",))):
        (tmp_path / "half" / direction / "finetuned").mkdir(parents=True)
        for name in files:
            (tmp_path / "half" / direction / "finetuned" / name).write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        demo.main(["--quick", "--pretrained-from", str(tmp_path / "half"), "--data", str(tmp_path / "none"),
                   "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "whose language-model fine-tuning finished" in err
    assert "backward/finetuned" in err
    assert not (tmp_path / "none").exists() and not (tmp_path / "d").exists()
