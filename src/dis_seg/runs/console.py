"""What a run shows and keeps: the libraries' log records in the run's log file, and no
third-party warnings a user cannot act on.

:data:`KNOWN_WARNINGS` are silenced by message (docs/CONFIG.md lists them): each is raised by
a library about something dis-seg does on purpose, so that a user reading it could do nothing
about it. Every other warning still shows.
"""

from __future__ import annotations

import logging
import warnings

KNOWN_WARNINGS: dict[str, str] = {
    # torchdata's StatefulDataLoader calls an API that torch deprecated
    r"'set_vital' is deprecated": "torchdata calls a deprecated torch function",
    r".*LeafSpec.*": "Lightning uses a deprecated torch pytree class",
    # stages 2 and 3 keep their frozen components in eval mode on purpose
    r"Found \d+ module\(s\) in eval mode at the start of training": "frozen components",
    # a tag class absent from a split has no average precision; mAP averages the others
    r"No positive samples found in target": "a class absent from a split's tags",
    # loading is a fraction of a step on the synthetic data; data.num_workers sets workers
    r"The '\w+_dataloader' does not have many workers": "data.num_workers is chosen per data set",
    # a resumed stage writes into its own checkpoint folder
    r"Checkpoint directory .* exists and is not empty": "a resumed run's own checkpoints",
}
"""Message pattern → why a user cannot act on it."""

LIBRARY_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning.pytorch")


def quiet_known_warnings() -> None:
    """Silence :data:`KNOWN_WARNINGS`, whatever the category."""
    for message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def route_library_logs() -> None:
    """Let the loggers of Lightning, which keep their own console handler when they are
    imported before logging is configured, pass their records to the root logger, whose
    handlers Hydra configures: the console and the run's ``<job>.log``."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def log_to_files(message: str, level: int = logging.ERROR) -> None:
    """Write ``message`` to the log files of the root logger only (the console has it from
    elsewhere, e.g. the ``error:`` line of a failed run)."""
    record = logging.LogRecord("dis_seg", level, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
