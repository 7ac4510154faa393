"""Subnet-2 on ground-truth labelmaps: what it would reconstruct from the truth, and the loss
that fits it to the truth (``recon_fit``) so that the truth, not the network's own errors,
reconstructs the image best."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.models import DISNet
from dis_seg.models.losses import Reduction, reconstruction_loss

RECON_FITS = ("prediction", "truth", "both")
"""What subnet-2 is fitted to: the network's predicted labelmaps of all images (the paper),
the ground-truth labelmaps of the labelled images, or both."""


def truth_fractions(
    labelmap: torch.Tensor, size: tuple[int, int], num_classes: int
) -> torch.Tensor:
    """Per-cell class fractions B×C×h×w of labelmaps B×H×W on an h×w grid (area
    downsampling of the one-hot labelmap, ignored pixels left out). A cell without a labelled
    pixel holds NaN."""
    valid = labelmap != IGNORE_INDEX
    one_hot = F.one_hot(labelmap.long().where(valid, 0), num_classes).permute(0, 3, 1, 2)
    counts = F.adaptive_avg_pool2d((one_hot * valid[:, None]).float(), size)
    return counts / counts.sum(dim=1, keepdim=True)


def reconstruct_truth(model: DISNet, fractions: torch.Tensor) -> torch.Tensor:
    """Subnet-2 on class fractions B×C×sh×sw on the grid of the reconstruction → z3
    B×3×sh×sw. A network that reads logits is given the logits whose softmax the fractions
    are (their logarithm)."""
    if model.recon_input == "logits":
        fractions = fractions.clamp(min=1e-6).log()
    return model.reconstruct_labelmap(fractions)


def truth_reconstruction_loss(
    model: DISNet,
    images: torch.Tensor,
    labelmap: torch.Tensor,
    size: tuple[int, int],
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """The reconstruction loss of subnet-2 fed the ground truth: images B×3×H×W, labelmaps
    B×H×W, ``size`` the grid of the reconstruction (that of z3). A cell without a labelled
    pixel is read as all-zero fractions."""
    fractions = truth_fractions(labelmap, size, model.num_classes).nan_to_num(0.0)
    return reconstruction_loss(reconstruct_truth(model, fractions), images, reduction)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Inside, ``module``'s parameters take no gradient (what runs through it still passes
    gradients to its inputs); their ``requires_grad`` is restored after."""
    flags = [(parameter, parameter.requires_grad) for parameter in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
