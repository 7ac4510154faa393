"""What the three training stages share: the network, optimisation and logging."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from dis_seg.data.fingerprint import data_record
from dis_seg.models import DISNet
from dis_seg.stages.optim import OptimizerConfig, build_optimizer, poly_scheduler

COMPONENTS = ("backbone", "labelmap_head", "reconstruction_head", "tag_fusion", "tag_head")
RECORD = "dis_seg"
"""The checkpoint key of what a stage records of itself: ``{"stage": N, "data": ...}``."""


def checkpoint_record(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The stage (1, 2, 3) and the data record (:func:`~dis_seg.data.fingerprint.data_record`)
    of a checkpoint; for one written before stages recorded themselves, the stage its
    hyper-parameters tell (stage 3's ``ttr``, stage 2's ``recon_fit``) and no data."""
    record = checkpoint.get(RECORD)
    if isinstance(record, dict) and record.get("stage") in (1, 2, 3):
        return record
    hparams = checkpoint.get("hyper_parameters") or {}
    stage = 3 if "ttr" in hparams else 2 if "recon_fit" in hparams else 1
    return {"stage": stage, "data": None}


def test_splits(trainer: pl.Trainer) -> list[str]:
    """The name each test loader's metrics are logged under, in loader order: ``test/<name>``
    for the datamodule's ``test_names`` (``test/voc``, ``test/idw``), else ``test`` for one
    loader and ``test/<index>`` for several."""
    loaders = trainer.test_dataloaders
    count = len(loaders) if isinstance(loaders, list | tuple) else 1
    names = list(getattr(trainer.datamodule, "test_names", None) or [])
    if len(names) != count:
        names = [str(index) for index in range(count)] if count > 1 else []
    return [f"test/{name}" for name in names] or ["test"]


class DISModule(pl.LightningModule):
    """A DIS training stage: trains the components listed in ``trainable`` and freezes the rest.

    Frozen components have ``requires_grad=False`` and stay in eval mode, so their BatchNorm
    statistics do not move. Validation and test batches are scored by the one evaluation,
    :class:`~dis_seg.callbacks.IterativeInferenceCallback`, under the split names of
    :func:`test_splits`.

    Args:
        model: keyword arguments of :class:`~dis_seg.models.DISNet`.
        optimizer: keyword arguments of :class:`~dis_seg.stages.optim.OptimizerConfig`.
        class_names: names for per-class logs (default: from the datamodule, or indices).
        lr_epochs_before, lr_epochs_after: epochs of one poly LR schedule that other stages
            run before and after this one (0, 0: this stage runs a whole schedule of its own).
            Stage 1 with ``after = epochs.stage3`` and stage 3 with ``before = epochs.stage1``
            share the schedule of a stage 1 trained ``epochs.stage1 + epochs.stage3`` epochs.
        warmup_steps: optimizer steps over which the LR rises linearly to the schedule's.
    """

    trainable: tuple[str, ...] = COMPONENTS
    stage: int | None = None
    """The training stage (1, 2, 3), recorded in every checkpoint (:data:`RECORD`)."""

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
        *,
        lr_epochs_before: int = 0,
        lr_epochs_after: int = 0,
        warmup_steps: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr_epochs = (lr_epochs_before, lr_epochs_after)
        self.warmup_steps = warmup_steps
        self.model = DISNet(**model)
        self.optimizer_config = OptimizerConfig(**(optimizer or {}))
        self.class_names = list(class_names) if class_names else None
        for name in COMPONENTS:
            getattr(self.model, name).requires_grad_(name in self.trainable)
        self.train()

    @property
    def num_classes(self) -> int:
        return self.model.num_classes

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if self.class_names is None and hasattr(datamodule, "class_names"):
            self.class_names = list(datamodule.class_names)
        if self.class_names is None:
            self.class_names = [str(index) for index in range(self.num_classes)]
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"model.num_classes is {self.num_classes} but the data has "
                f"{len(self.class_names)} classes ({self.class_names})"
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the stage and the data it trained on (:func:`checkpoint_record`)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        hparams = getattr(datamodule, "hparams", None)
        checkpoint[RECORD] = {
            "stage": self.stage,
            "data": data_record(hparams) if hparams is not None else None,
        }

    def train(self, mode: bool = True) -> DISModule:
        """Switch modes, keeping frozen components in eval mode."""
        super().train(mode)
        for name in COMPONENTS:
            if name not in self.trainable:
                getattr(self.model, name).eval()
        return self

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(
            self.model.backbone,
            self.model.head_modules(),
            self.optimizer_config,
        )
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = self._steps_per_epoch(total)
        before, after = (epochs * per_epoch for epochs in self.lr_epochs)
        scheduler = poly_scheduler(
            optimizer,
            total,
            self.optimizer_config.poly_power,
            steps_before=before,
            steps_after=after,
            warmup_steps=self.warmup_steps,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _steps_per_epoch(self, total_steps: int) -> int:
        """Optimizer steps an epoch of this run (``total_steps`` over ``max_epochs``)."""
        if self.lr_epochs == (0, 0):
            return 0
        epochs = self.trainer.max_epochs
        if not epochs or epochs < 1:
            raise ValueError(
                f"lr_epochs_before/lr_epochs_after {self.lr_epochs} count epochs, but "
                f"trainer.max_epochs is {epochs}: set the stage's epochs"
            )
        return round(total_steps / epochs)

    def log_losses(self, split: str, losses: dict[str, torch.Tensor], batch_size: int) -> None:
        on_step = split == "train"
        for name, value in losses.items():
            self.log(
                f"{split}/{name}",
                value,
                on_step=on_step,
                on_epoch=True,
                prog_bar=name == "loss",
                batch_size=batch_size,
                sync_dist=True,
            )

    def log_synced(self, name: str, value: float | torch.Tensor) -> None:
        """Log an epoch value that every DDP rank already holds (a computed torchmetrics result):
        the max over ranks leaves it exact, and Lightning does not ask for ``sync_dist``."""
        self.log(name, value, sync_dist=True, reduce_fx="max", add_dataloader_idx=False)

    def validation_step(self, batch: dict[str, Any], batch_index: int, dataloader_idx: int = 0):
        """Nothing: :class:`~dis_seg.callbacks.IterativeInferenceCallback` scores each batch."""

    def test_step(self, batch: dict[str, Any], batch_index: int, dataloader_idx: int = 0):
        """Nothing: :class:`~dis_seg.callbacks.IterativeInferenceCallback` scores each batch."""
