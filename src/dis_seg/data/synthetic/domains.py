"""The two looks of the synthetic data: ``voc`` (the labelled images and the VOC test split)
and ``idw`` (the tag-only images and the IDW test split), the same classes from another source.

Both paint the same backgrounds: hard-edged planes (a wall or sky above a floor or ground, a
panel), plain, shaded or faintly striped, in the scene's palette colours, muted, with clutter
(:func:`.scenes.paint_clutter`). ``voc`` photographs them with little noise and fine JPEG;
``idw`` with a brighter exposure, a warm colour cast and haze, more noise and stronger JPEG
compression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dis_seg.data.synthetic.looks import PALETTE, texture
from dis_seg.data.synthetic.scenes import MUTED, jittered, mute, paint_clutter

JPEG_QUALITY = {"voc": 90, "idw": 50}
NOISE = {"voc": 3.0, "idw": 6.0}
PLANE_TEXTURES = ("solid", "gradient", "hstripes", "vstripes")
# idw: the gamma of its brighter exposure, mean channel gains (a slight warm cast) and the haze
# blended over every image
GAMMA, CAST = 0.78, np.array([1.05, 1.0, 0.92])
HAZE, HAZE_COLOUR = 0.12, np.array([190.0, 185.0, 175.0])


def _muted(colours: Sequence[int], rng) -> np.ndarray:
    """One of the palette ``colours`` (3 floats), jittered and muted by an amount in MUTED."""
    return mute(jittered(int(rng.choice(colours)), rng), rng.uniform(*MUTED))


def _planes(size: int, colours: Sequence[int], rng) -> np.ndarray:
    """size×size×3: two textured planes split at a horizon, and a textured panel."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    image = np.empty((size, size, 3))
    horizon = rng.uniform(0.25, 0.7) * size
    panel = np.zeros((size, size), dtype=bool)
    if rng.random() < 0.6:
        y0, x0 = rng.uniform(0, 0.6, 2) * size
        h, w = rng.uniform(0.2, 0.5, 2) * size
        panel = (yy >= y0) & (yy < y0 + h) & (xx >= x0) & (xx < x0 + w)
    for region in (yy < horizon, yy >= horizon, panel):
        colour = _muted(colours, rng)
        name = str(rng.choice(PLANE_TEXTURES))
        pattern = texture(name, xx, yy, rng.uniform(0.1, 0.25) * size, rng)[..., None]
        shade = colour * rng.uniform(0.82, 0.95)
        image[region] = (colour * (1 - pattern) + shade * pattern)[region]
    return image


def background(size: int, colours: Sequence[int], rng) -> np.ndarray:
    """A size×size×3 float background in palette ``colours``, with clutter (both looks)."""
    image = _planes(size, colours, rng)
    paint_clutter(image, range(len(PALETTE)), int(rng.integers(2, 6)), rng)
    return image


def finish(domain: str, image: np.ndarray, rng) -> np.ndarray:
    """The size×size×3 uint8 photograph of a painted float ``image`` in ``domain``'s look
    (lighting; for ``idw`` a brighter exposure, the cast and the haze; then sensor noise)."""
    if domain == "voc":
        image = image * rng.uniform(0.9, 1.1)
    else:
        image = 255 * (np.clip(image, 0, 255) / 255) ** GAMMA
        image = image * CAST * rng.uniform(0.95, 1.05, 3)
        image = (1 - HAZE) * image + HAZE * HAZE_COLOUR
    image = image + rng.normal(0, NOISE[domain], image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8)
