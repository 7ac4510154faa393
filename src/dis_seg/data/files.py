"""The file checks of the readers, which raise :class:`~dis_seg.errors.DataError`."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from dis_seg.errors import DataError


def report(error: DataError, on_error: Callable[[DataError], None] | None) -> None:
    """Raise ``error``; with ``on_error``, hand it over instead (the reader then leaves the
    entry out and goes on, so that every problem of a data set can be listed)."""
    if on_error is None:
        raise error
    on_error(error)


def require_paths(root: Path, names: list[str], layout: str) -> None:
    """Raise :class:`DataError` unless ``root`` and every ``root/name`` exist.

    ``layout`` is a short drawing of the expected folder layout, quoted in the message.
    """
    missing = [root] if not root.is_dir() else [root / n for n in names if not (root / n).exists()]
    if missing:
        raise DataError(
            f"{missing[0]} {absence(missing[0])}; expected this layout:\n{layout.rstrip()}"
        )


def absence(path: Path) -> str:
    """Why ``path`` is not a readable file or folder: "does not exist", a symbolic link loop,
    a broken symbolic link, or "is not a file" (e.g. a folder where a file belongs)."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if os.path.islink(path):
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return "does not exist"
    return "is not a file"


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark is dropped); bytes that are not
    UTF-8 raise :class:`DataError` naming the file and line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
            "expected a UTF-8 text file"
        ) from None
