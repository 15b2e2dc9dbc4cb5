"""The `ulmlite` command end to end on a tiny corpus, and its errors on bad input."""

import csv
import json
import subprocess
import sys

import pytest

from ulmlite.cli import main

WORDS = "the a film movie was is good bad great awful plot actor story scene fun dull".split()
TINY = ["--emb-size", "8", "--hidden-size", "16", "--n-layers", "2", "--max-vocab", "200", "--bptt", "12",
        "--lm-bs", "8", "--clf-bs", "16", "--pretrain-epochs", "1", "--lm-epochs", "1", "--clf-epochs", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import numpy as np

    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    general = "\n\f\n".join(" ".join(rng.choice(WORDS, 60)) + " ." for _ in range(60))
    (root / "general.txt").write_text(general)
    for split, n in (("train", 120), ("valid", 40), ("test", 40)):
        with open(root / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            for k in range(n):
                label = "pos" if k % 2 else "neg"
                word = "great" if label == "pos" else "awful"
                writer.writerow([label, " ".join(rng.choice(WORDS, 8)) + f" {word} {word} ."])
    return root


def run(*argv):
    assert main([str(a) for a in argv]) == 0


def test_the_whole_recipe_from_the_command_line(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    run("pretrain", corpus / "general.txt", "--out", tmp_path / "pre", *TINY)
    assert json.loads((tmp_path / "pre" / "checkpoint.json").read_text())["kind"] == "lm"
    run("finetune-lm", tmp_path / "pre", corpus / "train.csv", "--format", "csv", "--out", tmp_path / "lm", *TINY)
    said = capsys.readouterr().out
    assert said.count("valid perplexity") == 2 and said.count("(word frequencies alone: ") == 2
    run("train-classifier", tmp_path / "lm", "--train", corpus / "train.csv", "--valid", corpus / "valid.csv",
        "--out", tmp_path / "clf", *TINY, "--clf-lr", "0.03", "--discriminative", "on", "--keep-best", "on")
    assert json.loads((tmp_path / "clf" / "checkpoint.json").read_text())["kept_epoch"]["epoch"] == 1
    for flag in ([], ["--backwards"]):
        name = "lm_bwd" if flag else "lm"
        if flag:
            run("finetune-lm", tmp_path / "pre", corpus / "train.csv", "--format", "csv", "--out", tmp_path / name,
                *TINY, *flag)
            run("train-classifier", tmp_path / name, "--train", corpus / "train.csv", "--valid", corpus / "valid.csv",
                "--out", tmp_path / "clf_bwd", *TINY, *flag, "--clf-lr", "0.03")
    capsys.readouterr()
    run("predict", tmp_path / "clf", "--text", "the film was great great .")
    label, *probs = capsys.readouterr().out.split()
    assert label in ("neg", "pos") and abs(sum(float(p.split("=")[1]) for p in probs) - 1) < 1e-3
    run("predict", tmp_path / "clf", "--csv", corpus / "test.csv", "--out", tmp_path / "pred.csv")
    rows = list(csv.reader(open(tmp_path / "pred.csv")))
    assert rows[0] == ["prediction", "neg", "pos"] and len(rows) == 41
    capsys.readouterr()
    run("evaluate", tmp_path / "clf", "--csv", corpus / "test.csv", "--backward", tmp_path / "clf_bwd")
    out = capsys.readouterr().out
    assert "accuracy" in out and "forward + backward ensemble" in out and "pos" in out
    accuracy = float(out.split()[1])
    assert 0.0 <= accuracy <= 1.0
    run("generate", tmp_path / "lm", "--prompt", "the film", "-n", "10", "--seed", "1")
    first = capsys.readouterr().out
    run("generate", tmp_path / "lm", "--prompt", "the film", "-n", "10", "--seed", "1")
    assert capsys.readouterr().out == first and "_unk_" not in first


def cli(*argv):
    return subprocess.run([sys.executable, "-m", "ulmlite.cli", *map(str, argv)], capture_output=True, text=True)


@pytest.mark.parametrize("argv, message", [
    (["predict", "{tmp}/nowhere", "--text", "hi"], "not a ulmlite model folder"),
    (["evaluate", "{tmp}/nowhere", "--csv", "{tmp}/x.csv"], "not a ulmlite model folder"),
    (["tokenize", "{tmp}/empty.csv", "--format", "csv", "--out", "{tmp}/o"], "empty file"),
    (["tokenize", "{tmp}/unlabelled.csv", "--format", "csv", "--out", "{tmp}/o"], r"no column\(s\) \['label'\]"),
    (["tokenize", "{tmp}/unlabelled.csv", "--format", "csv", "--text-cols", "body", "--label-col", "", "--out",
      "{tmp}/o"], r"no column\(s\) \['body'\]"),
    (["convert-fastai", "{tmp}/empty.csv", "{tmp}/empty.csv", "--out", "{tmp}/o"], "not a readable PyTorch"),
])
def test_bad_input_gives_one_line_and_non_zero_exit(tmp_path, argv, message):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "unlabelled.csv").write_text("text\nhello\n")
    result = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ulmlite ") and "error" in lines[0], result.stderr
    import re

    assert re.search(message, lines[0]), lines[0]


def test_debug_shows_the_traceback(tmp_path):
    result = cli("--debug", "predict", tmp_path / "nowhere", "--text", "x")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_mismatched_checkpoint(tmp_path, corpus, monkeypatch):
    """A model folder whose weights were replaced by another architecture's."""
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    run("pretrain", corpus / "general.txt", "--out", tmp_path / "a", *TINY)
    run("pretrain", corpus / "general.txt", "--out", tmp_path / "b", *TINY[:2], "--hidden-size", "20", *TINY[4:])
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "b" / "model.safetensors").read_bytes())
    result = cli("generate", tmp_path / "a", "--prompt", "the")
    assert result.returncode != 0
    (tmp_path / "b" / "model.safetensors").write_bytes(b"\x00" * 10)
    result2 = cli("generate", tmp_path / "b", "--prompt", "the")
    assert result2.returncode != 0 and len(result2.stderr.strip().splitlines()) == 1, result2.stderr


