"""Crash-safe file writes: a reader sees the old content or the new, never a mix.

The data goes to a temporary file in the same folder, is fsynced, then ``os.replace``d over
the target, and the folder is fsynced so the rename itself survives a power cut. A write that
fails for lack of space raises :class:`~deepstudio.errors.DiskFullError` naming the file
system, and leaves the target as it was.

Folders (facesets) are written whole under a staging name and swapped in with
:func:`replace_folder`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from deepstudio.errors import DiskFullError, is_disk_full


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder`` (not possible on Windows, where it is not needed)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _copy_mode(path: Path, fd: int) -> None:
    """Give the temporary file the target's permissions (mkstemp makes it owner-only)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    with contextlib.suppress(OSError, AttributeError):  # no fchmod on Windows
        os.fchmod(fd, mode)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                        dir=path.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(path) from None
        raise
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            _copy_mode(path, f.fileno())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise DiskFullError(path) from None
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """The JSON text DeepStudio writes: UTF-8, indented, key order kept, trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Serialise ``obj`` completely before touching the disk, then write it atomically."""
    atomic_write_text(path, dumps_json(obj))


# --- whole folders ------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def staging_folder(target: Path) -> Path:
    """Where a folder that will replace ``target`` is written first (a hidden sibling)."""
    return target.with_name(f".{target.name}.partial")


def _replaced_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.replaced")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_folder(staging: Path, target: Path) -> None:
    """Put the complete folder ``staging`` where ``target`` is (replacing it, if any).

    Readers see the old folder or the new one: the two are swapped in one rename where the
    system can; elsewhere the old one is renamed aside first, and a kill between the two
    renames is undone by :func:`recover_folder`.
    """
    recover_folder(target)
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)  # it now holds the old folder
    else:
        old = _replaced_folder(target)
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(target.parent)


def recover_folder(target: Path) -> None:
    """Finish a :func:`replace_folder` that was cut short between its two renames."""
    old = _replaced_folder(target)
    if not old.exists():
        return
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(old, target)
