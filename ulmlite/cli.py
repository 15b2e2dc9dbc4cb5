"""The `ulmlite` command. Every subcommand has --help; errors print one line and exit non-zero
(the traceback only with --debug)."""

import argparse
import sys
from pathlib import Path


def _data(args) -> None:
    from ulmlite.text import fetch

    if args.name in fetch.DATASETS:
        path = fetch.fetch_dataset(args.name, args.root, url=args.url, sha256=args.sha256)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ulmlite", description="ULMFiT rebuilt from scratch.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="download or build a data set")
    data.add_argument("name", choices=["imdb", "wikitext-103", "rt-polarity", "general-en"])
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        print("ulmlite: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user; --debug for the traceback
        if args.debug:
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"ulmlite {args.command}: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
