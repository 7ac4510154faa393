"""The one error raised for bad input data, and the folder-layout check that raises it."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Input data is missing or malformed; the message names the file, line or tag at fault."""


def require_paths(root: Path, names: list[str], layout: str) -> None:
    """Raise :class:`DataError` unless ``root`` and every ``root/name`` exist.

    ``layout`` is a short drawing of the expected folder layout, quoted in the message.
    """
    missing = [root] if not root.is_dir() else [root / n for n in names if not (root / n).exists()]
    if missing:
        raise DataError(f"{missing[0]} does not exist; expected this layout:\n{layout.rstrip()}")
