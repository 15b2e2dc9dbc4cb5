"""The from-scratch control for a finished demo run: the same classifier settings, the same data and
vocabulary, the encoder started from random weights instead of the fine-tuned language model.

    python benchmarks/transfer_control.py runs/demo [--data data] [--directions forward backward]

Writes <run>/control.json: test accuracy with and without pretraining, per direction and for the
forward + backward ensemble, and the difference (the pretraining gain). The control's classifiers
are cached in <run>/<direction>/scratch-classifier (a rerun reuses them).
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ulmlite import ulmfit  # noqa: E402
from ulmlite.text import Tokenizer, read_csv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a demo output folder (with report.json)")
    parser.add_argument("--data", default="data")
    parser.add_argument("--directions", nargs="+", default=["forward", "backward"])
    args = parser.parse_args()
    run = Path(args.run)
    report = json.loads((run / "report.json").read_text())
    recipe = replace(ulmfit.Recipe.small(), **{k: v for k, v in report["recipe"].items()
                                               if k in ulmfit.Recipe.__dataclass_fields__})
    classes = report["classes"]
    rt = Path(args.data) / "rt_polarity"
    splits = {s: read_csv(rt / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
    tokenizer = Tokenizer(progress=False)
    tokens = {s: tokenizer.corpus(list(d.docs), name=f"rt_{s}") for s, d in splits.items()}
    probs, result = {}, {}
    for direction in args.directions:
        backwards = direction == "backward"
        pretrained, vocab, meta = ulmfit.load_model_dir(run / direction / "classifier")
        corpora = {s: ulmfit.classifier_corpus(t, vocab, splits[s].labels, backwards) for s, t in tokens.items()}
        folder = run / direction / "scratch-classifier"
        if (folder / "checkpoint.json").is_file():
            scratch, _, _ = ulmfit.load_model_dir(folder)
        else:
            scratch, _ = ulmfit.train_classifier(run / direction / "finetuned", corpora["train"], corpora["valid"],
                                                 classes, recipe, folder, backwards=backwards, seed=0,
                                                 progress=False, pretrained_encoder=False)
        labels = corpora["test"].labels
        for name, model in (("pretrained", pretrained), ("scratch", scratch)):
            probs[direction, name] = ulmfit.predict_proba(model, corpora["test"])
            result[f"{direction}_{name}"] = float((probs[direction, name].argmax(1) == labels).mean())
        print(f"{direction}: pretrained {result[f'{direction}_pretrained']:.4f}, "
              f"from scratch {result[f'{direction}_scratch']:.4f}", flush=True)
    labels = corpora["test"].labels
    for name in ("pretrained", "scratch"):
        ensemble = np.mean([probs[d, name] for d in args.directions], axis=0)
        result[f"ensemble_{name}"] = float((ensemble.argmax(1) == labels).mean())
    result["pretraining_gain"] = result["ensemble_pretrained"] - result["ensemble_scratch"]
    result["tfidf_lr"] = report["baseline_tfidf_lr_accuracy"]
    print(f"ensemble: pretrained {result['ensemble_pretrained']:.4f}, from scratch {result['ensemble_scratch']:.4f}, "
          f"gain {result['pretraining_gain']:+.4f} (TF-IDF {result['tfidf_lr']:.4f})")
    (run / "control.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
