"""The looks of the 20 VOC classes: each a body with parts in a class-specific arrangement,
textured, in colours of one shared palette.

Geometry is in *object units*: ``u`` points to the object's front, ``v`` down, and an object
spans about [-1, 1] in both, scaled by its radius in pixels. Every part has a *role* that
picks its colour: 0 the object's texture, which alternates its main and second colour, 1 the
second colour, 2 a dark colour (wheels, screens, legs). Each class has a pair of palette
colours and a texture, which all its objects take; every colour of the palette is in the
pair of two classes and among the backgrounds' colours, so that a pixel's colour alone leaves
the class open, and its neighbourhood (texture, parts) and the object's shape tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dis_seg.data.tags import VOC_CLASSES

# 20 RGB colours shared by objects, backgrounds and clutter.
PALETTE = np.array(
    [
        (225, 225, 215), (130, 130, 130), (45, 45, 50), (125, 80, 45), (205, 175, 130),
        (225, 125, 35), (125, 175, 220), (190, 40, 35), (30, 40, 110), (70, 145, 55),
        (215, 125, 160), (45, 75, 170), (225, 200, 60), (110, 25, 40), (240, 120, 100),
        (35, 130, 125), (180, 160, 220), (115, 60, 150), (160, 210, 60), (125, 125, 45),
    ],
    dtype=np.float64,
)  # fmt: skip
WHITE, GREY, DARK, BROWN, BEIGE, ORANGE, SKY, RED, NAVY, GREEN = range(10)
PINK, BLUE, YELLOW, MAROON, CORAL, TEAL, LAVENDER, PURPLE, LIME, OLIVE = range(10, 20)
DARK_COLOURS = (DARK, GREY, BROWN, NAVY)


@dataclass(frozen=True)
class ClassLook:
    """A class: its parts ``(kind, role, *geometry)`` (see :func:`part_mask`), its pair of
    palette colours (main, second) and its texture, which alternates the two."""

    parts: tuple[tuple, ...]
    colours: tuple[int, int]
    texture: str


CLASS_LOOKS: dict[str, ClassLook] = {
    "aeroplane": ClassLook(
        (
            ("ellipse", 0, 0.0, 0.0, 1.0, 0.32),
            ("poly", 1, ((0.35, 0.0), (-0.25, 0.0), (-0.55, 0.75), (-0.05, 0.75))),
            ("poly", 1, ((-0.45, 0.0), (-1.0, 0.0), (-1.0, -0.7), (-0.7, -0.7))),
            ("rect", 2, 0.1, -0.14, 0.75, -0.04),
        ),
        (SKY, RED),
        "hstripes",
    ),
    "bicycle": ClassLook(
        (
            ("ellipse", 2, -0.55, 0.4, 0.45, 0.45),
            ("ellipse", 2, 0.55, 0.4, 0.45, 0.45),
            ("ellipse", 1, -0.55, 0.4, 0.2, 0.2),
            ("ellipse", 1, 0.55, 0.4, 0.2, 0.2),
            ("poly", 0, ((-0.55, 0.4), (0.55, 0.4), (0.35, -0.35), (-0.3, -0.35))),
            ("poly", 2, ((-0.3, 0.25), (0.3, 0.25), (0.02, -0.15))),
            ("rect", 1, -0.45, -0.5, -0.05, -0.3),
        ),
        (BLUE, YELLOW),
        "dstripes",
    ),
    "bird": ClassLook(
        (
            ("ellipse", 0, -0.05, 0.1, 0.72, 0.48),
            ("ellipse", 0, 0.55, -0.35, 0.36, 0.34),
            ("poly", 1, ((0.8, -0.5), (0.8, -0.22), (1.1, -0.36))),
            ("poly", 0, ((-0.45, -0.2), (-0.45, 0.45), (-1.0, -0.2))),
            ("ellipse", 1, -0.1, 0.0, 0.45, 0.22),
        ),
        (ORANGE, SKY),
        "spots",
    ),
    "boat": ClassLook(
        (
            ("poly", 0, ((-1.0, 0.25), (1.0, 0.25), (0.7, 0.72), (-0.7, 0.72))),
            ("poly", 1, ((0.0, -0.95), (0.0, 0.25), (0.85, 0.25))),
            ("poly", 1, ((-0.02, -0.75), (-0.02, 0.25), (-0.8, 0.25))),
            ("rect", 2, -0.05, -0.95, 0.05, 0.25),
        ),
        (RED, NAVY),
        "astripes",
    ),
    "bottle": ClassLook(
        (
            ("rect", 0, -0.45, -0.2, 0.45, 1.0),
            ("ellipse", 0, 0.0, -0.2, 0.45, 0.3),
            ("rect", 0, -0.22, -0.75, 0.22, -0.2),
            ("rect", 1, -0.25, -0.98, 0.25, -0.72),
            ("rect", 1, -0.45, 0.2, 0.45, 0.6),
        ),
        (NAVY, GREEN),
        "vstripes",
    ),
    "bus": ClassLook(
        (
            ("rect", 0, -1.0, -0.6, 1.0, 0.5),
            ("rect", 2, -0.85, -0.45, 0.85, -0.1),
            ("ellipse", 2, -0.6, 0.5, 0.26, 0.26),
            ("ellipse", 2, 0.6, 0.5, 0.26, 0.26),
        ),
        (CORAL, TEAL),
        "checker",
    ),
    "car": ClassLook(
        (
            ("rect", 0, -1.0, -0.05, 1.0, 0.45),
            ("poly", 0, ((-0.7, -0.05), (0.6, -0.05), (0.3, -0.55), (-0.45, -0.55))),
            ("poly", 2, ((-0.5, -0.1), (0.45, -0.1), (0.22, -0.43), (-0.37, -0.43))),
            ("ellipse", 2, -0.55, 0.45, 0.3, 0.3),
            ("ellipse", 2, 0.55, 0.45, 0.3, 0.3),
        ),
        (MAROON, CORAL),
        "vstripes",
    ),
    "cat": ClassLook(
        (
            ("ellipse", 0, -0.1, 0.25, 0.65, 0.42),
            ("ellipse", 0, 0.55, -0.2, 0.38, 0.36),
            ("poly", 0, ((0.25, -0.35), (0.38, -0.85), (0.6, -0.45))),
            ("poly", 0, ((0.6, -0.45), (0.8, -0.85), (0.9, -0.3))),
            ("bar", 0, -0.65, 0.1, -0.9, -0.45, 0.3),
            ("rect", 0, -0.65, 0.4, 0.4, 0.85),
            ("rect", 2, -0.2, 0.6, -0.05, 0.85),
        ),
        (BEIGE, ORANGE),
        "hstripes",
    ),
    "chair": ClassLook(
        (
            ("rect", 0, -0.6, -1.0, -0.15, 0.05),
            ("rect", 0, -0.6, 0.0, 0.6, 0.35),
            ("rect", 1, -0.6, 0.3, -0.25, 1.0),
            ("rect", 1, 0.25, 0.3, 0.6, 1.0),
            ("rect", 1, -0.6, 0.6, 0.6, 0.72),
        ),
        (LIME, OLIVE),
        "checker",
    ),
    "cow": ClassLook(
        (
            ("rect", 0, -0.85, -0.4, 0.55, 0.4),
            ("rect", 0, 0.4, -0.7, 0.95, -0.05),
            ("poly", 1, ((0.45, -0.7), (0.62, -0.7), (0.45, -0.95))),
            ("rect", 0, -0.85, 0.3, 0.55, 0.92),
            ("rect", 2, -0.4, 0.55, 0.1, 0.92),
        ),
        (GREY, DARK),
        "spots",
    ),
    "diningtable": ClassLook(
        (
            ("rect", 0, -1.0, -0.4, 1.0, 0.05),
            ("poly", 1, ((-0.9, 0.0), (0.9, 0.0), (0.8, 0.5), (-0.8, 0.5))),
            ("rect", 0, -0.9, 0.0, -0.55, 0.85),
            ("rect", 0, 0.55, 0.0, 0.9, 0.85),
            ("ellipse", 1, -0.35, -0.5, 0.32, 0.16),
        ),
        (OLIVE, WHITE),
        "hstripes",
    ),
    "dog": ClassLook(
        (
            ("ellipse", 0, -0.15, 0.1, 0.65, 0.4),
            ("ellipse", 0, 0.5, -0.35, 0.36, 0.34),
            ("ellipse", 0, 0.85, -0.25, 0.26, 0.18),
            ("ellipse", 1, 0.35, -0.2, 0.14, 0.32),
            ("bar", 0, -0.65, -0.05, -0.9, -0.55, 0.3),
            ("rect", 0, -0.7, 0.2, 0.45, 0.85),
            ("rect", 2, -0.3, 0.5, 0.05, 0.85),
        ),
        (BROWN, BEIGE),
        "noise",
    ),
    "horse": ClassLook(
        (
            ("ellipse", 0, -0.15, -0.15, 0.7, 0.38),
            ("poly", 0, ((0.15, -0.4), (0.6, -0.25), (0.92, -0.8), (0.5, -0.98))),
            ("ellipse", 0, 0.85, -0.78, 0.3, 0.2),
            ("bar", 1, -0.72, -0.25, -0.92, 0.4, 0.28),
            ("rect", 0, -0.7, 0.0, 0.42, 1.0),
            ("rect", 2, -0.4, 0.35, 0.1, 1.0),
        ),
        (DARK, BROWN),
        "dstripes",
    ),
    "motorbike": ClassLook(
        (
            ("ellipse", 2, -0.6, 0.45, 0.4, 0.4),
            ("ellipse", 2, 0.6, 0.45, 0.4, 0.4),
            ("ellipse", 1, -0.6, 0.45, 0.15, 0.15),
            ("ellipse", 1, 0.6, 0.45, 0.15, 0.15),
            ("poly", 0, ((-0.8, 0.35), (0.55, 0.35), (0.35, -0.3), (-0.55, -0.3))),
            ("rect", 1, -0.8, -0.45, -0.1, -0.25),
            ("bar", 0, 0.4, 0.3, 0.62, -0.5, 0.28),
        ),
        (YELLOW, MAROON),
        "dots",
    ),
    "person": ClassLook(
        (
            ("ellipse", 1, 0.0, -0.72, 0.28, 0.3),
            ("rect", 0, -0.42, -0.48, 0.42, 0.25),
            ("rect", 2, -0.36, 0.25, 0.36, 1.0),
            ("rect", 1, -0.42, -0.42, -0.3, 0.2),
            ("rect", 1, 0.3, -0.42, 0.42, 0.2),
            ("rect", 0, -0.03, 0.4, 0.03, 1.0),
        ),
        (PINK, BLUE),
        "dots",
    ),
    "pottedplant": ClassLook(
        (
            ("poly", 1, ((-0.45, 0.3), (0.45, 0.3), (0.32, 1.0), (-0.32, 1.0))),
            ("ellipse", 0, -0.38, -0.1, 0.4, 0.4),
            ("ellipse", 0, 0.38, -0.15, 0.4, 0.4),
            ("ellipse", 0, 0.0, -0.55, 0.42, 0.42),
            ("ellipse", 0, 0.0, 0.05, 0.4, 0.32),
        ),
        (GREEN, PINK),
        "noise",
    ),
    "sheep": ClassLook(
        (
            ("ellipse", 0, -0.55, 0.0, 0.4, 0.4),
            ("ellipse", 0, -0.1, -0.15, 0.44, 0.42),
            ("ellipse", 0, 0.3, 0.0, 0.4, 0.4),
            ("ellipse", 0, -0.15, 0.2, 0.65, 0.36),
            ("ellipse", 2, 0.72, -0.2, 0.28, 0.22),
            ("rect", 2, -0.65, 0.35, 0.35, 0.8),
        ),
        (WHITE, GREY),
        "rings",
    ),
    "sofa": ClassLook(
        (
            ("rect", 0, -1.0, 0.0, 1.0, 0.55),
            ("rect", 0, -0.88, -0.5, 0.88, 0.05),
            ("rect", 1, -1.0, -0.2, -0.72, 0.55),
            ("rect", 1, 0.72, -0.2, 1.0, 0.55),
        ),
        (PURPLE, LIME),
        "astripes",
    ),
    "train": ClassLook(
        (
            ("rect", 0, -1.0, -0.45, 0.75, 0.38),
            ("ellipse", 0, 0.75, -0.04, 0.25, 0.42),
            ("rect", 2, -0.9, -0.35, 0.6, -0.1),
            ("rect", 1, 0.2, -0.8, 0.5, -0.45),
            *(("ellipse", 2, x, 0.42, 0.18, 0.18) for x in (-0.75, -0.35, 0.05, 0.45)),
        ),
        (TEAL, LAVENDER),
        "dstripes",
    ),
    "tvmonitor": ClassLook(
        (
            ("rect", 0, -0.85, -0.65, 0.85, 0.45),
            ("rect", 2, -0.68, -0.5, 0.68, 0.3),
            ("rect", 0, -0.18, 0.45, 0.18, 0.72),
            ("rect", 0, -0.5, 0.7, 0.5, 0.88),
        ),
        (LAVENDER, PURPLE),
        "rings",
    ),
}
assert tuple(CLASS_LOOKS) == VOC_CLASSES[1:]


def part_mask(part: tuple, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask (shape of ``u``) of one part ``(kind, role, *geometry)``:
    ``ellipse`` (cx, cy, rx, ry), ``rect`` (x0, y0, x1, y1), ``poly`` (a convex polygon's
    vertices), ``ring`` (cx, cy, outer radius, inner radius), ``bar`` (x0, y0, x1, y1, width:
    a segment with rounded ends)."""
    kind, _, *g = part
    if kind == "ellipse":
        cx, cy, rx, ry = g
        return ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1
    if kind == "rect":
        x0, y0, x1, y1 = g
        return (u >= x0) & (u <= x1) & (v >= y0) & (v <= y1)
    if kind == "ring":
        cx, cy, outer, inner = g
        r = np.hypot(u - cx, v - cy)
        return (r <= outer) & (r >= inner)
    if kind == "bar":
        x0, y0, x1, y1, width = g
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        return np.hypot(u - x0 - t * dx, v - y0 - t * dy) <= width / 2
    points = np.asarray(g[0])
    centre = points.mean(0)
    inside = np.ones(u.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, np.roll(points, -1, axis=0), strict=True):
        side = np.sign((x1 - x0) * (centre[1] - y0) - (y1 - y0) * (centre[0] - x0))
        inside &= side * ((x1 - x0) * (v - y0) - (y1 - y0) * (u - x0)) >= 0
    return inside


