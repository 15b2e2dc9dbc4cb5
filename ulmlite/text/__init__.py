"""Text -> numbers: the lesson's clean-up and token rules, spaCy tokenization (parallel, cached),
the vocabulary, corpus readers and flat numeric corpora."""

from ulmlite.text.corpus import NumericCorpus, TokenCorpus
from ulmlite.text.readers import (
    FORMATS,
    PlainTextCorpus,
    TextDataset,
    is_tokenized,
    load_tokenized,
    read_csv,
    read_documents,
    read_imdb,
    read_lines,
)
from ulmlite.text.rules import SPECIAL_TOKENS, apply_rules, fixup, mark_fields
from ulmlite.text.tokenizer import Tokenizer
from ulmlite.text.vocab import Vocab

__all__ = [
    "FORMATS", "NumericCorpus", "PlainTextCorpus", "SPECIAL_TOKENS", "TextDataset", "TokenCorpus", "Tokenizer", "Vocab",
    "apply_rules", "fixup", "is_tokenized", "load_tokenized", "mark_fields", "read_csv", "read_documents",
    "read_imdb", "read_lines",
]
