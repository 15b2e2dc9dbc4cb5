"""The lesson's data sets from their official URLs: IMDB (`aclImdb_v1.tar.gz`) and WikiText-103
(`wikitext-103-v1.zip`), downloaded resumably through HTTP Range requests, checked against a sha256,
then unpacked into a temporary folder that is renamed into place."""

import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from ulmlite._util import write_folder_atomically
from ulmlite.datasets.registry import FetchError, sha256_of

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
