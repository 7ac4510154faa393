"""Description-like noise on the tags of labelled images served tag-only (``data.tag_noise``).

A description names an image's salient objects: it leaves small objects out more often than
large ones and seldom names what is not there. :class:`TagNoise` drops the tag of a class
that covers less than ``small_area`` of the image with probability ``drop_small``, that of a
larger one with ``drop_large``, and with probability ``add`` gives the image one class it does
not hold (drawn uniformly from the absent ones; background is never dropped nor added). The
draws are fixed by ``seed`` and the image id: an image has the same noisy tags in every epoch,
run and process. All probabilities 0 (the configs' default) leave the tags as they are.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TagNoise:
    """The noise model (module docstring); its fields are ``data.tag_noise.*``."""

    small_area: float = 0.05
    drop_small: float = 0.0
    drop_large: float = 0.0
    add: float = 0.0
    seed: int = 0

    @classmethod
    def from_config(cls, options: Mapping[str, float], seed: int = 0) -> TagNoise:
        """The model of ``data.tag_noise`` (fields left out keep their defaults; the schema,
        :mod:`dis_seg.runs.schema`, checks the values)."""
        return cls(**options, seed=seed)

    @property
    def is_off(self) -> bool:
        return self.drop_small == self.drop_large == self.add == 0

    def noisy_tags(self, image_id: str, labelmap: np.ndarray, tags: torch.Tensor) -> torch.Tensor:
        """C multi-hot noisy tags of image ``image_id`` from its true ``tags`` and its H×W
        ``labelmap`` (class areas as fractions of all H·W pixels)."""
        num_classes = len(tags)
        rng = np.random.default_rng((self.seed, zlib.crc32(image_id.encode())))
        area = np.bincount(labelmap.ravel(), minlength=256)[:num_classes] / labelmap.size
        drop = np.where(area < self.small_area, self.drop_small, self.drop_large)
        dropped = rng.random(num_classes) < drop
        noisy = tags.clone()
        present = tags.bool().numpy()
        noisy[1:][torch.from_numpy(present[1:] & dropped[1:])] = 0.0
        absent = np.flatnonzero(~present[1:]) + 1
        if rng.random() < self.add and absent.size:
            noisy[int(rng.choice(absent))] = 1.0
        return noisy

    def __call__(self, sample: dict) -> dict:
        """A labelled sample (before any transform) with noisy ``tags``, its true ones kept as
        ``clean_tags`` and its labelmap as ``hidden_labelmap``."""
        tags = self.noisy_tags(sample["id"], sample["hidden_labelmap"], sample["clean_tags"])
        return {**sample, "tags": tags}
