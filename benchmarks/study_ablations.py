"""Does it reproduce? ULMFiT's ablations (Howard & Ruder 2018, Tables 4, 6, 7, Figure 3 and the
forward + backward ensemble) at CPU scale on real data: Rotten Tomatoes snippets (fresh / rotten,
split by movie) from ../shared/data, pretraining on its general-English corpus.

Every configuration is trained with seeds 0, 1, 2 (the data order, dropout masks and new weights
change; the pretrained language model is shared, as the paper's single WikiText-103 model was).
Each finished run is cached as JSON under benchmarks/results/ablations/, so the study resumes where it
stopped and the report regenerates without training: `--report` only reads the cache. The report is
benchmarks/results/ablations.json.

The model is ulmlite's `Recipe.small()` (embedding 128, hidden 384, 3 layers, vocabulary 15k,
bfloat16 autocast), the same as `make demo`. Baselines on the same split: TF-IDF (word 1-2-grams) +
logistic regression, and NBSVM (Wang & Manning 2012; the NB-weighted logistic-regression variant).

    python benchmarks/study_ablations.py [--only table4,table7,...] [--seeds 3] [--report]
"""

import argparse
import json
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, write_results  # noqa: E402

from ulmlite import ulmfit  # noqa: E402
from ulmlite.nn import LanguageModel  # noqa: E402
from ulmlite.text import NumericCorpus, PlainTextCorpus, Tokenizer, read_csv, read_lines  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAME = "ablations"  # the report's and the cache's name under results/ (the docs read them)
CACHE = Path(__file__).resolve().parent / "results" / NAME
WORK = Path(__file__).resolve().parents[1] / "runs" / "study"  # model folders (not committed)
CLASSES = ["rotten", "fresh"]
LOW_SHOT = [100, 300, 1000, 3000, None]  # None: every training label
# Recipe.small as the study ran it: the paper's choices are the variables here, so the classifier's
# rates and epochs come from each method below, and the last epoch is the one evaluated. Its
# pretraining rate, classifier rate and dropouts are the ones Recipe.small had then (the demo's now differ).
RECIPE = replace(ulmfit.Recipe.small(), clf_keep_best=False, clf_lr=1e-2, clf_drop_mult=0.5, pretrain_lr=1e-2)
EPOCHS = RECIPE.clf_epochs + 2  # every classifier variant gets the same number of epochs as ULMFiT's three stages

# Table 7's classifier fine-tuning methods: (stages, discriminative). A stage is (trainable, epochs,
# schedule args); trainable n = layer groups n.. (freeze_to), ("only", n) = group n alone.
CONSTANT = dict(schedule="constant")


def _freez(schedule: dict) -> list:
    return [(-1, 1, schedule), (-2, 1, schedule), (0, EPOCHS - 2, schedule)]


STLR_STAGES = [(-1, 1, dict(cut_frac=1 / 3, ratio=8)), (-2, 1, dict(cut_frac=1 / 3, ratio=8)),
               (0, EPOCHS - 2, dict(cut_frac=0.1, ratio=32))]
CLASSIFIER_METHODS = {
    "from scratch": (STLR_STAGES, True),  # the same schedule, with an untrained encoder
    "full": ([(0, EPOCHS, CONSTANT)], False),
    "full + discr": ([(0, EPOCHS, CONSTANT)], True),
    "last": ([(-1, EPOCHS, CONSTANT)], False),
    "chain-thaw": ([(-1, 1, CONSTANT)] + [(("only", g), 1, CONSTANT) for g in range(4)] + [(0, EPOCHS - 5, CONSTANT)],
                   False),  # Felbo et al. 2017: the head, then each layer alone, then everything
    "freez": (_freez(CONSTANT), False),
    "freez + discr": (_freez(CONSTANT), True),
    "freez + stlr": (STLR_STAGES, False),
    "freez + cos": (_freez(dict(schedule="cosine")), False),
    "ULMFiT": (STLR_STAGES, True),
}
ENSEMBLE_METHODS = ["ULMFiT", "freez + stlr"]  # each also trained backwards, then averaged
# Table 6's LM fine-tuning: (epochs or None for none, discriminative, schedule).
LM_METHODS = {
    "no LM fine-tuning": (False, False, "stlr"),
    "full": (True, False, "constant"),
    "full + discr": (True, True, "constant"),
    "full + discr + stlr": (True, True, "stlr"),  # ULMFiT's
}


# --- data -----------------------------------------------------------------------------------------


