"""What each subcommand does: read its input, call the recipe (ulmlite.ulmfit), print the result.
Heavy imports wait inside the commands, so `ulmlite --help` stays quick."""

import sys
from pathlib import Path

from ulmlite.cli.recipe_flags import recipe_from_args


def data(args) -> None:
    from ulmlite import datasets

    if args.name != "imdb" and args.source != "registry":
        raise ValueError(f"--source {args.source} is for imdb only")
    if args.name == "imdb":
        path = datasets.fetch_imdb(args.root, source=args.source, url=args.url, sha256=args.sha256)
    elif args.name in datasets.DATASETS:
        path = datasets.fetch_dataset(args.name, args.root, url=args.url, sha256=args.sha256)
    elif args.name in datasets.VECTORS:
        path = datasets.fetch_vectors(args.name, args.root)
    elif args.name == "rt-polarity":
        path = datasets.fetch_rt_polarity(args.root)
    else:
        path = datasets.fetch_general_en(args.root)
    print(f"{args.name}: {path}")


def read_tokens(args, paths, label_col=None, classes=None, tokenizer=None, cache=True):
    """(tokens, labels or None, classes) of a command's input: a folder `ulmlite tokenize` wrote, as
    it is, or text files in --format, tokenized (and cached)."""
    from ulmlite.text import Tokenizer, is_tokenized, load_tokenized, read_documents

    if any(is_tokenized(p) for p in paths):
        if len(paths) != 1:
            raise ValueError("a folder from `ulmlite tokenize` must be the only input (tokenize the files together)")
        tokens, labels, found = load_tokenized(paths[0])
        if label_col and labels is None:
            raise ValueError(f"{paths[0]} has no labels (it was tokenized without a label column)")
        if label_col and classes and found != list(classes):
            raise ValueError(f"{paths[0]} has the classes {found}, expected {list(classes)}")
        return tokens, labels if label_col else None, found
    docs = read_documents(paths, args.format, tuple(args.text_cols), label_col or None, classes,
                          separator=args.separator, split=args.split, unsup=args.unsup)
    tokens = (tokenizer or Tokenizer()).corpus(docs.docs, cache=cache, name=Path(paths[0]).name)
    return tokens, docs.labels, docs.classes


def tokenize(args) -> None:
    import json

    from ulmlite.text import Tokenizer, Vocab

    tokenizer = Tokenizer(mark_capitalized=args.xxmaj, n_workers=args.workers, cache_dir=args.cache_dir)
    corpus, labels, classes = read_tokens(args, args.input, args.label_col, tokenizer=tokenizer,
                                          cache=not args.no_cache)
    vocab = Vocab.load(args.vocab) if args.vocab else Vocab.from_corpus(corpus, args.max_vocab, args.min_freq)
    numbers = vocab.numericalize_corpus(corpus, labels)
    out = Path(args.out)
    numbers.save(out)
    vocab.save(out / "vocab.json")
    (out / "classes.json").write_text(json.dumps(classes))
    unk = float((numbers.ids == vocab.unk_id).mean()) if numbers.ids.size else 0.0
    print(f"{len(corpus)} documents, {corpus.n_tokens} tokens, vocabulary {len(vocab)}, "
          f"unknown {unk:.2%} -> {out}")


def _recipe(args):
    from ulmlite import ulmfit

    recipe = recipe_from_args(args)
    print(ulmfit.training_precision(recipe).training_line(), flush=True)
    return recipe


def _perplexities(history, train, valid, vocab) -> str:
    from ulmlite.ulmfit import unigram_perplexity

    return (f"valid perplexity {history[-1]['perplexity']:.1f} "
            f"(word frequencies alone: {unigram_perplexity(train, valid, len(vocab)):.1f})")


def pretrain(args) -> None:
    from dataclasses import replace

    from ulmlite import ulmfit

    recipe = _recipe(args)
    tokens, _, _ = read_tokens(args, args.corpus)
    if args.init_embeddings:
        from ulmlite.datasets import VECTORS, fetch_vectors, load_vectors

        folder = fetch_vectors(args.init_embeddings, args.vectors_root) if args.init_embeddings in VECTORS \
            else args.init_embeddings
        words, vectors = load_vectors(folder)
        if args.emb_size is None:  # the embedding size follows the vectors
            recipe = replace(recipe, config=replace(recipe.config, emb_size=vectors.shape[1]))
    train, valid, vocab = ulmfit.lm_streams(tokens, recipe, max_tokens=args.max_tokens)
    rows = None
    if args.init_embeddings:
        from ulmlite.pretrained import vectors_for_vocab

        rows, found = vectors_for_vocab(vocab, words, vectors, emb_size=recipe.config.emb_size, seed=args.seed)
        print(f"embedding from {args.init_embeddings} ({vectors.shape[1]} dimensions"
              + (f", projected to {recipe.config.emb_size}" if recipe.config.emb_size != vectors.shape[1] else "")
              + f"): {found:.1%} of the vocabulary has a vector")
    _, history = ulmfit.pretrain(train, valid, vocab, recipe, args.out, backwards=args.backwards, seed=args.seed,
                                 init_embeddings=rows)
    print(f"pretrained on {len(train)} tokens; {_perplexities(history, train, valid, vocab)} -> {args.out}")


