"""Atomic checkpoint files: a kill during a save never leaves a partial file as the only copy.

Lightning's own ``TorchCheckpointIO`` writes a temporary file in the system temp folder and moves
it into place, which becomes a copy (not atomic) when that folder lies on another file system,
as it does on most clusters. Here the temporary file lies beside its target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to ``.<name>.partial`` in the target's folder, flushes it to disk and renames it
    over the target (``os.replace``); loads with ``weights_only=True``. Local paths only."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """The checkpoint at ``path``, always loaded with ``weights_only=True``."""
        return super().load_checkpoint(path, map_location=map_location or "cpu", weights_only=True)
