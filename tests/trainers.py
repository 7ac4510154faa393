"""A quiet CPU Lightning Trainer for in-process tests."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


def quiet_trainer(**options: Any) -> pl.Trainer:
    """A CPU ``pl.Trainer`` without logger, checkpoints, progress bar or model summary;
    ``options`` add to or override these."""
    defaults = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return pl.Trainer(**{**defaults, **options})
