"""Tokenization throughput: ulmlite's pipeline (parallel over every core, streamed, cached) against
the lesson's approach (the same rules, spaCy over a ProcessPoolExecutor with num_cpus() // 2
workers, each given one big partition, no cache), measured in one run, cold and cached.

    python benchmarks/bench_tokenize.py [--quick] [--data general_en/train.txt]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bar, print_table, write_results  # noqa: E402

from ulmlite.text import PlainTextCorpus, Tokenizer  # noqa: E402
from ulmlite.text.rules import apply_rules, mark_fields  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "general_en" / "train.txt"


def lesson_partition(texts: list[str]) -> list[list[str]]:
    """One worker of the lesson's Tokenizer.proc_all_mp: spaCy's tokenizer on each text in turn."""
    import spacy

    nlp = spacy.blank("en")
    return [[t.text for t in nlp.tokenizer(apply_rules(mark_fields((text,))))] for text in texts]


def lesson_tokenize(texts: list[str]) -> int:
    workers = max(1, (os.cpu_count() or 1) // 2)
    size = (len(texts) + workers - 1) // workers
    partitions = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(workers) as pool:
        results = sum(pool.map(lesson_partition, partitions), [])
    return sum(len(doc) for doc in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the first 150 documents only")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="plain text, documents separated by form feeds")
    args = parser.parse_args()
    if not Path(args.data).exists():
        sys.exit(f"no corpus at {args.data}: run `ulmlite data general-en --root data` and pass --data")
    texts = list(PlainTextCorpus(args.data))
    if args.quick:
        texts = texts[:150]
    print(f"{len(texts)} documents, {sum(len(t) for t in texts) / 1e6:.1f} M characters, {os.cpu_count()} cores")

    start = time.perf_counter()
    lesson_tokens = lesson_tokenize(texts)
    lesson_s = time.perf_counter() - start

    cache = tempfile.mkdtemp(prefix="ulmlite-bench-cache-")
    try:
        tokenizer = Tokenizer(cache_dir=cache, progress=False)
        start = time.perf_counter()
        corpus = tokenizer.corpus(texts)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        cached = tokenizer.corpus(texts)
        cached_s = time.perf_counter() - start
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    assert corpus.n_tokens == cached.n_tokens == lesson_tokens, (corpus.n_tokens, lesson_tokens)

    rows = [
        {"pipeline": "lesson (ProcessPool, cores//2, no cache)", "seconds": lesson_s,
         "tokens_per_s": lesson_tokens / lesson_s, "speedup": 1.0},
        {"pipeline": "ulmlite cold (all cores, streamed, writes cache)", "seconds": cold_s,
         "tokens_per_s": corpus.n_tokens / cold_s, "speedup": lesson_s / cold_s},
        {"pipeline": "ulmlite cached", "seconds": cached_s,
         "tokens_per_s": corpus.n_tokens / cached_s, "speedup": lesson_s / cached_s},
    ]
    print_table(rows, ["pipeline", "seconds", "tokens_per_s", "speedup"])
    bars = {"tokenize_cold_speedup": bar(lesson_s / cold_s, 1.5),
            "tokenize_cached_speedup": bar(lesson_s / cached_s, 20.0)}
    write_results(__file__, rows, bars, extra={"documents": len(texts), "tokens": corpus.n_tokens,
                                               "data": str(args.data), "quick": args.quick})


if __name__ == "__main__":
    main()
