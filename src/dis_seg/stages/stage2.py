"""Stage 2 of DIS: reconstruction of the image from the labelmap."""

from __future__ import annotations

from typing import Any

import torch

from dis_seg.losses import reconstruction_loss
from dis_seg.stages.base import DISModule


class Stage2Module(DISModule):
    """Stage 2: subnet-2 learns to reconstruct the image from the labelmap; all else frozen."""

    trainable = ("reconstruction_head",)

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        images = batch["image"]
        with torch.no_grad():
            u1, v1 = self.model.encode(images)
            u3 = self.model.segment(u1, v1)
        loss = reconstruction_loss(self.model.reconstruct(u3), images)
        self.log_losses("train", {"loss": loss, "recon_loss": loss}, len(images))
        return loss
