"""Tokenization: the lesson's rules, then spaCy's English tokenizer (`spacy.blank("en")`), in
parallel across processes, streaming in chunks, with a cache on disk.

- Parallel: documents go to worker processes in chunks (default: every core).
- Streaming: chunks are pulled from the source as workers free up and their results are written
  to disk as they come back, so memory stays bounded on corpora larger than RAM (fastai issue
  1998: 12 GB of text took 4 days and 36 GB of RAM).
- Cached: the result is stored under a key made from the content's hash and every setting; a
  second run over the same corpus loads it (the lesson's complaint about torchtext: "it doesn't
  remember").
"""

import hashlib
import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from tqdm.auto import tqdm

from ulmlite.text.corpus import TokenCorpus
from ulmlite.text.rules import SPECIAL_TOKENS, apply_rules, mark_fields

if TYPE_CHECKING:
    from spacy.language import Language

Document = str | tuple[str, ...] | list[str]  # one field, or several (title, text, ...)
CACHE_VERSION = 1
LONG_TEXT = 100_000  # characters: longer texts are tokenized in pieces cut at whitespace


def default_cache_dir() -> Path:
    return Path(os.environ.get("ULMLITE_CACHE", Path.home() / ".cache" / "ulmlite")) / "tokens"


def _fields(doc: Document) -> tuple[str, ...]:
    if isinstance(doc, str):
        return (doc,)
    if isinstance(doc, (tuple, list)) and all(isinstance(f, str) for f in doc):
        return tuple(doc)
    raise TypeError(f"a document is a str or a tuple of str fields, got {type(doc).__name__}")


def _pieces(text: str) -> Iterator[str]:
    """Cut a very long text at whitespace so spaCy never holds it whole."""
    start = 0
    while len(text) - start > LONG_TEXT:
        space = text.rfind(" ", start + LONG_TEXT // 2, start + LONG_TEXT)
        if space <= start:  # no space to cut at: cut anywhere
            yield text[start : start + LONG_TEXT]
            start += LONG_TEXT
        else:  # the space itself belongs to no token (spaCy would attach it to the one before)
            yield text[start:space]
            start = space + 1
    yield text[start:]


@dataclass(frozen=True)
class Tokenizer:
    """`Tokenizer().tokenize(doc)` for one document; `Tokenizer().corpus(docs)` for many."""

    lang: str = "en"
    mark_capitalized: bool = False  # fastai v1's xxmaj before capitalised words
    n_workers: int | None = None  # processes; None: every core
    chunk_size: int = 500  # at most this many documents per task sent to a worker
    chunk_chars: int = 200_000  # and about this many characters (so long documents spread over workers)
    cache_dir: str | None = None  # None: $ULMLITE_CACHE or ~/.cache/ulmlite
    progress: bool = True

    def settings(self) -> dict:
        """What changes the tokens (so what the cache key must hold)."""
        return {"lang": self.lang, "mark_capitalized": self.mark_capitalized, "version": CACHE_VERSION}

    def tokenize(self, doc: Document) -> list[str]:
        _init_worker(self.lang)
        return _tokenize(doc, self.mark_capitalized)

    def corpus(self, docs: Iterable[Document], cache: bool = True, name: str = "corpus") -> TokenCorpus:
        """Tokenize many documents. With `cache`, `docs` is read twice (to hash it, then to
        tokenize it on a miss), so pass a list or a reader, not a one-shot generator."""
        if cache:
            key = self.cache_key(docs)
            folder = Path(self.cache_dir or default_cache_dir()) / key
            if (folder / "strings.json").exists():
                return TokenCorpus.load(folder)
            corpus = self._run(docs, name)
            corpus.save(folder)
            return TokenCorpus.load(folder)
        return self._run(docs, name)

    def cache_key(self, docs: Iterable[Document]) -> str:
        digest = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        for doc in docs:
            for field in _fields(doc):
                digest.update(field.encode("utf-8", "surrogatepass"))
                digest.update(b"\x1f")
            digest.update(b"\x1e")
        return digest.hexdigest()[:32]

    def _run(self, docs: Iterable[Document], name: str) -> TokenCorpus:
        workers = self.n_workers or os.cpu_count() or 1
        chunks = _chunked(iter(docs), self.chunk_size, self.chunk_chars)
        tasks = ((chunk, self.mark_capitalized) for chunk in chunks)
        bar = tqdm(desc=f"tokenizing {name}", unit=" docs", disable=not self.progress)
        builder = _CorpusBuilder()
        try:
            if workers == 1:
                _init_worker(self.lang)
                for task in tasks:
                    builder.add(_tokenize_chunk(task))
                    bar.update(len(task[0]))
            else:
                # fork where there is one: workers start at once and need no importable __main__
                method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
                ctx = multiprocessing.get_context(method)
                with ctx.Pool(workers, initializer=_init_worker, initargs=(self.lang,)) as pool:
                    for result in pool.imap(_tokenize_chunk, tasks):  # ordered, pulled lazily
                        builder.add(result)
                        bar.update(len(result[2]))
        finally:
            bar.close()
        return builder.finish()


def _chunked(docs: Iterator[Document], max_docs: int, max_chars: int) -> Iterator[list]:
    chunk, chars = [], 0
    for doc in docs:
        chunk.append(doc)
        chars += sum(len(f) for f in _fields(doc))
        if len(chunk) >= max_docs or chars >= max_chars:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


class _CorpusBuilder:
    """Collects (strings, local ids, lengths) chunks into one corpus, remapping each chunk's small
    string table onto the global one."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {s: i for i, s in enumerate(SPECIAL_TOKENS)}
        self.ids: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []

    def add(self, result) -> None:
        strings, local_ids, lengths = result
        remap = np.array([self.index.setdefault(s, len(self.index)) for s in strings], dtype=np.int32)
        self.ids.append(remap[local_ids] if len(local_ids) else local_ids)
        self.lengths.append(lengths)

    def finish(self) -> TokenCorpus:
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int32)
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return TokenCorpus(list(self.index), ids.astype(np.int32), offsets)


_SPACY: "Language | None" = None  # this process's blank spaCy pipeline, made by _init_worker


def _init_worker(lang: str) -> None:
    global _SPACY
    if _SPACY is None:
        import spacy
        from spacy.tokenizer import Tokenizer as SpacyTokenizer

        _SPACY = spacy.blank(lang)
        tokenizer = cast(SpacyTokenizer, _SPACY.tokenizer)  # typed as any callable; a blank pipeline's is this
        for token in SPECIAL_TOKENS:  # keep the special tokens whole whatever spaCy's rules say
            tokenizer.add_special_case(token, [{"ORTH": token}])


def _tokenize(doc: Document, mark_capitalized: bool) -> list[str]:
    assert _SPACY is not None  # every caller (and each pool worker) runs _init_worker first
    text = apply_rules(mark_fields(_fields(doc)).replace("\x00", " "), mark_capitalized)
    return [t.text for piece in _pieces(text) for t in _SPACY.tokenizer(piece)]


def _tokenize_chunk(task) -> tuple[list[str], np.ndarray, np.ndarray]:
    docs, mark_capitalized = task
    table: dict[str, int] = {}
    ids: list[int] = []
    lengths: list[int] = []
    for doc in docs:
        tokens = _tokenize(doc, mark_capitalized)
        ids.extend(table.setdefault(t, len(table)) for t in tokens)
        lengths.append(len(tokens))
    return list(table), np.array(ids, dtype=np.int32), np.array(lengths, dtype=np.int64)
