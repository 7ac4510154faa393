"""Sample-dict transforms built on albumentations: training augmentation and evaluation.

Both take a reader's sample (``image`` H×W×3 uint8, ``labelmap``/``hidden_labelmap`` H×W
uint8) and return tensors: ``image`` 3×h×w float32 normalised with the ImageNet mean/std,
``labelmap`` and ``hidden_labelmap`` h×w int64, ``orig_size`` int64 (H, W) of the image before
the transform. Masks always go through the same geometry as the image (nearest-neighbour);
tags are never changed.

Training: colour jitter, random scale, pad to the crop size (image with the mean colour, masks
with 255), random crop, horizontal flip, normalise. Evaluation: normalise only; padding to a
multiple of the output stride happens in :func:`dis_seg.data.collate.collate_samples`.
"""

from __future__ import annotations

import albumentations as A
import cv2
import torch
from albumentations.pytorch import ToTensorV2

from dis_seg.data.images import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MEAN_COLOUR = tuple(round(255 * m) for m in IMAGENET_MEAN)


class SampleTransform:
    """Applies an albumentations pipeline to a sample dict's image and masks.

    The pipeline is reseeded from ``torch.initial_seed()`` whenever that changes, so every
    DataLoader worker (and every epoch of non-persistent workers) draws its own augmentations,
    reproducibly under a fixed torch seed.
    """

    def __init__(self, ops: list[A.BasicTransform]) -> None:
        self.pipeline = A.Compose(
            [*ops, A.Normalize(IMAGENET_MEAN, IMAGENET_STD), ToTensorV2()],
            additional_targets={"hidden_labelmap": "mask"},
        )
        self._seed: int | None = None

    def __call__(self, sample: dict) -> dict:
        if self._seed != torch.initial_seed():
            self._seed = torch.initial_seed()
            self.pipeline.set_random_seed(self._seed % 2**32)
        out = self.pipeline(
            image=sample["image"],
            mask=sample["labelmap"],
            hidden_labelmap=sample["hidden_labelmap"],
        )
        height, width = sample["image"].shape[:2]
        return {
            **sample,
            "image": out["image"],
            "labelmap": out["mask"].long(),
            "hidden_labelmap": out["hidden_labelmap"].long(),
            "orig_size": torch.tensor([height, width]),
        }


def train_transform(
    crop_size: int,
    scale_range: tuple[float, float] = (0.5, 1.5),
    hflip_prob: float = 0.5,
    colour_jitter: float = 0.2,
) -> SampleTransform:
    """Random scale in ``scale_range``, pad and random ``crop_size``² crop, flip, jitter."""
    low, high = scale_range
    return SampleTransform(
        [
            A.ColorJitter(colour_jitter, colour_jitter, colour_jitter, hue=0.0, p=1.0),
            A.RandomScale(
                scale_limit=(low - 1.0, high - 1.0),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                p=1.0,
            ),
            A.PadIfNeeded(
                crop_size,
                crop_size,
                border_mode=cv2.BORDER_CONSTANT,
                fill=MEAN_COLOUR,
                fill_mask=IGNORE_INDEX,
            ),
            A.RandomCrop(crop_size, crop_size),
            A.HorizontalFlip(p=hflip_prob),
        ]
    )


def eval_transform() -> SampleTransform:
    """Normalisation only: the image keeps its original size."""
    return SampleTransform([])
