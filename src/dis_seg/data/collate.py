"""Batching transformed samples, padding them to a common size that is a multiple of a stride.

A batch holds ``image`` B×3×H×W float, ``labelmap`` and ``hidden_labelmap`` B×H×W int64,
``tags`` and ``clean_tags`` B×C float, ``has_labelmap``, ``has_hidden`` and ``has_clean_tags``
B bool, ``id``
list[str] and ``orig_size`` B×2 int64. H and W are the largest sample height and width rounded
up to a multiple of ``pad_multiple``; images are padded at the bottom and right with 0 (the
mean colour after normalisation), labelmaps with 255, so a prediction for sample b is cropped
back with ``[..., :h, :w]`` where ``(h, w) = orig_size[b]`` for evaluation samples (their
transform keeps the original size). Training crops all share one size and are stacked with
``pad_multiple=1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dis_seg.data.images import IGNORE_INDEX


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _pad_stack(tensors: list[torch.Tensor], height: int, width: int, fill: float) -> torch.Tensor:
    return torch.stack(
        [F.pad(t, (0, width - t.shape[-1], 0, height - t.shape[-2]), value=fill) for t in tensors]
    )


def collate_samples(samples: list[dict], pad_multiple: int = 1) -> dict:
    """Stack transformed sample dicts into a batch dict, padding as described above."""
    height = _round_up(max(s["image"].shape[-2] for s in samples), pad_multiple)
    width = _round_up(max(s["image"].shape[-1] for s in samples), pad_multiple)
    return {
        "image": _pad_stack([s["image"] for s in samples], height, width, 0.0),
        "labelmap": _pad_stack([s["labelmap"] for s in samples], height, width, IGNORE_INDEX),
        "hidden_labelmap": _pad_stack(
            [s["hidden_labelmap"] for s in samples], height, width, IGNORE_INDEX
        ),
        "tags": torch.stack([s["tags"] for s in samples]),
        "clean_tags": torch.stack([s["clean_tags"] for s in samples]),
        "has_labelmap": torch.tensor([s["has_labelmap"] for s in samples]),
        "has_hidden": torch.tensor([s["has_hidden"] for s in samples]),
        "has_clean_tags": torch.tensor([s["has_clean_tags"] for s in samples]),
        "id": [s["id"] for s in samples],
        "orig_size": torch.stack([s["orig_size"] for s in samples]),
    }
