"""Stage 1 of DIS: labelmaps and tags."""

from __future__ import annotations

from typing import Any

import torch

from dis_seg.models.losses import segmentation_loss, tag_loss
from dis_seg.stages.base import DISModule
from dis_seg.stages.batch_statistics import training_forward


class Stage1Module(DISModule):
    """Stage 1: backbone, subnet-1 and subnet-3 learn labelmaps and tags.

    Segmentation loss on labelled images (tag-only images have all-255 labelmaps and add
    nothing to it), tag loss on all images. ``bn_statistics``: whose BatchNorm statistics
    normalise a mixed batch (:func:`~dis_seg.stages.batch_statistics.training_forward`).
    ``lr_epochs_after``: epochs of its LR schedule left to stage 3 (:class:`DISModule`).
    """

    stage = 1
    trainable = ("backbone", "labelmap_head", "tag_fusion", "tag_head")

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
        seg_weight: float = 1.0,
        tag_weight: float = 1.0,
        bn_statistics: str = "batch",
        lr_epochs_after: int = 0,
    ) -> None:
        super().__init__(model, optimizer, class_names, lr_epochs_after=lr_epochs_after)
        self.seg_weight, self.tag_weight = seg_weight, tag_weight
        self.bn_statistics = bn_statistics

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        out = training_forward(
            self.model, batch["image"], batch["has_labelmap"], self.bn_statistics
        )
        losses = {
            "seg_loss": segmentation_loss(out.u3, batch["labelmap"]),
            "tag_loss": tag_loss(out.v3, batch["tags"]),
        }
        losses["loss"] = self.seg_weight * losses["seg_loss"] + self.tag_weight * losses["tag_loss"]
        self.log_losses("train", losses, len(batch["image"]))
        return losses["loss"]