def take(corpus: NumericCorpus, index: np.ndarray) -> NumericCorpus:
    docs = [corpus.doc(k) for k in index]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    ids = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
    return NumericCorpus(ids, offsets, corpus.labels[index])


class Data:
    """Tokenized splits (cached by the tokenizer), the in-domain vocabulary, and the id streams."""

    def __init__(self):
        tokenizer = Tokenizer(progress=False)
        splits = {s: read_csv(DATA / "rt_polarity" / f"{s}.csv", classes=CLASSES) for s in ("train", "valid", "test")}
        self.texts = splits
        tokens = {s: tokenizer.corpus(list(d.docs), name=f"rt_{s}") for s, d in splits.items()}
        plots = read_lines(DATA / "rt_polarity" / "unlabelled_plots.txt")
        self.plot_tokens = tokenizer.corpus(plots, name="rt_plots")
        domain = tokenizer.corpus(list(splits["train"].docs) + plots, name="rt_train+plots")
        self.tokens = tokens
        general = tokenizer.corpus(PlainTextCorpus(DATA / "general_en" / "train.txt"), name="general_en")
        # The same streams the recipe gives every caller: general English cut 95 / 5, the in-domain
        # text validated on the validation snippets.
        *self.general_split, self.general_vocab = ulmfit.lm_streams(general, RECIPE)
        self.domain_ids, self.valid_ids, self.vocab = ulmfit.lm_streams(domain, RECIPE, valid=tokens["valid"])
        self.corpora = {(s, b): ulmfit.classifier_corpus(t, self.vocab, splits[s].labels, backwards=b)
                        for s, t in tokens.items() for b in (False, True)}

    def subset(self, size: int | None, seed: int) -> np.ndarray:
        n = len(self.texts["train"])
        if size is None or size >= n:
            return np.arange(n)
        return np.sort(np.random.default_rng(1000 + seed).choice(n, size, replace=False))


# --- the steps, each cached -----------------------------------------------------------------------


def pretrained(data: Data, backwards: bool) -> Path:
    out = WORK / f"pretrained-{'bwd' if backwards else 'fwd'}"
    if not (out / "checkpoint.json").exists():
        train, valid = data.general_split  # the loader reads them right to left for a backward model
        ulmfit.pretrain(train, valid, data.general_vocab, RECIPE, out, backwards=backwards, seed=0, progress=False)
    return out


def random_lm(data: Data) -> Path:
    """An untrained language model with the in-domain vocabulary: Table 4's "without pretraining"."""
    out = WORK / "random-lm"
    if not (out / "checkpoint.json").exists():
        torch.manual_seed(0)
        model = LanguageModel(ulmfit.scale_dropouts(replace(RECIPE.config, vocab_size=len(data.vocab)),
                                                    RECIPE.pretrain_drop_mult))
        ulmfit.save_model_dir(out, model, data.vocab, "lm")
    return out


def finetuned(data: Data, start: Path, method: str, seed: int, backwards=False, subset: np.ndarray | None = None,
              tag: str = "") -> Path:
    out = WORK / f"lm-{tag or start.name}-{method.replace(' ', '')}-{'bwd' if backwards else 'fwd'}-seed{seed}"
    if (out / "checkpoint.json").exists():
        return out
    train, discriminative, schedule = LM_METHODS[method]
    recipe = RECIPE if train else replace(RECIPE, lm_last_epochs=0, lm_epochs=0)
    if subset is None:
        ids = data.domain_ids
    else:  # supervised low-shot: only the labelled snippets' text
        ids = np.concatenate([data.corpora[("train", False)].doc(k) for k in subset])
    ulmfit.finetune_lm(start, ids, data.valid_ids, data.vocab, recipe, out, backwards=backwards, seed=seed,
                       progress=False, discriminative=discriminative, schedule=schedule)
    return out


def classify(data: Data, lm: Path, method: str, seed: int, backwards=False, subset: np.ndarray | None = None) -> dict:
    """Train one classifier; its folder (and its per-stage checkpoints, so a killed study resumes
    mid-run) is removed once the errors and test probabilities are recorded."""
    stages, discriminative = CLASSIFIER_METHODS[method]
    size = "all" if subset is None else len(subset)
    out = WORK / f"clf-{lm.name}-{method.replace(' ', '')}-{size}-{'bwd' if backwards else 'fwd'}-seed{seed}"
    train = data.corpora[("train", backwards)]
    if subset is not None:
        train = take(train, subset)
    start = time.perf_counter()
    model, history = ulmfit.train_classifier(
        lm, train, data.corpora[("valid", backwards)], CLASSES, RECIPE, out, backwards=backwards,
        seed=seed, progress=False, pretrained_encoder=method != "from scratch", schedule=stages,
        discriminative=discriminative)
    probs = {s: ulmfit.predict_proba(model, data.corpora[(s, backwards)]) for s in ("valid", "test")}
    errors = {f"{s}_error": float((p.argmax(1) != data.corpora[(s, backwards)].labels).mean())
              for s, p in probs.items()}
    shutil.rmtree(out, ignore_errors=True)
    return {**errors, "seconds": time.perf_counter() - start, "history": history,
            "test_probs": probs["test"][:, 1].round(5).tolist()}