def texture(name: str, u: np.ndarray, v: np.ndarray, period: float, rng) -> np.ndarray:
    """Weight in [0, 1] (shape of ``u``) of a pattern's second colour at coordinates (u, v);
    ``period`` is the pattern's repeat in the units of u and v."""
    y, x = v / period + rng.uniform(0, 1), u / period + rng.uniform(0, 1)
    if name == "solid":
        return np.zeros_like(u)
    if name == "hstripes":
        return (np.floor(2 * y) % 2).astype(float)
    if name == "vstripes":
        return (np.floor(2 * x) % 2).astype(float)
    if name == "dstripes":
        return (np.floor(x + y) % 2).astype(float)
    if name == "astripes":
        return (np.floor(x - y) % 2).astype(float)
    if name == "rings":
        return (np.floor(2 * np.hypot(u, v) / period) % 2).astype(float)
    if name == "checker":
        return ((np.floor(x) + np.floor(y)) % 2).astype(float)
    if name == "dots":
        return (np.hypot(x % 1 - 0.5, y % 1 - 0.5) < 0.3).astype(float)
    if name == "spots":
        grid = rng.random((8, 8)) < 0.35
        return grid[np.floor(y * 0.6).astype(int) % 8, np.floor(x * 0.6).astype(int) % 8] * 1.0
    if name == "gradient":
        return np.clip((v - v.min()) / max(np.ptp(v), 1e-6), 0, 1) * 0.8
    return (rng.random(u.shape) < 0.35).astype(float)  # noise
