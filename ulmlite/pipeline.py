"""What the demo and the lesson share: the three steps of ULMFiT in one or both directions, each
step reused when its folder holds a finished run from the same inputs, and the report of the
forward + backward ensemble."""

import hashlib
import json
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ulmlite import hardware, ulmfit
from ulmlite.datasets import fetch_vectors, load_vectors
from ulmlite.datasets.registry import sha256_of
from ulmlite.model_folder import load_model_dir, read_info
from ulmlite.pretrained import vectors_for_vocab
from ulmlite.text import NumericCorpus


def plot_curves(runs: dict, path: Path) -> None:
    """One row of panels per direction, one panel per step (losses; the classifier's accuracy too)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = max(len(stages) for stages in runs.values())
    fig, axes = plt.subplots(len(runs), n_cols, figsize=(4 * n_cols, 3.2 * len(runs)), squeeze=False)
    for row, (direction, stages) in zip(axes, runs.items(), strict=True):
        for ax, (name, history) in zip(row, stages.items(), strict=False):
            epochs = range(1, len(history) + 1)
            ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
            ax.plot(epochs, [h["valid_loss"] for h in history], "o-", label="valid loss")
            if name == "classifier":
                ax2 = ax.twinx()
                ax2.plot(epochs, [h["accuracy"] for h in history], "s--", color="green", label="valid accuracy")
                ax2.set_ylabel("accuracy")
            ax.set_title(f"{direction}: {name}")
            ax.set_xlabel("epoch")
            ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def embedding_vectors(name: str, root, recipe) -> tuple:
    """(recipe, vectors) for `--init-embeddings name`: the recipe with the vectors' embedding size and
    (words, vectors) fetched into `root`; for "none", the recipe as it is and None."""
    if name == "none":
        return recipe, None
    words, vectors = load_vectors(fetch_vectors(name, root))
    return replace(recipe, config=replace(recipe.config, emb_size=vectors.shape[1])), (words, vectors)


def embedding_start(name: str, vectors, vocab, seed: int) -> tuple:
    """(rows, found): the pretraining embedding's first rows for `vocab` from `vectors` (see
    embedding_vectors) and the fraction of the vocabulary they had, printed; (None, None) without vectors."""
    if vectors is None:
        return None, None
    words, matrix = vectors
    rows, found = vectors_for_vocab(vocab, words, matrix, seed=seed)
    print(f"{name}: {found:.1%} of the pretraining vocabulary has a vector; embedding size {rows.shape[1]}",
          flush=True)
    return rows, found


def _exit_with_parent() -> None:
    """A direction's process ends when the demo does: killed, the parent cannot stop its pool, and
    its two children would train on for minutes (seen, 30 minutes of both cores)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _fingerprint(*parts) -> str:
    """A hash of a step's inputs: the recipe, the seed and the token ids (arrays by their bytes)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray | torch.Tensor):
            digest.update(np.ascontiguousarray(np.asarray(part)).tobytes())
        elif isinstance(part, NumericCorpus):
            labels = part.labels.tobytes() if part.labels is not None else b""
            digest.update(part.ids.tobytes() + part.offsets.tobytes() + labels)
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _step(folder: Path, fingerprint: str, what: str, say, train):
    """(model, history) of one step: reused when `folder` holds a finished run of it from the same
    inputs (its inputs.sha256 matches; the model is then None, still in the folder), else from
    `train()`, which writes the folder and returns (model, history)."""
    marker = folder / "inputs.sha256"
    if (folder / "checkpoint.json").is_file() and marker.is_file() and marker.read_text().strip() == fingerprint:
        say(f"{what} found in {folder}: reused")
        return None, read_info(folder)["history"]
    model, history = train()
    marker.write_text(fingerprint)
    return model, history


def train_direction(job: dict) -> dict:
    """Pretrain, fine-tune and train the classifier in one direction (in a process of its own when
    both directions run), each step handing the next its model (or its folder, when reused). A
    killed run continues: finished steps are reused, the running one resumes from its last epoch's
    checkpoint. Returns the histories and the test probabilities."""
    if job["quiet"]:
        _exit_with_parent()
    torch.set_num_threads(job["threads"])
    backwards, recipe, seed, out = job["backwards"], job["recipe"], job["seed"], Path(job["out"])
    name = "backward" if backwards else "forward"
    say = (lambda text: print(f"[{name}] {text}", flush=True)) if job["quiet"] else print
    # Side by side, the two processes' bars would overwrite each other: each prints lines instead.
    progress = (lambda text: say(f"  {text}")) if job["quiet"] else True
    general_vocab, domain_vocab = job["general_vocab"], job["domain_vocab"]
    # Another run's language model in this direction (no pretraining here, no general ids), or our own.
    source = Path(job["pretrained_from"]) / name / "finetuned" if job.get("pretrained_from") else None
    if source is not None:
        keys = {"pretrained": _fingerprint(asdict(recipe), seed, backwards, sha256_of(source / "model.safetensors"))}
    else:
        train, valid = job["general_ids"]
        keys = {"pretrained": _fingerprint(asdict(recipe), seed, backwards, train, valid, general_vocab.itos,
                                           job.get("init_embeddings"))}
    keys["finetuned"] = _fingerprint(keys["pretrained"], *job["domain_ids"], domain_vocab.itos)
    keys["classifier"] = _fingerprint(keys["finetuned"], job["corpora"]["train"], job["corpora"]["valid"],
                                      job["classes"])

    def pretrain():
        say(f"pretraining on {job.get('pretrain_text', f'{len(train)} general-English')} tokens, "
            f"vocabulary {len(general_vocab)}")
        return ulmfit.pretrain(train, valid, general_vocab, recipe, out / "pretrained", backwards=backwards,
                               seed=seed, progress=progress, init_embeddings=job.get("init_embeddings"))

    pretrained: Path | tuple  # a model folder, or (model, vocab) just trained
    if source is not None:
        pretrained, pre = source, read_info(source)["history"]
        say(f"pretrained model: {source}, its last fit's history")
    else:
        model, pre = _step(out / "pretrained", keys["pretrained"], "pretrained model", say, pretrain)
        pretrained = out / "pretrained" if model is None else (model, general_vocab)
    unigram = job["unigram_perplexity"]["pretrain"]
    baseline = f", word frequencies alone {unigram:.1f}" if unigram is not None else ""
    say(f"pretrained: valid perplexity {pre[-1]['perplexity']:.1f}{baseline} ({sum(h['seconds'] for h in pre):.0f} s)")
    if unigram is not None and pre[-1]["perplexity"] > 0.8 * unigram:
        say("warning: the pretraining learned little beyond word frequencies (a run that diverged ends like "
            "this); a lower --pretrain-lr may help")
    domain_train, domain_valid = job["domain_ids"]

    def finetune():
        say(f"fine-tuning the language model on {len(domain_train)} in-domain tokens, vocabulary {len(domain_vocab)}")
        return ulmfit.finetune_lm(pretrained, domain_train, domain_valid, domain_vocab, recipe, out / "finetuned",
                                  backwards=backwards, seed=seed, progress=progress)

    model, lm = _step(out / "finetuned", keys["finetuned"], "fine-tuned model", say, finetune)
    finetuned = out / "finetuned" if model is None else (model, domain_vocab)
    unigram_lm = job["unigram_perplexity"]["finetune_lm"]
    say(f"fine-tuned: valid perplexity {lm[-1]['perplexity']:.1f}, word frequencies alone {unigram_lm:.1f} "
        f"({sum(h['seconds'] for h in lm):.0f} s)")
    corpora = {s: ulmfit.reverse_documents(c) if backwards else c for s, c in job["corpora"].items()}

    def classify():
        say(f"training the classifier on {len(corpora['train'])} documents")
        return ulmfit.train_classifier(finetuned, corpora["train"], corpora["valid"], job["classes"], recipe,
                                       out / "classifier", backwards=backwards, seed=seed, progress=progress)

    model, clf = _step(out / "classifier", keys["classifier"], "classifier", say, classify)
    if model is None:  # reused: the test set still has to be scored
        model, _, _ = load_model_dir(out / "classifier")
    kept = ulmfit.kept_epoch(clf)
    probs = ulmfit.predict_proba(model, corpora["test"])
    accuracy = float((probs.argmax(1) == corpora["test"].labels).mean())
    valid = (kept or clf[-1])["accuracy"]
    say(f"classifier: valid accuracy {valid:.4f} (epoch {kept['epoch'] if kept else 'last'} of the last stage), "
        f"test accuracy {accuracy:.4f} ({sum(h['seconds'] for h in clf):.0f} s)")
    return {"history": {"pretrain": pre, "finetune_lm": lm, "classifier": clf}, "test_probs": probs,
            "test_accuracy": accuracy, "valid_accuracy": valid, "kept_epoch": kept["epoch"] if kept else None}


def run_directions(out: Path, backward: bool, **job) -> list[dict]:
    """train_direction forward (and backward) with the shared `job` fields: one direction in this
    process, or both side by side in two, each on half the cores, writing out/forward, out/backward."""
    directions = [False, True] if backward else [False]
    threads = max(1, torch.get_num_threads() // len(directions))
    jobs = [{**job, "backwards": b, "threads": threads, "quiet": len(directions) > 1,
             "out": str(Path(out) / ("backward" if b else "forward"))} for b in directions]
    if len(jobs) == 1:
        return [train_direction(jobs[0])]
    print(f"training the forward and the backward model side by side, {threads} thread(s) each")
    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(train_direction, jobs))


def ensemble_report(results: list[dict], labels, classes: list[str], recipe, precision,
                    accuracy_key: str = "test_accuracy") -> dict:
    """The report fields the demo and the lesson share: the test accuracy of the directions'
    averaged probabilities (the ensemble) under `accuracy_key`, each direction's own, what the run
    trained on and in, the recipe and the histories."""
    probs = np.mean([r["test_probs"] for r in results], axis=0)
    names = ["forward", "backward"][: len(results)]
    return {
        accuracy_key: float((probs.argmax(1) == labels).mean()), "models": names,
        **{f"{n}_{k}": r[k] for n, r in zip(names, results, strict=True)
           for k in ("test_accuracy", "valid_accuracy", "kept_epoch")},
        "test_documents": len(labels),
        "cpu": hardware.cpu_info().describe(), "precision": precision.precision, "precision_reason": precision.reason,
        "gemm_path": hardware.gemm_path(),
        "confusion_matrix": ulmfit.confusion_matrix(labels, probs.argmax(1), len(classes)).tolist(),
        "classes": classes, "recipe": {k: v for k, v in asdict(recipe).items() if k != "config"},
        "config": asdict(recipe.config),
        "history": {n: r["history"] for n, r in zip(names, results, strict=True)},
    }


def write_report(out: Path, report: dict) -> str:
    """report.json and curves.png into `out`; returns "forward alone 0.xxxx, backward alone ..."."""
    (out / "report.json").write_text(json.dumps(report, indent=1))
    plot_curves(report["history"], out / "curves.png")
    return ", ".join(f"{n} alone {report[f'{n}_test_accuracy']:.4f}" for n in report["models"])
