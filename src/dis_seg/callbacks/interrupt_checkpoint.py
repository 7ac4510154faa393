"""``last.ckpt`` when SIGTERM or SIGINT (Ctrl+C) stops training."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_info

# Lightning's handler of the SIGTERM that a SIGINT is turned into announces it as a SIGTERM
LIGHTNING_SIGNALS = logging.getLogger("pytorch_lightning.trainer.connectors.signal_connector")


class _NotASigterm(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Received SIGTERM" not in record.getMessage()


class InterruptCheckpoint(pl.Callback):
    """Saves ``dirpath/last.ckpt`` when a signal stops ``fit``, for ``ckpt_path=last``.

    Lightning notes SIGTERM and stops at the next batch boundary with a ``SIGTERMException``
    (on every rank); during ``fit`` this callback makes the first SIGINT do the same, so the
    checkpoint always holds whole optimizer steps. A second SIGINT interrupts at once and saves
    nothing (the last periodic checkpoint stays).
    """

    def __init__(self, dirpath: str | Path) -> None:
        self.path = Path(dirpath) / "last.ckpt"
        self._sigint_handler = None
        self._quiet_sigterm = _NotASigterm()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._sigint_handler = signal.signal(signal.SIGINT, self._stop_gracefully)

    def _stop_gracefully(self, signum: int, frame: FrameType | None) -> None:
        self._restore_sigint()
        rank_zero_info("Received SIGINT (Ctrl+C): stopping at the next batch boundary")
        LIGHTNING_SIGNALS.addFilter(self._quiet_sigterm)
        signal.raise_signal(signal.SIGTERM)

    def _restore_sigint(self) -> None:
        if self._sigint_handler is not None:
            signal.signal(signal.SIGINT, self._sigint_handler)
            self._sigint_handler = None
        LIGHTNING_SIGNALS.removeFilter(self._quiet_sigterm)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_sigint()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore_sigint()
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
        if isinstance(exception, SIGTERMException) and fitting:
            trainer.save_checkpoint(self.path, weights_only=False)
            rank_zero_info(f"stopped by a signal at step {trainer.global_step}: saved {self.path}")