@pytest.mark.parametrize("flags, precision", [([], None), (["--precision", "fp32"], "fp32"),
                                              (["--precision", "bf16"], "bf16"), (["--bf16"], "bf16")])
def test_training_says_its_precision_and_why(corpus, tmp_path, monkeypatch, capsys, flags, precision):
    """auto (no flag) follows this CPU (ulmlite.hardware); fp32 and bf16 are taken as asked."""
    import warnings

    from ulmlite import hardware

    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bf16 where emulated: slow, and said so
        run("pretrain", corpus / "general.txt", "--out", tmp_path / "pre", *TINY, "--max-tokens", "600", *flags)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("training in "))
    expected = precision or hardware.choose_precision("auto").precision
    assert line.startswith(f"training in {expected}: ")
    assert ("auto: " in line) == (precision is None) and line.endswith(f"CPU GEMM path {hardware.gemm_path()}")


def test_bf16_and_another_precision_are_refused_together(tmp_path):
    result = cli("pretrain", tmp_path / "x.txt", "--out", tmp_path / "o", "--bf16", "--precision", "fp32")
    assert result.returncode != 0
    assert "--bf16 means --precision bf16, but --precision fp32 was given too" in result.stderr


def test_lesson_subcommand_passes_its_own_flags_through(capsys):
    """`ulmlite lesson ...` hands every argument, --help included, to the lesson's own parser."""
    from ulmlite import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["lesson", "--help"])
    assert exit_info.value.code == 0 and "--train-docs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["lesson", "--train-docs", "1"])
    assert exit_info.value.code == 2 and "--train-docs must be at least 2" in capsys.readouterr().err


def test_training_commands_read_what_tokenize_wrote(corpus, tmp_path, monkeypatch):
    """One pipeline: a `tokenize` folder trains exactly as the text it was made from."""
    monkeypatch.setenv("ULMLITE_CACHE", str(tmp_path / "cache"))
    run("tokenize", corpus / "general.txt", "--out", tmp_path / "general", "--label-col", "")
    for split in ("train", "valid"):
        run("tokenize", corpus / f"{split}.csv", "--out", tmp_path / split)
    run("pretrain", tmp_path / "general", "--out", tmp_path / "pre", *TINY)
    run("pretrain", corpus / "general.txt", "--out", tmp_path / "pre_text", *TINY)
    tokenized, text = (json.loads((tmp_path / d / "checkpoint.json").read_text()) for d in ("pre", "pre_text"))
    assert tokenized["vocab"] == text["vocab"] and tokenized["history"][0]["valid_loss"] == text["history"][0][
        "valid_loss"]
    run("finetune-lm", tmp_path / "pre", tmp_path / "train", "--out", tmp_path / "lm", *TINY)
    run("train-classifier", tmp_path / "lm", "--train", tmp_path / "train", "--valid", tmp_path / "valid",
        "--out", tmp_path / "clf", *TINY)
    assert json.loads((tmp_path / "clf" / "checkpoint.json").read_text())["classes"] == ["neg", "pos"]
    result = cli("train-classifier", tmp_path / "lm", "--train", tmp_path / "general", "--valid", tmp_path / "valid",
                 "--out", tmp_path / "clf2", *TINY)
    assert result.returncode != 0 and "has no labels" in result.stderr


def test_every_recipe_field_has_a_flag():
    """The flags are derived from Recipe and AWDLSTMConfig: each one sets its field, and only it."""
    from dataclasses import asdict

    from ulmlite.cli import build_parser
    from ulmlite.cli.recipe_flags import CHOICES, recipe_fields, recipe_from_args
    from ulmlite.ulmfit import Recipe

    base = asdict(Recipe.small())
    seen = 0
    for owner, field in recipe_fields():
        expected = base if owner == "recipe" else base["config"]
        default = expected[field.name]
        if field.type is bool:
            value = "off" if default else "on"
        elif field.type is str:
            value = next(c for c in CHOICES[field.name] if c != default)
        else:
            value = str(field.type(default * 2 + 1))
        args = build_parser().parse_args(["pretrain", "x.txt", "--out", "o", f"--{field.name.replace('_', '-')}",
                                          value])
        changed = asdict(recipe_from_args(args))
        where = changed if owner == "recipe" else changed["config"]
        assert where[field.name] != default, field.name
        others = {k: v for k, v in where.items() if k not in (field.name, "config")}
        assert others == {k: v for k, v in expected.items() if k not in (field.name, "config")}, field.name
        seen += 1
    assert seen >= 20


@pytest.mark.parametrize("flag, value, message", [("--clip", "0", "--clip must be positive"),
                                                  ("--lm-lr", "-1", "--lm-lr must be positive"),
                                                  ("--lm-epochs", "-1", "--lm-epochs must be at least 0")])
def test_bad_recipe_values_are_refused(corpus, tmp_path, flag, value, message):
    result = cli("pretrain", corpus / "general.txt", "--out", tmp_path / "o", flag, value)
    assert result.returncode != 0 and message in result.stderr, result.stderr
