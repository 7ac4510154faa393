"""Stage 2 of DIS: reconstruction of the image from the labelmap."""

from __future__ import annotations

from typing import Any

import torch

from dis_seg.inference.iterative import reconstruction_size
from dis_seg.models.losses import reconstruction_loss
from dis_seg.stages.base import DISModule
from dis_seg.stages.reconstruction import truth_reconstruction_loss


class Stage2Module(DISModule):
    """Stage 2: subnet-2 learns to reconstruct the image from the labelmap; all else frozen.

    Args:
        recon_fit: what subnet-2 reconstructs from
            (:data:`~dis_seg.stages.reconstruction.RECON_FITS`):
            ``"prediction"``, the network's labelmaps of all images (the paper);
            ``"truth"``, the ground-truth labelmaps of the labelled images; ``"both"``, the
            sum of the two losses.
    """

    stage = 2
    trainable = ("reconstruction_head",)

    def __init__(
        self,
        model: dict[str, Any],
        optimizer: dict[str, Any] | None = None,
        class_names: list[str] | None = None,
        *,
        recon_fit: str,
    ) -> None:
        super().__init__(model, optimizer, class_names)
        self.recon_fit = recon_fit

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        images = batch["image"]
        with torch.no_grad():
            u1, v1 = self.model.encode(images)
            u3 = self.model.segment(u1, v1)
        losses = {}
        if self.recon_fit != "truth":
            losses["recon_loss"] = reconstruction_loss(self.model.reconstruct(u3), images)
        if self.recon_fit != "prediction":
            labelled = batch["has_labelmap"]
            grid = reconstruction_size(self.model, u3.shape[-2:])
            losses["recon_truth_loss"] = truth_reconstruction_loss(
                self.model, images[labelled], batch["labelmap"][labelled], grid
            )
        losses["loss"] = sum(losses.values())
        self.log_losses("train", losses, len(images))
        return losses["loss"]
