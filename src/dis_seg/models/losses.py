"""The three DIS losses.

Every loss takes ``reduction="mean"`` (a scalar) or ``"none"`` (one value per sample, B), so
callers can weight or select samples without coupling them.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.models.dis_net import upsample_logits

Reduction = Literal["mean", "none"]


def _reduce(per_sample: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "none":
        return per_sample
    if reduction == "mean":
        return per_sample.mean()
    raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")


def segmentation_loss(
    logits: torch.Tensor, labelmap: torch.Tensor, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Pixel cross-entropy, 255 ignored.

    logits: B×C×h×w (bilinearly upsampled here when smaller than the labelmap) or B×C×H×W;
    labelmap: B×H×W class ids. ``"mean"`` averages over all valid pixels of the batch (0 when
    there are none); ``"none"`` gives each sample's mean over its valid pixels (B; 0 for a sample
    without valid pixels).
    """
    if logits.shape[-2:] != labelmap.shape[-2:]:
        logits = upsample_logits(logits, labelmap.shape[-2:])
    pixel_loss = F.cross_entropy(
        logits, labelmap.long(), ignore_index=IGNORE_INDEX, reduction="none"
    ).flatten(1)
    valid = (labelmap != IGNORE_INDEX).flatten(1)
    if reduction == "mean":
        return pixel_loss.sum() / valid.sum().clamp(min=1)
    return _reduce(pixel_loss.sum(1) / valid.sum(1).clamp(min=1), reduction)


def tag_loss(v3: torch.Tensor, tags: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Multi-label BCE-with-logits of tag logits v3 (B×C) against multi-hot tags (B×C)."""
    per_class = F.binary_cross_entropy_with_logits(v3, tags.to(v3.dtype), reduction="none")
    return _reduce(per_class.mean(dim=1), reduction)


def downsample_image(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area downsampling of normalised images B×3×H×W to B×3×h×w, the reconstruction target
    (images already h×w are returned as they are)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=tuple(size), mode="area")


def reconstruction_loss(
    z3: torch.Tensor, images: torch.Tensor, reduction: Reduction = "mean"
) -> torch.Tensor:
    """MSE between the reconstruction z3 (B×3×h×w) and the images (B×3×H×W) area-downsampled."""
    target = downsample_image(images, z3.shape[-2:]).to(z3.dtype)
    return _reduce(F.mse_loss(z3, target, reduction="none").flatten(1).mean(dim=1), reduction)
