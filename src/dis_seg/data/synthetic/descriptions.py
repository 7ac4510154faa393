"""Tags and descriptions of the tag-only images, as a person describing a photograph gives them:
the salient objects are named, small or mostly hidden ones often not, false ones rarely.

A class of an image is *small* when its visible pixels cover less than :data:`SMALL` of the
image and *mostly hidden* when less than :data:`HIDDEN` of its objects' pixels are visible.
With tag noise ``(drop, add)``, a small or mostly hidden class goes unnamed with probability
``drop`` and any other with ``drop`` × :data:`SALIENT_DROP`; with probability ``add`` the
description names one absent class. The description names exactly the noisy tags, with words
of :data:`dis_seg.data.tags.VOC_VOCABULARY`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from dis_seg.data.tags import VOC_CLASSES, VOC_VOCABULARY

SMALL = 0.1
HIDDEN = 0.5
SALIENT_DROP = 0.1
LARGE = 0.3  # described as "large" from this fraction of the image on
WHERE = {"indoor": "in a room", "street": "on a street", "field": "in a field",
         "water": "by the water"}  # fmt: skip
TEMPLATES = ("a photo of {} {}", "{} {}", "snapshot: {} {}", "here we see {} {}")


def visibility(objects: Sequence[Mapping], pixels: int) -> dict[int, tuple[float, float]]:
    """Class id → (visible fraction of the image, visible fraction of its objects' pixels), for
    the classes of ``objects`` (``{"class", "area", "visible"}`` each) in an image of
    ``pixels`` pixels, most visible first."""
    area, seen = Counter(), Counter()
    for obj in objects:
        area[VOC_CLASSES.index(obj["class"])] += obj["area"]
        seen[VOC_CLASSES.index(obj["class"])] += obj["visible"]
    shown = {c: (seen[c] / pixels, seen[c] / area[c]) for c in area if seen[c] > 0}
    return dict(sorted(shown.items(), key=lambda item: -item[1][0]))


def noisy_tags(
    shown: Mapping[int, tuple[float, float]],
    classes: Sequence[int],
    drop: float,
    add: float,
    rng,
) -> list[int]:
    """The classes a description names: those of ``shown`` (:func:`visibility`) kept by the
    rules above, plus with probability ``add`` one of ``classes`` not shown; most visible
    first, the false one last."""
    tags = []
    for class_id, (fraction, visible) in shown.items():
        salient = fraction >= SMALL and visible >= HIDDEN
        if rng.random() >= (drop * SALIENT_DROP if salient else drop):
            tags.append(class_id)
    absent = [c for c in classes if c not in shown]
    if absent and rng.random() < add:
        tags.append(int(rng.choice(absent)))
    return tags


def describe(tags: Sequence[int], shown: Mapping[int, tuple[float, float]], scene: str, rng) -> str:
    """An English sentence naming exactly the classes ``tags`` (with a size word from
    ``shown`` where they are shown) and where the scene is."""
    phrases = []
    for class_id in tags:
        word = str(rng.choice(VOC_VOCABULARY[VOC_CLASSES[class_id]]))
        fraction = shown.get(class_id, (0.1, 1.0))[0]
        size = "small " if fraction < SMALL else "large " if fraction >= LARGE else ""
        phrase = size + word
        phrases.append(f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}")
    if not phrases:
        return f"nothing in particular {WHERE[scene]}"
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return str(rng.choice(TEMPLATES)).format(listed, WHERE[scene])
