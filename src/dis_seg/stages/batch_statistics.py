"""Whose BatchNorm statistics normalise a mixed training batch (``bn_statistics``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from dis_seg.inference.iterative import eval_mode
from dis_seg.models import DISNet, DISOutput

BN_STATISTICS = ("batch", "labelled", "separate")
"""``batch``: one forward pass of the whole batch, normalised by (and keeping) its BatchNorm
statistics; ``labelled``: those of its labelled images alone, the tag-only images normalised
by the running statistics; ``separate``: each kind by its own batch statistics, the running
statistics kept from the labelled images alone (:func:`training_forward`)."""


def training_forward(
    model: DISNet, images: torch.Tensor, labelled: torch.Tensor, bn_statistics: str
) -> DISOutput:
    """The training forward pass of images B×3×H×W, of which ``labelled`` (B bool) carry
    labelmaps; every output in the batch's order, with gradients.

    With ``bn_statistics`` ``"labelled"`` or ``"separate"`` and both kinds in the batch, the
    labelled images pass alone (their batch statistics normalise them and move BatchNorm's
    running statistics) and the tag-only images in a second pass that leaves the running
    statistics as they are: with ``"labelled"`` the backbone is in eval mode and normalises
    them by the running statistics, with ``"separate"`` by their own batch statistics. Either
    way the tag-only images (another source) never shift the statistics the labelled images
    are normalised by.
    """
    if bn_statistics not in BN_STATISTICS:
        raise ValueError(f"bn_statistics: expected one of {BN_STATISTICS}, got {bn_statistics!r}")
    if bn_statistics == "batch" or labelled.all() or not labelled.any():
        return model(images)
    with_labels = model(images[labelled])
    kept = eval_mode if bn_statistics == "labelled" else running_statistics_kept
    with kept([model.backbone]):
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


@contextmanager
def running_statistics_kept(modules: list[nn.Module]) -> Iterator[None]:
    """Within it, the BatchNorm layers of ``modules`` normalise by batch statistics (in train
    mode) as usual, updating copies of their running statistics; on leaving, they hold their
    own again, as they were on entering (the copies, which autograd may have saved, are
    left untouched)."""
    norms = [m for root in modules for m in root.modules() if isinstance(m, _BatchNorm)]
    own = [dict(norm.named_buffers(recurse=False)) for norm in norms]
    for norm, buffers in zip(norms, own, strict=True):
        for name, buffer in buffers.items():
            setattr(norm, name, buffer.clone())
    try:
        yield
    finally:
        for norm, buffers in zip(norms, own, strict=True):
            for name, buffer in buffers.items():
                setattr(norm, name, buffer)
