"""Class names, image-level tags as multi-hot vectors, and tags found in free-text descriptions.

A tag vector is a float32 tensor of length C (one entry per class name) with background
(index 0) always 1. Descriptions are matched against a *vocabulary*: a mapping from class name
to the words and phrases that mean it (synonyms and irregular plurals). Matching is
case-insensitive and on whole words; regular plurals (``-s``, ``-es``) are accepted for every
phrase, and the words of a phrase may be separated by spaces or hyphens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import torch

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.errors import UnknownTagError

VOC_CLASSES: tuple[str, ...] = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

VOC_VOCABULARY: dict[str, tuple[str, ...]] = {
    "aeroplane": ("aeroplane", "airplane", "aircraft", "plane", "jet", "airliner"),
    "bicycle": ("bicycle", "bike"),
    "bird": (
        "bird",
        "parrot",
        "eagle",
        "duck",
        "seagull",
        "gull",
        "pigeon",
        "owl",
        "swan",
        "goose",
        "geese",
    ),
    "boat": ("boat", "ship", "sailboat", "yacht", "canoe", "kayak", "ferry"),
    "bottle": ("bottle",),
    "bus": ("bus",),
    "car": ("car", "automobile", "taxi", "jeep"),
    "cat": ("cat", "kitten", "kitty"),
    "chair": ("chair", "armchair"),
    "cow": ("cow", "cattle", "calf", "calves", "bull", "ox", "oxen"),
    "diningtable": ("diningtable", "dining table", "table"),
    "dog": ("dog", "puppy", "puppies", "pup"),
    "horse": ("horse", "pony", "ponies", "foal", "stallion"),
    "motorbike": ("motorbike", "motorcycle", "scooter", "moped"),
    "person": (
        "person",
        "people",
        "man",
        "men",
        "woman",
        "women",
        "child",
        "children",
        "kid",
        "boy",
        "girl",
        "baby",
        "babies",
        "lady",
        "ladies",
        "guy",
    ),
    "pottedplant": ("pottedplant", "potted plant", "houseplant", "plant"),
    "sheep": ("sheep", "lamb"),
    "sofa": ("sofa", "couch", "settee"),
    "train": ("train", "locomotive", "tram"),
    "tvmonitor": ("tvmonitor", "tv monitor", "tv", "television", "monitor", "screen"),
}


def _phrase_pattern(phrase: str) -> str:
    words = [re.escape(word) for word in phrase.lower().split()]
    return r"[\s\-]+".join(words) + r"(?:e?s)?"


@lru_cache(maxsize=8)
def _compile(vocabulary: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, re.Pattern]]:
    compiled = []
    for name, phrases in vocabulary:
        alternatives = "|".join(_phrase_pattern(p) for p in sorted(phrases, key=len, reverse=True))
        compiled.append((name, re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)))
    return compiled


def tags_from_description(
    text: str, vocabulary: Mapping[str, Sequence[str]] = VOC_VOCABULARY
) -> set[str]:
    """Class names whose words occur in ``text`` (e.g. "two men riding horses" → person, horse)."""
    key = tuple((name, tuple(phrases)) for name, phrases in vocabulary.items())
    return {name for name, pattern in _compile(key) if pattern.search(text)}


def tags_to_multi_hot(
    names: Iterable[str], class_names: Sequence[str], where: str = "tags"
) -> torch.Tensor:
    """C float32 multi-hot of ``names`` with background set; ``where`` locates errors."""
    index = {name: i for i, name in enumerate(class_names)}
    tags = torch.zeros(len(class_names), dtype=torch.float32)
    tags[0] = 1.0
    for name in names:
        if name not in index:
            raise UnknownTagError(
                f"{where}: unknown tag {name!r}; valid tags are: {', '.join(class_names)}"
            )
        tags[index[name]] = 1.0
    return tags


def tags_from_labelmap(labelmap: np.ndarray, num_classes: int) -> torch.Tensor:
    """C float32 multi-hot of the classes present in an H×W labelmap (255 ignored, background
    always present); a value outside 0..C-1 and 255 is a ValueError."""
    counts = np.bincount(labelmap.ravel(), minlength=256)
    unknown = np.flatnonzero(counts[num_classes:IGNORE_INDEX])
    if unknown.size:
        raise ValueError(
            f"labelmap holds class id {num_classes + unknown[0]}; expected 0..{num_classes - 1} "
            f"or {IGNORE_INDEX}"
        )
    counts = counts[:num_classes]
    tags = torch.from_numpy((counts > 0).astype(np.float32))
    tags[0] = 1.0
    return tags
