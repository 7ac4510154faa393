"""Example predictions on W&B: image, ground truth, prediction and reconstruction."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger

from dis_seg.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from dis_seg.models import upsample_logits


def denormalise(image: torch.Tensor) -> torch.Tensor:
    """A normalised 3×H×W image back to H×W×3 uint8."""
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    pixels = image.detach().float().cpu() * std + mean
    return (pixels.clamp(0, 1) * 255).round().byte().permute(1, 2, 0)


class WandbImageCallback(pl.Callback):
    """Every ``every_n_validations`` validations, log the first ``max_images`` images of the
    first validation batch with ground-truth and predicted masks and the reconstruction."""

    def __init__(self, every_n_validations: int = 5, max_images: int = 4) -> None:
        self.every_n_validations = every_n_validations
        self.max_images = max_images
        self.validations = 0

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.validations += 1

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if (
            not loggers
            or batch_idx != 0
            or trainer.sanity_checking
            or not trainer.is_global_zero
            or self.validations % self.every_n_validations
        ):
            return
        import wandb

        with torch.no_grad():
            out = pl_module.model(batch["image"])
        labels = dict(enumerate(pl_module.class_names))
        prediction = out.logits.argmax(dim=1).cpu().numpy()
        reconstruction = upsample_logits(out.z3, batch["image"].shape[-2:])
        images = []
        for index in range(min(self.max_images, len(batch["image"]))):
            masks = {
                "ground_truth": {
                    "mask_data": batch["labelmap"][index].cpu().numpy(),
                    "class_labels": labels,
                },
                "prediction": {"mask_data": prediction[index], "class_labels": labels},
            }
            images.append(
                wandb.Image(
                    denormalise(batch["image"][index]).numpy(),
                    masks=masks,
                    caption=batch["id"][index],
                )
            )
            images.append(
                wandb.Image(
                    denormalise(reconstruction[index]).numpy(),
                    caption=f"{batch['id'][index]} reconstruction",
                )
            )
        for logger in loggers:
            logger.experiment.log({"val/examples": images}, commit=False)
