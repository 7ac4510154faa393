"""What the three training stages share: the network, optimisation, evaluation and logging."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torchmetrics import MeanMetric, Metric

from dis_seg.losses import reconstruction_loss, tag_loss
from dis_seg.metrics import tag_average_precision
from dis_seg.models import DISNet
from dis_seg.optim import OptimizerConfig, build_optimizer, poly_scheduler

COMPONENTS = ("backbone", "labelmap_head", "reconstruction_head", "tag_fusion", "tag_head")


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
    statistics do not move. Validation and test steps log the tag loss, tag mAP (object classes)
    and reconstruction error of the plain prediction per split (``val``, and ``test/<name>`` for
    each test loader, :func:`test_splits`), and return the features ``u1``/``v1`` so that
    :class:`~dis_seg.callbacks.IterativeInferenceCallback` refines them without a second
    backbone pass.

    Args:
        model: keyword arguments of :class:`~dis_seg.models.DISNet`.
        optimizer: keyword arguments of :class:`~dis_seg.optim.OptimizerConfig`.
        class_names: names for per-class logs (default: from the datamodule, or indices).
    """

    trainable: tuple[str, ...] = COMPONENTS

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = DISNet(**model)
        self.optimizer_config = OptimizerConfig(**(optimizer or {}))
        self.class_names = list(class_names) if class_names else None
        for name in COMPONENTS:
            getattr(self.model, name).requires_grad_(name in self.trainable)
        self.evaluation_splits: list[str] = []
        self.tag_map: dict[str, Metric] = {}
        self.recon_error: dict[str, MeanMetric] = {}
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
        scheduler = poly_scheduler(optimizer, total, self.optimizer_config.poly_power)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

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

    def on_validation_epoch_start(self) -> None:
        self._start_evaluation(["val"])

    def on_test_epoch_start(self) -> None:
        self._start_evaluation(test_splits(self.trainer))

    def validation_step(
        self, batch: dict[str, Any], batch_index: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self._evaluation_step(self.evaluation_splits[dataloader_idx], batch)

    def test_step(
        self, batch: dict[str, Any], batch_index: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self._evaluation_step(self.evaluation_splits[dataloader_idx], batch)

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation_epoch()

    def on_test_epoch_end(self) -> None:
        self._log_evaluation_epoch()

    def _start_evaluation(self, splits: list[str]) -> None:
        self.evaluation_splits = splits
        self.tag_map = {s: tag_average_precision(self.num_classes).to(self.device) for s in splits}
        self.recon_error = {split: MeanMetric().to(self.device) for split in splits}

    def _evaluation_step(self, split: str, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        images, tags = batch["image"], batch["tags"]
        out = self.model(images)
        self.tag_map[split].update(out.v3.sigmoid()[:, 1:], tags[:, 1:].long())
        self.recon_error[split].update(reconstruction_loss(out.z3, images, reduction="none"))
        self.log(
            f"{split}/tag_loss",
            tag_loss(out.v3, tags),
            batch_size=len(images),
            sync_dist=True,
            add_dataloader_idx=False,
        )
        return {"u1": out.u1, "v1": out.v1}

    def _log_evaluation_epoch(self) -> None:
        for split in self.evaluation_splits:
            self.log_synced(f"{split}/tag_mAP", self.tag_map[split].compute())
            self.log_synced(f"{split}/recon_error", self.recon_error[split].compute())
