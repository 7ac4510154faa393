"""The sample dict every reader returns, and turning a labelled sample into a tag-only one.

Keys (before any transform): ``image`` H×W×3 uint8, ``labelmap`` H×W uint8 (255 = ignore; all
255 when unknown), ``tags`` C float32 multi-hot, ``has_labelmap`` bool, ``id`` str, and the
hidden ground truth of tag-only images: ``hidden_labelmap`` H×W uint8 (the labelmap itself for
labelled samples, all 255 when unknown), ``clean_tags`` C float32 (``tags`` when unknown),
``has_hidden`` bool (the hidden labelmap is known) and ``has_clean_tags`` bool (the clean tags
are known).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from dis_seg.data.images import IGNORE_INDEX


def make_sample(
    sample_id: str,
    image: np.ndarray,
    tags: torch.Tensor,
    labelmap: np.ndarray | None = None,
    hidden_labelmap: np.ndarray | None = None,
    clean_tags: torch.Tensor | None = None,
) -> dict:
    """A sample dict; a given ``labelmap`` is also its hidden labelmap, its tags the clean ones."""
    unknown = np.full(image.shape[:2], IGNORE_INDEX, dtype=np.uint8)
    if labelmap is not None:
        hidden_labelmap, clean_tags = labelmap.copy(), tags.clone()
    return {
        "image": image,
        "labelmap": unknown if labelmap is None else labelmap,
        "tags": tags,
        "has_labelmap": labelmap is not None,
        "id": sample_id,
        "hidden_labelmap": unknown.copy() if hidden_labelmap is None else hidden_labelmap,
        "clean_tags": tags.clone() if clean_tags is None else clean_tags,
        "has_hidden": hidden_labelmap is not None,
        "has_clean_tags": clean_tags is not None,
    }


def hide_labelmap(sample: dict) -> dict:
    """The same sample as tag-only: ``labelmap`` all ignore, kept as its hidden labelmap.

    Works before and after the transform (numpy array or tensor labelmap).
    """
    labelmap = sample["labelmap"]
    if isinstance(labelmap, torch.Tensor):
        unknown = torch.full_like(labelmap, IGNORE_INDEX)
    else:
        unknown = np.full_like(labelmap, IGNORE_INDEX)
    return {**sample, "labelmap": unknown, "has_labelmap": False}


class HiddenLabelmaps(Dataset):
    """A view of a labelled dataset whose samples are served as tag-only (:func:`hide_labelmap`),
    their tags replaced by ``tag_noise(sample)`` when given (before any transform:
    :class:`~dis_seg.data.tag_noise.TagNoise`)."""

    def __init__(self, dataset: Dataset, tag_noise: Callable[[dict], dict] | None = None) -> None:
        self.dataset = dataset
        self.tag_noise = tag_noise

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        if self.tag_noise is not None:
            sample = self.tag_noise(sample)
        return hide_labelmap(sample)


class Transformed(Dataset):
    """The samples of ``dataset`` passed through ``transform``."""

    def __init__(self, dataset: Dataset, transform: Callable[[dict], dict]) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return self.transform(self.dataset[index])
