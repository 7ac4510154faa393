"""Random training batches in the format of :mod:`dis_seg.data.collate`, for benchmarks and
tests that need the shapes of real data but none of its content."""

from __future__ import annotations

import torch

from dis_seg.data.images import IGNORE_INDEX


def random_training_batch(
    batch_size: int,
    size: int,
    num_classes: int,
    *,
    tag_rate: float = 0.15,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """A mixed batch: the first ``ceil(batch_size / 2)`` samples labelled, the rest tag-only
    with hidden truth.

    ``image`` B×3×size×size standard normal; ``labelmap``/``hidden_labelmap`` B×size×size
    uniform class ids, 255 where the other one holds the labels; ``tags`` = ``clean_tags`` B×C
    with each object class on at ``tag_rate`` and background always on; ``has_labelmap``,
    ``has_hidden`` and ``has_clean_tags`` B bool. Drawn from ``generator`` (default: seeded with 0).
    """
    generator = generator or torch.Generator().manual_seed(0)
    labelled = torch.arange(batch_size) < (batch_size + 1) // 2
    labelmap = torch.randint(num_classes, (batch_size, size, size), generator=generator)
    tags = (torch.rand(batch_size, num_classes, generator=generator) < tag_rate).float()
    tags[:, 0] = 1
    return {
        "image": torch.randn(batch_size, 3, size, size, generator=generator),
        "labelmap": labelmap.masked_fill(~labelled[:, None, None], IGNORE_INDEX),
        "hidden_labelmap": labelmap.masked_fill(labelled[:, None, None], IGNORE_INDEX),
        "tags": tags,
        "clean_tags": tags,
        "has_labelmap": labelled,
        "has_hidden": ~labelled,
        "has_clean_tags": torch.ones(batch_size, dtype=torch.bool),
    }
