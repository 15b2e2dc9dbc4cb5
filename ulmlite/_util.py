"""Small helpers shared across the package."""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type when the message is empty."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _umask_mode() -> int:
    """The mode a plain mkdir would give (mkdtemp makes 0700 folders)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_folder_atomically(final: str | Path, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` fills a temporary sibling folder; its files are fsynced, then it takes `final`'s
    place. An existing `final` is moved aside first and removed only once the new one is in place,
    so a crash at any point leaves either the old folder or the new one, never a half-written one."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        os.chmod(tmp, _umask_mode())
        write(tmp)
        for file in tmp.iterdir():
            if file.is_file():
                _fsync(file)
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
