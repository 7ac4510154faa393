"""How far noisy image tags are from the true ones: recall, precision, false and missed tags.

Tags are sets of class names per image; background is not a tag here. A true tag that the
noisy tags lack is *missed*, a noisy tag that is not true is *false*. Per class: recall =
named / true, precision = correctly named / named; overall the same over all tags (micro).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TagQuality:
    """Counts per class (arrays of length ``len(classes)``) over ``images`` images."""

    classes: tuple[str, ...]
    images: int
    true: np.ndarray
    named: np.ndarray
    correct: np.ndarray

    @property
    def recall(self) -> float:
        return _ratio(self.correct.sum(), self.true.sum())

    @property
    def precision(self) -> float:
        return _ratio(self.correct.sum(), self.named.sum())

    @property
    def false_per_image(self) -> float:
        return _ratio(self.named.sum() - self.correct.sum(), self.images)

    @property
    def missed_per_image(self) -> float:
        return _ratio(self.true.sum() - self.correct.sum(), self.images)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def measure_tags(
    noisy: Iterable[set[str]], clean: Iterable[set[str]], classes: Sequence[str]
) -> TagQuality:
    """The agreement of ``noisy`` with ``clean`` (one set per image, in the same order) over
    ``classes`` (names outside them, background for one, are not counted)."""
    index = {name: i for i, name in enumerate(classes)}
    counts = np.zeros((3, len(classes)), dtype=np.int64)
    images = 0
    for named, true in zip(noisy, clean, strict=True):
        images += 1
        for row, names in enumerate((true, named, named & true)):
            for name in names:
                if name in index:
                    counts[row, index[name]] += 1
    return TagQuality(tuple(classes), images, *counts)


def format_tag_quality(quality: TagQuality) -> str:
    """A table per class (images truly holding it, images naming it, recall, precision), then
    the overall recall, precision, false and missed tags per image."""

    def percent(value: float) -> str:
        return "-" if np.isnan(value) else f"{100 * value:.1f}"

    rows = [("class", "true", "named", "recall %", "precision %")]
    for name, true, named, correct in zip(
        quality.classes, quality.true, quality.named, quality.correct, strict=True
    ):
        recall, precision = _ratio(correct, true), _ratio(correct, named)
        rows.append((name, str(true), str(named), percent(recall), percent(precision)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += [
        f"overall over {quality.images} images: recall {percent(quality.recall)} %, precision "
        f"{percent(quality.precision)} %, {quality.false_per_image:.3f} false and "
        f"{quality.missed_per_image:.3f} missed tags per image",
    ]
    return "\n".join(lines)
