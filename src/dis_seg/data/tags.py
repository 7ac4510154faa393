"""Class names, image-level tags as multi-hot vectors, and tags found in free-text descriptions.

A tag vector is a float32 tensor of length C (one entry per class name) with background
(index 0) always 1. Descriptions are matched against a *vocabulary*: a mapping from class name
to the words and phrases that mean it (synonyms and irregular plurals). Matching is
case-insensitive and on whole words; regular plurals (``-s``, ``-es``) are accepted for every
phrase, and the words of a phrase may be separated by spaces or hyphens. The text is read left
to right, taking the longest phrase at each place, so a phrase holds its words: "sheep dog"
names a dog only, and the phrases of :data:`NON_CLASS_PHRASES` ("hot dog") name nothing.
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
    "aeroplane": ("aeroplane", "airplane", "aircraft", "plane", "jet", "airliner", "jetliner"),
    "bicycle": ("bicycle", "bike"),
    "bird": (
        "bird",
        "parrot",
        "eagle",
        "duck",
        "duckling",
        "seagull",
        "gull",
        "pigeon",
        "owl",
        "swan",
        "goose",
        "geese",
        "sparrow",
        "pelican",
        "heron",
        "penguin",
    ),
    "boat": ("boat", "ship", "sailboat", "yacht", "canoe", "kayak", "ferry", "tugboat"),
    "bottle": ("bottle",),
    "bus": ("bus", "double decker"),
    "car": ("car", "automobile", "taxi", "jeep", "sedan", "suv", "minivan"),
    "cat": ("cat", "kitten", "kitty", "kitties", "tabby"),
    "chair": ("chair", "armchair"),
    "cow": ("cow", "cattle", "calf", "calves", "bull", "ox", "oxen"),
    "diningtable": ("diningtable", "dining table", "table"),
    "dog": (
        "dog",
        "puppy",
        "puppies",
        "pup",
        "collie",
        "terrier",
        "poodle",
        "sheep dog",
        "sheepdog",
        "bulldog",
        "pit bull",
    ),
    "horse": ("horse", "pony", "ponies", "foal", "stallion", "mare", "horseback"),
    "motorbike": (
        "motorbike",
        "motor bike",
        "motorcycle",
        "motorcyclist",
        "dirt bike",
        "scooter",
        "moped",
    ),
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
        "someone",
        "friend",
        "player",
        "rider",
        "skier",
        "surfer",
        "skateboarder",
        "snowboarder",
        "cyclist",
        "bicyclist",
        "farmer",
        "worker",
    ),
    "pottedplant": ("pottedplant", "potted plant", "houseplant", "plant"),
    "sheep": ("sheep", "lamb"),
    "sofa": ("sofa", "couch", "settee", "loveseat"),
    "train": ("train", "locomotive", "tram", "train car"),
    "tvmonitor": ("tvmonitor", "tv monitor", "tv", "television", "monitor", "screen"),
}
"""Class name → the words and phrases that name it (module docstring)."""

NON_CLASS_PHRASES: tuple[str, ...] = (
    "hot dog",
    "corn dog",
    "jet ski",
    "power plant",
    "industrial plant",
    "train track",
    "chair lift",
    "laptop screen",
    "phone screen",
    "screen door",
    "table tennis",
    "bus stop",
)
"""Phrases that hold a class word but name no class ("hot dog", "power plant", "train
tracks"): where one occurs, its words name nothing."""


def _phrase_pattern(phrase: str) -> str:
    words = [re.escape(word) for word in phrase.lower().split()]
    return r"[\s\-]+".join(words) + r"(?:e?s)?"


@lru_cache(maxsize=8)
def _compile(
    vocabulary: tuple[tuple[str, tuple[str, ...]], ...], ignored: tuple[str, ...]
) -> tuple[re.Pattern, tuple[str | None, ...]]:
    """One pattern with a group per phrase, longest first, and the class of each group
    (None for an ignored phrase)."""
    entries = [(phrase, name) for name, phrases in vocabulary for phrase in phrases]
    entries += [(phrase, None) for phrase in ignored]
    entries.sort(key=lambda entry: len(entry[0]), reverse=True)
    alternatives = "|".join(f"({_phrase_pattern(phrase)})" for phrase, _ in entries)
    pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
    return pattern, tuple(name for _, name in entries)


def tags_from_description(
    text: str,
    vocabulary: Mapping[str, Sequence[str]] = VOC_VOCABULARY,
    ignored: Sequence[str] = NON_CLASS_PHRASES,
) -> set[str]:
    """Class names whose words occur in ``text`` (e.g. "two men riding horses" → person, horse).

    The text is read left to right, taking at each place the longest phrase that occurs there:
    "a sheep dog" names a dog, not a sheep; "a hot dog" (an ``ignored`` phrase) names nothing.
    """
    key = tuple((name, tuple(phrases)) for name, phrases in vocabulary.items())
    pattern, names = _compile(key, tuple(ignored))
    found = (names[match.lastindex - 1] for match in pattern.finditer(text))
    return {name for name in found if name is not None}


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
