"""Generated files that dbt reads: written only when their content changes, and never half-written.

dbt's partial parsing compares files by content hash and the profile by its connection keys, so a file
rewritten with the same content costs nothing; but skipping the write also keeps mtimes stable for
other tools and avoids a window where a concurrent dbt process could read a truncated file (the new
content goes to a temporary file in the same folder, then `os.replace` swaps it in atomically).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when the file was written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


@contextmanager
def exclusive(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an inter-process lock on `path` for the block (released by the OS if the process dies);
    the block gets True. With `wait=False` a lock another process holds is not waited for: the block
    gets False and runs unlocked (the caller skips its work).

    dbt keeps its state in files (`partial_parse.msgpack`, `manifest.json`) that two concurrent
    invocations with one target folder would overwrite under each other: two dbt steps with one work
    folder run one after the other. Where `fcntl` does not exist (Windows) the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