def cached(key: str, compute) -> dict:
    path = CACHE / f"{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    errors = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k.endswith("_error"))
    print(f"  {key}: {errors}", flush=True)
    return result


# --- the experiments ------------------------------------------------------------------------------


def baselines(data: Data) -> dict:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train, valid, test = (data.texts[s] for s in ("train", "valid", "test"))
    out = {}
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(C=4.0, max_iter=2000).fit(tfidf.fit_transform(train.docs), train.labels)
    for s, d in (("valid", valid), ("test", test)):
        out[f"tfidf_lr_{s}_error"] = float((clf.predict(tfidf.transform(d.docs)) != d.labels).mean())
    # NBSVM: binarized 1-2-gram counts scaled by the NB log-count ratio r, then logistic regression.
    counts = CountVectorizer(ngram_range=(1, 2), binary=True)
    x = counts.fit_transform(train.docs)
    p = np.asarray(x[train.labels == 1].sum(0)).ravel() + 1.0
    q = np.asarray(x[train.labels == 0].sum(0)).ravel() + 1.0
    r = np.log((p / p.sum()) / (q / q.sum()))
    nb = LogisticRegression(C=1.0, max_iter=2000).fit(x.multiply(r).tocsr(), train.labels)
    for s, d in (("valid", valid), ("test", test)):
        out[f"nbsvm_{s}_error"] = float((nb.predict(counts.transform(d.docs).multiply(r).tocsr()) != d.labels).mean())
    return out


def run(only: set[str], seeds: list[int]) -> None:
    """The experiments in order of importance, each configuration's seeds together, so that a study
    stopped early has complete configurations (the cache keeps every finished run)."""
    data = Data()
    cached("baselines", lambda: baselines(data))
    fwd = pretrained(data, False)
    lm = {}

    def ulmfit_lm(s):
        if s not in lm:
            lm[s] = finetuned(data, fwd, "full + discr + stlr", s)
        return lm[s]

    tasks = [(f"table7-ULMFiT-seed{s}", lambda s=s: classify(data, ulmfit_lm(s), "ULMFiT", s)) for s in seeds]
    if "ensemble" in only:  # the backward twins of ULMFiT and of the best variant (freez + stlr)
        for method in ENSEMBLE_METHODS:
            tasks += [(f"ensemble-backward-{method}-seed{s}", lambda s=s, m=method: classify(
                data, finetuned(data, pretrained(data, True), "full + discr + stlr", s, backwards=True), m, s,
                backwards=True)) for s in seeds]
    if "table4" in only:
        tasks += [(f"table4-without-pretraining-seed{s}", lambda s=s: classify(
            data, finetuned(data, random_lm(data), "full + discr + stlr", s), "ULMFiT", s)) for s in seeds]
    if "table7" in only:
        for method in ["from scratch"] + [m for m in CLASSIFIER_METHODS if m not in ("ULMFiT", "from scratch")]:
            tasks += [(f"table7-{method}-seed{s}", lambda s=s, m=method: classify(data, ulmfit_lm(s), m, s))
                      for s in seeds]
    if "lowshot" in only:
        for size in [n for n in LOW_SHOT if n is not None]:  # "all labels" is table7's ULMFiT and from scratch
            for s in seeds:
                sub = data.subset(size, s)
                tasks += [
                    (f"lowshot-{size}-semi-supervised-seed{s}",
                     lambda s=s, sub=sub: classify(data, ulmfit_lm(s), "ULMFiT", s, subset=sub)),
                    (f"lowshot-{size}-supervised-seed{s}", lambda s=s, sub=sub, n=size: classify(
                        data, finetuned(data, fwd, "full + discr + stlr", s, subset=sub, tag=f"sup{n}"), "ULMFiT", s,
                        subset=sub)),
                    (f"lowshot-{size}-from-scratch-seed{s}",
                     lambda s=s, sub=sub: classify(data, ulmfit_lm(s), "from scratch", s, subset=sub)),
                ]
    if "table6" in only:
        for method in [m for m in LM_METHODS if m != "full + discr + stlr"]:
            tasks += [(f"table6-{method}-seed{s}", lambda s=s, m=method: classify(
                data, finetuned(data, fwd, m, s), "ULMFiT", s)) for s in seeds]
    for key, compute in tasks:
        cached(key, compute)


