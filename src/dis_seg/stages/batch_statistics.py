"""Whose BatchNorm statistics normalise a mixed training batch (``bn_statistics``)."""

from __future__ import annotations

from dataclasses import fields

import torch

from dis_seg.inference.iterative import eval_mode
from dis_seg.models import DISNet, DISOutput

BN_STATISTICS = ("batch", "labelled")
"""``batch``: one forward pass of the whole batch, normalised by (and keeping) its BatchNorm
statistics; ``labelled``: those of its labelled images alone (:func:`training_forward`)."""


def training_forward(
    model: DISNet, images: torch.Tensor, labelled: torch.Tensor, bn_statistics: str
) -> DISOutput:
    """The training forward pass of images B×3×H×W, of which ``labelled`` (B bool) carry
    labelmaps; every output in the batch's order, with gradients.

    With ``bn_statistics="labelled"`` and both kinds in the batch, the labelled images pass
    alone (their batch statistics normalise them and move BatchNorm's running statistics) and
    the tag-only images in a second pass with the backbone in eval mode, normalised by the
    running statistics, which they leave as they are: the tag-only images (another source)
    never shift the statistics the labelled images are normalised by.
    """
    if bn_statistics not in BN_STATISTICS:
        raise ValueError(f"bn_statistics: expected one of {BN_STATISTICS}, got {bn_statistics!r}")
    if bn_statistics == "batch" or labelled.all() or not labelled.any():
        return model(images)
    with_labels = model(images[labelled])
    with eval_mode([model.backbone]):
        tag_only = model(images[~labelled])
    order = torch.cat([labelled.nonzero()[:, 0], (~labelled).nonzero()[:, 0]])
    inverse = torch.argsort(order)
    merged = {
        field.name: torch.cat([getattr(with_labels, field.name), getattr(tag_only, field.name)])[
            inverse
        ]
        for field in fields(DISOutput)
    }
    return DISOutput(**merged)
