"""The from-scratch control for a finished demo or lesson run: the same classifier settings, the
same data and vocabulary, the encoder started from random weights instead of the fine-tuned
language model.

    python benchmarks/transfer_control.py runs/demo [--data data] [--seeds 0 1] [--directions forward backward]
    python benchmarks/transfer_control.py runs/lesson --seeds 0 1

The task (RT snippets for the demo, IMDB for the lesson) is read from the run's report.json. For
every seed, a pretrained classifier (seed 0 is the run's own) and a from-scratch one are scored on
the test set. Writes <run>/control.json: test accuracy with and without pretraining per seed,
direction and forward + backward ensemble, their means and standard deviations over seeds, and the
difference of the ensemble means (the pretraining gain); and
benchmarks/results/transfer_control_<task><--suffix>.json with the bars (the gain >= 0.02; the
ensemble's accuracy >= 0.92 on IMDB, 0.80 on RT, when the classifier trained on every training
document in both directions). Every classifier is cached in <run>/<direction>/
(classifier-seed<N>, scratch-classifier[-seed<N>]); a rerun reuses them.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ACCURACY_TARGETS, accuracy_bar_applies, bar, write_results  # noqa: E402

from ulmlite import ulmfit  # noqa: E402
from ulmlite.model_folder import language_model  # noqa: E402
from ulmlite.text import Tokenizer, read_csv  # noqa: E402


def task_data(report: dict, data: Path):
    """(splits, the training documents the classifier saw as indices into splits["train"] or None
    for all, baseline) of the run's task: the lesson's --train-docs subset is taken as it took it."""
    classes = report["classes"]
    if "imdb_test_accuracy" in report:
        from ulmlite.lesson import balanced_indices

        splits = {s: read_csv(data / "imdb" / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
        subset = None
        if report["train_docs"] < len(splits["train"]):
            subset = balanced_indices(splits["train"].labels, report["train_docs"])
        return splits, subset, report["baselines"]["tfidf_lr"]
    splits = {s: read_csv(data / "rt_polarity" / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
    return splits, None, report["baseline_tfidf_lr_accuracy"]


def folder_for(run: Path, direction: str, pretrained: bool, seed: int) -> Path:
    if pretrained:
        return run / direction / ("classifier" if seed == 0 else f"classifier-seed{seed}")
    return run / direction / ("scratch-classifier" if seed == 0 else f"scratch-classifier-seed{seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a demo or lesson output folder (with report.json)")
    parser.add_argument("--data", default="data")
    parser.add_argument("--directions", nargs="+", default=["forward", "backward"], choices=["forward", "backward"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--suffix", default="", help="results file transfer_control_<task><suffix>.json, so that "
                        "another run's control (e.g. --suffix .full for all 20,000 reviews) does not replace it")
    args = parser.parse_args()
    run = Path(args.run)
    report = json.loads((run / "report.json").read_text())
    recipe = replace(ulmfit.Recipe.small(), **{k: v for k, v in report["recipe"].items()
                                               if k in ulmfit.Recipe.__dataclass_fields__})
    classes = report["classes"]
    splits, subset, tfidf = task_data(report, Path(args.data))
    tokenizer = Tokenizer(progress=False)  # the run's tokenization is in the cache: this reads it
    tokens = {s: tokenizer.corpus(list(d.docs), name=s) for s, d in splits.items()}
    labels = {s: np.asarray(d.labels) for s, d in splits.items()}
    if subset is not None:
        tokens["train"], labels["train"] = tokens["train"].select(subset), labels["train"][subset]
    probs, result = {}, {"seeds": args.seeds, "directions": args.directions, "train_docs": len(labels["train"])}
    test_labels = None
    for direction in args.directions:
        backwards = direction == "backward"
        lm = language_model(run / direction / "finetuned")  # once: every classifier of this direction starts here
        vocab = lm[1]  # the classifiers' vocabulary too
        corpora = {s: ulmfit.classifier_corpus(t, vocab, labels[s], backwards) for s, t in tokens.items()}
        test_labels = corpora["test"].labels
        for seed in args.seeds:
            for name, pretrained in (("pretrained", True), ("scratch", False)):
                folder = folder_for(run, direction, pretrained, seed)
                if (folder / "checkpoint.json").is_file():
                    model, _, _ = ulmfit.load_model_dir(folder)
                else:
                    print(f"{direction}, seed {seed}: training the {name} classifier into {folder}", flush=True)
                    model, _ = ulmfit.train_classifier(lm, corpora["train"], corpora["valid"], classes, recipe, folder,
                                                       backwards=backwards, seed=seed, progress=False,
                                                       pretrained_encoder=pretrained)
                key = f"{direction}_{name}_seed{seed}"
                probs[direction, name, seed] = ulmfit.predict_proba(model, corpora["test"])
                result[key] = float((probs[direction, name, seed].argmax(1) == test_labels).mean())
                print(f"{direction}, seed {seed}: {name} {result[key]:.4f}", flush=True)
    for name in ("pretrained", "scratch"):
        each = []
        for seed in args.seeds:
            ensemble = np.mean([probs[d, name, seed] for d in args.directions], axis=0)
            each.append(float((ensemble.argmax(1) == test_labels).mean()))
            result[f"ensemble_{name}_seed{seed}"] = each[-1]
        result[f"ensemble_{name}"] = float(np.mean(each))
        result[f"ensemble_{name}_std"] = float(np.std(each))
    result["pretraining_gain"] = result["ensemble_pretrained"] - result["ensemble_scratch"]
    result["tfidf_lr"] = tfidf
    print(f"ensemble over seeds {args.seeds}: pretrained {result['ensemble_pretrained']:.4f} "
          f"± {result['ensemble_pretrained_std']:.4f}, from scratch {result['ensemble_scratch']:.4f} "
          f"± {result['ensemble_scratch_std']:.4f}, gain {result['pretraining_gain']:+.4f} (TF-IDF {tfidf:.4f})")
    (run / "control.json").write_text(json.dumps(result, indent=1))
    task = "imdb" if "imdb_test_accuracy" in report else "rt"
    accuracy_key = "imdb_test_accuracy" if task == "imdb" else "ulmfit_test_accuracy"
    bars = {f"{task}_pretraining_gain": bar(result["pretraining_gain"], 0.02)}
    # A lesson run on a --train-docs subset gives the gain; its accuracy stays a field (the bar is the
    # classifier on every training review: benchmarks/lesson_bars.py).
    if accuracy_bar_applies(report, args.directions):
        bars[accuracy_key] = bar(result["ensemble_pretrained"], ACCURACY_TARGETS[accuracy_key])
    rows = [{"direction": d, "kind": k, "seed": s, "test_accuracy": result[f"{d}_{k}_seed{s}"]}
            for d in args.directions for k in ("pretrained", "scratch") for s in args.seeds]
    rows += [{"direction": "ensemble", "kind": k, "seed": s, "test_accuracy": result[f"ensemble_{k}_seed{s}"]}
             for k in ("pretrained", "scratch") for s in args.seeds]
    write_results(__file__, rows, bars, extra={"run": str(run), **result}, name=f"transfer_control_{task}",
                  suffix=args.suffix)


if __name__ == "__main__":
    main()