# --- the report -----------------------------------------------------------------------------------


def stats(keys: list[str], field: str) -> dict | None:
    values = [json.loads((CACHE / f"{k}.json").read_text())[field] for k in keys if (CACHE / f"{k}.json").exists()]
    if not values:
        return None
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def report(seeds: list[int]) -> None:
    rows = []

    def row(table: str, name: str, prefix: str):
        keys = [f"{prefix}-seed{s}" for s in seeds]
        v, t = stats(keys, "valid_error"), stats(keys, "test_error")
        if v:
            rows.append({"table": table, "method": name, "valid_error": v["mean"], "valid_std": v["std"],
                         "test_error": t["mean"], "test_std": t["std"], "seeds": v["n"]})

    row("4", "without pretraining", "table4-without-pretraining")
    row("4", "with pretraining", "table7-ULMFiT")
    for method in LM_METHODS:
        row("6", method, "table7-ULMFiT" if method == "full + discr + stlr" else f"table6-{method}")
    for method in CLASSIFIER_METHODS:
        row("7", method, f"table7-{method}")
    for size in LOW_SHOT:
        for kind in ("supervised", "semi-supervised", "from scratch"):
            if size is None:
                prefix = {"supervised": "table7-ULMFiT", "semi-supervised": "table7-ULMFiT",
                          "from scratch": "table7-from scratch"}[kind]
            else:
                prefix = f"lowshot-{size}-{kind.replace(' ', '-')}"
            row("fig3", f"{size or 'all'} labels, {kind}", prefix)
    labels = read_csv(DATA / "rt_polarity" / "test.csv", classes=CLASSES).labels
    for method in ENSEMBLE_METHODS:  # the forward and backward classifiers' test probabilities, averaged
        ensemble = []
        for s in seeds:
            f, b = CACHE / f"table7-{method}-seed{s}.json", CACHE / f"ensemble-backward-{method}-seed{s}.json"
            if f.exists() and b.exists():
                pf, pb = (np.array(json.loads(p.read_text())["test_probs"]) for p in (f, b))
                ensemble.append({"fwd": float(((pf > 0.5) != labels).mean()),
                                 "bwd": float(((pb > 0.5) != labels).mean()),
                                 "fwd+bwd": float((((pf + pb) / 2 > 0.5) != labels).mean())})
        for k in ("fwd", "bwd", "fwd+bwd") if ensemble else ():
            values = [e[k] for e in ensemble]
            rows.append({"table": "ensemble", "method": f"{method}, {k}", "test_error": statistics.mean(values),
                         "test_std": statistics.stdev(values) if len(values) > 1 else 0.0, "seeds": len(values)})
    base = json.loads((CACHE / "baselines.json").read_text()) if (CACHE / "baselines.json").exists() else {}
    for name in ("tfidf_lr", "nbsvm"):
        if base:
            rows.append({"table": "baseline", "method": name, "valid_error": base[f"{name}_valid_error"],
                         "test_error": base[f"{name}_test_error"], "seeds": 1})
    for r in rows:
        cells = [f"{r[k]:.4f}±{r.get(k.replace('error', 'std'), 0):.4f}" if r.get(k) is not None else "-"
                 for k in ("valid_error", "test_error")]
        print(f"{r['table']:>8}  {r['method']:35s} valid {cells[0]:>16}  test {cells[1]:>16}  seeds {r['seeds']}")
    ulmfit_row = next((r for r in rows if r["table"] == "7" and r["method"] == "ULMFiT"), None)
    bars = {}
    if ulmfit_row:
        bars["ulmfit_test_accuracy"] = bar(1 - ulmfit_row["test_error"], 0.80)
    seconds = sum(json.loads(p.read_text()).get("seconds", 0) for p in CACHE.glob("*.json"))
    write_results(__file__, rows, bars, extra={"seeds": seeds, "classifier_seconds": seconds,
                                               "recipe": str(RECIPE)}, name=NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="table4,table6,table7,lowshot,ensemble",
                        help="comma-separated: table4, table6, table7, lowshot, ensemble")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="only print and write the report from the cache")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    if not args.report:
        run(set(args.only.split(",")), seeds)
    report(seeds)


if __name__ == "__main__":
    main()