def finetune_lm(args) -> None:
    from ulmlite import ulmfit
    from ulmlite.model_folder import language_model

    recipe = _recipe(args)
    tokens, _, _ = read_tokens(args, args.train)
    pretrained = language_model(args.pretrained)  # loaded once: its vocabulary, then its weights
    known = set(pretrained[1].itos) if recipe.keep_known_words else None  # kept even when rare in-domain
    train, valid, vocab = ulmfit.lm_streams(tokens, recipe, known=known)
    _, history = ulmfit.finetune_lm(pretrained, train, valid, vocab, recipe, args.out,
                                    backwards=args.backwards, seed=args.seed)
    print(f"fine-tuned on {len(train)} tokens; {_perplexities(history, train, valid, vocab)} -> {args.out}")


def train_classifier(args) -> None:
    from ulmlite import ulmfit
    from ulmlite.model_folder import language_model

    recipe = _recipe(args)
    lm = language_model(args.lm)
    vocab = lm[1]
    train_tokens, train_labels, classes = read_tokens(args, [args.train], args.label_col)
    valid_tokens, valid_labels, _ = read_tokens(args, [args.valid], args.label_col, classes)
    train = ulmfit.classifier_corpus(train_tokens, vocab, train_labels, args.backwards)
    valid = ulmfit.classifier_corpus(valid_tokens, vocab, valid_labels, args.backwards)
    _, history = ulmfit.train_classifier(lm, train, valid, classes, recipe, args.out,
                                         backwards=args.backwards, seed=args.seed)
    kept = ulmfit.kept_epoch(history)
    print(f"classifier: valid accuracy {(kept or history[-1])['accuracy']:.4f}"
          + (f" (kept epoch {kept['epoch']} of the last stage)" if kept else "") + f" -> {args.out}")


def _probabilities(args, folders):
    """Averaged class probabilities of one or more classifiers (a forward + backward ensemble)."""
    from ulmlite import ulmfit
    from ulmlite.text import Tokenizer, read_documents

    models = [ulmfit.load_model_dir(folder, kind="classifier") for folder in folders]
    classes = models[0][2]["classes"]
    for folder, (_, _, meta) in zip(folders, models, strict=True):
        if meta["classes"] != classes:
            raise ValueError(f"{folder} predicts {meta['classes']}, the first model {classes}")
    if args.text is not None:
        docs, labels = [args.text], None
    else:
        label_col = getattr(args, "label_col", None) or None
        data = read_documents([args.csv], "csv", tuple(args.text_cols), label_col, classes)
        docs, labels = data.docs, data.labels
    tokens = Tokenizer(progress=False).corpus(docs, cache=False)  # once, whatever the number of models
    total = 0.0
    for model, vocab, meta in models:
        corpus = ulmfit.classifier_corpus(tokens, vocab, labels, backwards=meta.get("backwards", False))
        total = total + ulmfit.predict_proba(model, corpus)
    return total / len(folders), labels, classes


def predict(args) -> None:
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


def evaluate(args) -> None:
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


def generate(args) -> None:
    from ulmlite.generate import detokenize, generate
    from ulmlite.model_folder import language_model

    model, vocab = language_model(args.model)
    tokens = generate(model, vocab, args.prompt, args.n, args.temperature, args.top_k, not args.allow_unk, args.seed)
    print(args.prompt + " " + detokenize(tokens))


def convert_fastai(args) -> None:
    from ulmlite.pretrained import convert_fastai
    from ulmlite.ulmfit import save_model_dir

    model, vocab = convert_fastai(args.weights, args.itos)
    save_model_dir(args.out, model, vocab, "lm", source=str(args.weights))
    c = model.config
    print(f"converted: vocabulary {len(vocab)}, embedding {c.emb_size}, hidden {c.hidden_size}, "
          f"{c.n_layers} layers -> {args.out}")


def upgrade_checkpoint(args) -> None:
    from ulmlite.train import upgrade_checkpoint

    for folder in args.folders:  # a model folder, and any stage checkpoints of an unfinished run in it
        for checkpoint in [Path(folder), *sorted(Path(folder).glob("training/stage-*"))]:
            if (checkpoint / "checkpoint.json").is_file():
                upgrade_checkpoint(checkpoint)
                print(f"{checkpoint}: current")


def lesson(args) -> None:
    from ulmlite import lesson

    rest = args.lesson_args
    lesson.main(rest[1:] if rest[:1] == ["--"] else rest)
