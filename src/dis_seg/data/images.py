"""Reading RGB images and index labelmaps from disk, and writing palette labelmaps.

Images of any PIL mode (grayscale, CMYK, RGBA, palette) are returned as H×W×3 uint8 RGB;
16-bit grayscale (PNG, TIFF, PGM) is scaled to 8 bits, and floating-point images are refused.
EXIF orientation is ignored, as VOC masks are never rotated. Labelmaps must be index PNGs
(palette mode ``P``, read as palette *indices*, or grayscale ``L``; not JPEG) and are
returned as H×W uint8 class ids with 255 meaning ignore. Files of more than ``MAX_PIXELS``
pixels are refused before they are decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dis_seg.errors import DataError

IGNORE_INDEX = 255
# Larger images are refused before they are decoded (one would take gigabytes of memory).
MAX_PIXELS = 8192 * 8192
TOO_LARGE = f"images are limited to {MAX_PIXELS:,} pixels (8192×8192): downscale it"


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: ``n``×3 uint8, entry ``i`` is the colour of class id ``i``."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


def _open(path: Path) -> Image.Image:
    """Open and fully decode ``path``; unreadable, truncated or too large files raise
    :class:`DataError`."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height <= MAX_PIXELS:
                image.load()
    except FileNotFoundError as error:
        raise DataError(f"{path}: file not found") from error
    except Image.DecompressionBombError as error:
        raise DataError(f"{path}: {str(error).rstrip('.')}; {TOO_LARGE}") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DataError(
            f"{path}: unreadable or truncated image ({error}); expected a complete JPEG or PNG"
        ) from error
    if width * height > MAX_PIXELS:
        raise DataError(
            f"{path}: image of {width}×{height} = {width * height:,} pixels; {TOO_LARGE}"
        )
    return image


def _eight_bits(image: Image.Image, path: Path) -> Image.Image:
    """``image``, its 16-bit grayscale (PIL modes ``I;16*``, and ``I`` within 0..65535 as a
    16-bit PGM gives it) scaled to 8 bits; :class:`DataError` for pixels that cannot be."""
    if image.mode == "F":
        raise DataError(
            f"{path}: floating-point pixels (PIL mode 'F'), whose range is unknown; expected an "
            "8- or 16-bit image"
        )
    if not image.mode.startswith("I"):
        return image
    pixels = np.asarray(image)
    if image.mode == "I" and (pixels.min() < 0 or pixels.max() > 0xFFFF):
        raise DataError(
            f"{path}: 32-bit pixels from {pixels.min()} to {pixels.max()}; expected an 8- or "
            "16-bit image"
        )
    return Image.fromarray((pixels >> 8).astype(np.uint8))


def read_rgb(path: Path) -> np.ndarray:
    """H×W×3 uint8 RGB pixels of the image at ``path``."""
    image = _eight_bits(_open(path), path)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def read_labelmap(path: Path, num_classes: int, size: tuple[int, int]) -> np.ndarray:
    """H×W uint8 class ids of the index PNG at ``path``, checked against its image.

    ``size`` is the (H, W) of the image the labelmap belongs to. Values must lie in
    ``0..num_classes-1`` or be 255 (ignore).
    """
    image = _open(path)
    if image.format in ("JPEG", "MPO"):
        raise DataError(
            f"{path}: mask is a JPEG, whose lossy compression changes class ids at region "
            "borders; expected an 8-bit index PNG (mode 'P' or 'L'), 255 = ignore"
        )
    if image.mode in ("RGB", "RGBA"):
        raise DataError(
            f"{path}: mask is an {image.mode}-coloured image; expected an index mask (PNG in "
            "palette mode 'P' or grayscale 'L' holding one class id per pixel, 255 = ignore). "
            "Convert it by mapping each colour to its class id (VOC colour map: "
            "dis_seg.data.images.voc_palette) and saving the ids as an 8-bit PNG."
        )
    if image.mode not in ("P", "L"):
        raise DataError(
            f"{path}: mask has PIL mode {image.mode!r}; expected an 8-bit index PNG "
            "(mode 'P' or 'L') holding one class id per pixel, 255 = ignore"
        )
    labelmap = np.asarray(image, dtype=np.uint8).copy()
    if labelmap.shape != tuple(size):
        raise DataError(
            f"{path}: mask is {labelmap.shape[0]}×{labelmap.shape[1]} (H×W) but its image is "
            f"{size[0]}×{size[1]}; expected the same size"
        )
    values = np.unique(labelmap)
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        raise DataError(
            f"{path}: mask value(s) {bad.tolist()} outside the class ids 0..{num_classes - 1} "
            f"and {IGNORE_INDEX} (ignore)"
        )
    return labelmap


def write_labelmap(path: Path, labelmap: np.ndarray) -> None:
    """Save an H×W uint8 labelmap as a VOC-coloured palette PNG."""
    image = Image.fromarray(labelmap.astype(np.uint8))
    image.putpalette(voc_palette().tobytes())
    image.save(path, format="PNG")
