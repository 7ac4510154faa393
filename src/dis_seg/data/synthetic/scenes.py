"""Synthetic scenes: where objects go, their painting in order (later ones occlude earlier
ones), the classes a scene holds and the clutter of no class around them. The classes' looks
are in :mod:`.looks`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dis_seg.data.synthetic.looks import (
    BEIGE,
    BLUE,
    BROWN,
    CLASS_LOOKS,
    CORAL,
    DARK,
    DARK_COLOURS,
    GREEN,
    GREY,
    LAVENDER,
    LIME,
    MAROON,
    NAVY,
    OLIVE,
    ORANGE,
    PALETTE,
    PINK,
    PURPLE,
    RED,
    SKY,
    TEAL,
    WHITE,
    YELLOW,
    part_mask,
    texture,
)  # fmt: skip
from dis_seg.data.tags import VOC_CLASSES


def jittered(index: int, rng) -> np.ndarray:
    """Palette colour ``index`` as 3 floats, jittered."""
    return PALETTE[index] + rng.uniform(-15, 15, 3)


def mute(colour: np.ndarray, amount: float) -> np.ndarray:
    """``colour`` (3 floats) moved ``amount`` of the way to the grey of its brightness."""
    return (1 - amount) * colour + amount * colour.mean()


@dataclass
class Placement:
    """Where an object goes: centre (cy, cx) and radius in pixels, aspect, tilt (radians),
    mirrored or not."""

    cy: float
    cx: float
    radius: float
    aspect: float
    tilt: float
    mirrored: bool


def place(size: int, rng) -> Placement:
    """A random placement in a size×size image, its radius a fraction RADIUS_RANGE of size."""
    radius = rng.uniform(*RADIUS_RANGE) * size
    margin = 0.4 * radius
    return Placement(
        *rng.uniform(margin, size - margin, 2),
        radius,
        rng.uniform(0.85, 1.18),
        rng.uniform(-0.15, 0.15),
        bool(rng.random() < 0.5),
    )


def object_coordinates(where: Placement, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v): size×size object units of every pixel for the object placed at ``where``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dy, dx = (yy - where.cy) / where.radius, (xx - where.cx) / where.radius
    c, s = np.cos(where.tilt), np.sin(where.tilt)
    u = (c * dx + s * dy) / where.aspect
    v = (-s * dx + c * dy) * where.aspect
    return (-u if where.mirrored else u), v


def render_object(
    class_name: str, where: Placement, size: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """The object of ``class_name`` at ``where``: a size×size boolean mask and a size×size×3
    float colour image (meaningful inside the mask)."""
    look = CLASS_LOOKS[class_name]
    u, v = object_coordinates(where, size)
    main, second = (jittered(i, rng) for i in look.colours)
    pattern = texture(look.texture, u, v, rng.uniform(0.3, 0.5), rng)[..., None]
    textured = main * (1 - pattern) + second * pattern
    colours = [textured, second, jittered(int(rng.choice(DARK_COLOURS)), rng)]
    mask = np.zeros((size, size), dtype=bool)
    image = np.zeros((size, size, 3))
    for part in look.parts:
        inside = part_mask(part, u, v)
        role = part[1]
        image[inside] = colours[role][inside] if role == 0 else colours[role]
        mask |= inside
    return mask, image * rng.uniform(0.85, 1.15)


# Scene kinds: the classes an image of the kind mostly holds, and its background colours.
SCENES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "indoor": (
        ("bottle", "cat", "chair", "diningtable", "dog", "person", "pottedplant", "sofa",
         "tvmonitor"),
        (BEIGE, WHITE, BROWN, PINK, GREY, PURPLE, OLIVE, LAVENDER, MAROON),
    ),
    "street": (
        ("bicycle", "bus", "car", "motorbike", "person", "dog", "train", "bottle"),
        (GREY, DARK, SKY, WHITE, BEIGE, RED, BROWN, NAVY, CORAL),
    ),
    "field": (
        ("bird", "cow", "dog", "horse", "sheep", "person", "train", "pottedplant"),
        (GREEN, OLIVE, SKY, YELLOW, BROWN, ORANGE, LIME),
    ),
    "water": (
        ("aeroplane", "bird", "boat", "person", "dog", "chair"),
        (BLUE, TEAL, SKY, WHITE, YELLOW, GREEN, NAVY),
    ),
}  # fmt: skip
# Probability that an object is of its scene's classes (else of any class).
IN_CONTEXT = 0.8
# Objects per image and their probabilities; object radius as a fraction of the image side.
OBJECT_COUNTS, OBJECT_COUNT_P = (1, 2, 3), (0.45, 0.4, 0.15)
RADIUS_RANGE = (0.34, 0.52)
# Every object keeps at least this fraction of its pixels visible (placements are redrawn).
MIN_VISIBLE = 0.35
CLUTTER_KINDS = ("star", "cross", "poly", "bar", "ring")
# Backgrounds and clutter take palette colours muted by an amount in MUTED; clutter is blended
# with what it covers by CLUTTER_BLEND.
MUTED, CLUTTER_BLEND = (0.5, 0.8), 0.4


def pick_classes(scene: str, classes: Sequence[str], rng) -> list[str]:
    """The classes of an image's objects (1–3 of ``classes``), mostly of ``scene``'s."""
    in_scene = [c for c in SCENES[scene][0] if c in classes] or list(classes)
    count = int(rng.choice(OBJECT_COUNTS, p=OBJECT_COUNT_P))
    names = []
    for _ in range(count):
        pool = in_scene if rng.random() < IN_CONTEXT else classes
        names.append(str(rng.choice(pool)))
    return names


def paint_clutter(image: np.ndarray, colours: Sequence[int], count: int, rng) -> None:
    """Paint ``count`` shapes of no class (stars, crosses, polygons, bars, rings) into the
    H×W×3 float ``image``, in palette colours muted towards the pixels they cover."""
    size = image.shape[0]
    for _ in range(count):
        where = Placement(*rng.uniform(0, size, 2), rng.uniform(0.06, 0.2) * size, 1.0,
                          rng.uniform(0, np.pi), False)  # fmt: skip
        u, v = object_coordinates(where, size)
        kind = rng.choice(CLUTTER_KINDS)
        if kind == "star":
            mask = np.hypot(u, v) <= 0.6 + 0.4 * np.cos(5 * np.arctan2(v, u))
        elif kind == "cross":
            mask = (np.minimum(abs(u), abs(v)) <= 0.25) & (np.maximum(abs(u), abs(v)) <= 1)
        elif kind == "poly":
            angles = np.sort(rng.uniform(0, 2 * np.pi, 5))
            mask = part_mask(("poly", 0, np.stack([np.cos(angles), np.sin(angles)], 1)), u, v)
        elif kind == "bar":
            mask = part_mask(("bar", 0, -2.5, 0, 2.5, 0, rng.uniform(0.25, 0.5)), u, v)
        else:
            mask = part_mask(("ring", 0, 0, 0, 1, 0.55), u, v)
        colour = mute(jittered(int(rng.choice(colours)), rng), rng.uniform(*MUTED))
        image[mask] = (1 - CLUTTER_BLEND) * colour + CLUTTER_BLEND * image[mask]


def paint_objects(image: np.ndarray, names: Sequence[str], rng) -> tuple[np.ndarray, list[dict]]:
    """Paint objects of classes ``names`` in order into the H×W×3 float ``image`` (later ones
    occlude earlier ones; a placement that would leave an earlier object less than
    :data:`MIN_VISIBLE` of its pixels is redrawn, up to 20 times, then the object is left out).

    Returns the H×W uint8 labelmap and per painted object ``{"class", "area", "visible"}``
    (its pixels in the image and those left visible).
    """
    size = image.shape[0]
    labelmap = np.zeros((size, size), dtype=np.uint8)
    owner = np.full((size, size), -1)
    objects: list[dict] = []
    for name in names:
        for _ in range(20):
            mask, colours = render_object(name, place(size, rng), size, rng)
            left = np.bincount(owner[~mask & (owner >= 0)], minlength=len(objects))
            if all(n >= MIN_VISIBLE * o["area"] for n, o in zip(left, objects, strict=True)):
                break
        else:
            continue
        image[mask] = colours[mask]
        labelmap[mask] = VOC_CLASSES.index(name)
        owner[mask] = len(objects)
        objects.append({"class": name, "area": int(mask.sum())})
    visible = np.bincount(owner[owner >= 0], minlength=len(objects))
    for obj, count in zip(objects, visible, strict=True):
        obj["visible"] = int(count)
    return labelmap, objects
