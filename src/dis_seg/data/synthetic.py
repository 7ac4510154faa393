"""A synthetic data set in the VOC and IDW formats, deterministic per seed.

Run ``dis-seg-synthetic --out DIR`` (``--help`` lists the options). It writes::

    DIR/
      VOC2012/                            labelled images (read with VOCSegmentation)
        JPEGImages/<id>.jpg
        SegmentationClass/<id>.png        palette PNG labelmaps
        ImageSets/Segmentation/{train,val,test}.txt
      IDW/                                tag-only images (read with IDWTags)
        images/<id>.jpg                   the tag-only images and the IDW test images
        annotations.jsonl                 noisy tags and a description per tag-only image
        clean_tags.jsonl                  their true tags, kept aside
        hidden_labelmaps/<id>.png         their true labelmaps, kept aside
        test_annotations.jsonl            the IDW test split: true tags and a description
        labelmaps/<id>.png                its labelmaps
      synthetic.json                      the generator parameters, written last

Each of the 20 VOC object classes has its own colour, texture and shape. An image has a
textured background with muted clutter and 1–4 objects of random scale, aspect, rotation and
position, painted in order so later objects occlude earlier ones. Tags are the classes
visible in the labelmap; the noisy tags of the tag-only images drop each true class with
probability ``drop`` and, with probability ``add``, gain one absent class. The description
names exactly the noisy tags with words of :data:`dis_seg.data.tags.VOC_VOCABULARY`.
Every image draws from its own generator seeded with ``(seed, part, index)``; JPEGs use a
fixed quality, so the same parameters give the same bytes.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from dis_seg.data.images import write_labelmap
from dis_seg.data.tags import VOC_CLASSES, VOC_VOCABULARY

SHAPES = ("disc", "square", "triangle", "diamond", "ring", "cross", "star", "hexagon")
TEXTURES = ("solid", "hstripes", "vstripes", "diagonal", "checker", "dots", "speckle")
COLOURS = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (255, 255, 255),
)  # fmt: skip
PARTS = {"train": 0, "val": 1, "test": 2, "tag_only": 3, "idw_test": 4}
JPEG_QUALITY = 90


def class_style(class_id: int) -> tuple[tuple[int, int, int], str, str]:
    """(RGB colour, shape, texture) of VOC class ``class_id`` in 1..20."""
    i = class_id - 1
    return COLOURS[i], SHAPES[i % len(SHAPES)], TEXTURES[i % len(TEXTURES)]


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` in object coordinates (u, v), the shape spanning [-1, 1]²."""
    r, theta = np.hypot(u, v), np.arctan2(v, u)
    if shape == "disc":
        return r <= 1
    if shape == "square":
        return np.maximum(abs(u), abs(v)) <= 0.85
    if shape == "triangle":
        return (v <= 0.8) & (abs(u) <= (v + 1) / 1.8 * 0.95)
    if shape == "diamond":
        return abs(u) + abs(v) <= 1
    if shape == "ring":
        return (r <= 1) & (r >= 0.55)
    if shape == "cross":
        return (np.minimum(abs(u), abs(v)) <= 0.3) & (np.maximum(abs(u), abs(v)) <= 1)
    if shape == "star":
        return r <= 0.55 + 0.45 * np.cos(5 * theta)
    # hexagon
    return np.maximum(abs(v), abs(v) * 0.5 + abs(u) * 0.866) <= 0.9


def _texture(texture: str, yy: np.ndarray, xx: np.ndarray, period: float, rng) -> np.ndarray:
    """Float pattern in {0.55, 1} (dark, light) over the image grid."""
    half = period / 2
    y, x = yy + rng.uniform(0, period), xx + rng.uniform(0, period)
    if texture == "solid":
        on = np.ones_like(yy, dtype=bool)
    elif texture == "hstripes":
        on = (y // half) % 2 == 0
    elif texture == "vstripes":
        on = (x // half) % 2 == 0
    elif texture == "diagonal":
        on = ((x + y) // half) % 2 == 0
    elif texture == "checker":
        on = ((x // half) + (y // half)) % 2 == 0
    elif texture == "dots":
        on = np.hypot(x % period - half, y % period - half) > period / 3.5
    else:  # speckle
        on = rng.random(yy.shape) > 0.4
    return np.where(on, 1.0, 0.55)


def _background(size: int, rng, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """size×size×3 float image: two muted colours blended by smooth waves, plus clutter."""
    grey = rng.uniform(70, 190, size=2)[:, None] + rng.uniform(-20, 20, size=(2, 3))
    waves = sum(
        np.sin(2 * np.pi * (fy * yy + fx * xx) / size + phase)
        for fy, fx, phase in rng.uniform([-3, -3, 0], [3, 3, 2 * np.pi], size=(3, 3))
    )
    blend = (1 + np.tanh(waves))[..., None] / 2
    image = grey[0] * blend + grey[1] * (1 - blend)
    for _ in range(rng.integers(0, 4)):
        cy, cx = rng.uniform(0, size, 2)
        radius = rng.uniform(0.04, 0.12) * size
        blob = np.hypot(yy - cy, xx - cx) <= radius
        image[blob] = rng.uniform(60, 200) + rng.uniform(-15, 15, 3)
    return image


def render_image(
    size: int, classes: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A size×size×3 uint8 image and its size×size uint8 labelmap with 1–4 objects."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    image = _background(size, rng, yy, xx)
    labelmap = np.zeros((size, size), dtype=np.uint8)
    for _ in range(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15])):
        class_id = int(rng.choice(classes))
        colour, shape, texture = class_style(class_id)
        radius = rng.uniform(0.12, 0.35) * size
        aspect = rng.uniform(0.75, 1.33)
        angle = rng.uniform(0, 2 * np.pi)
        cy, cx = rng.uniform(0.1 * size, 0.9 * size, 2)
        dy, dx = (yy - cy) / radius, (xx - cx) / radius
        u = (np.cos(angle) * dx + np.sin(angle) * dy) / aspect
        v = (-np.sin(angle) * dx + np.cos(angle) * dy) * aspect
        mask = _shape_mask(shape, u, v)
        pattern = _texture(texture, yy, xx, rng.uniform(4, 8) * size / 64, rng)
        tint = np.clip(np.array(colour) + rng.uniform(-12, 12, 3), 0, 255)
        image[mask] = pattern[mask][:, None] * tint
        labelmap[mask] = class_id
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).round().astype(np.uint8), labelmap


def noisy_tags(
    clean: Sequence[int], classes: Sequence[int], drop: float, add: float, rng
) -> list[int]:
    """``clean`` with each class dropped with probability ``drop``, plus with probability
    ``add`` one class of ``classes`` not in ``clean``."""
    tags = [c for c in clean if rng.random() >= drop]
    absent = [c for c in classes if c not in clean]
    if absent and rng.random() < add:
        tags.append(int(rng.choice(absent)))
    return sorted(tags)


def describe(tags: Sequence[int], rng) -> str:
    """An English description naming exactly the classes ``tags`` with vocabulary words."""
    words = [str(rng.choice(VOC_VOCABULARY[VOC_CLASSES[c]])) for c in tags]
    phrases = [f"{'an' if w[0] in 'aeiou' else 'a'} {w}" for w in words]
    if not phrases:
        return "a patterned background with nothing in particular"
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    template = rng.choice(["a photo of {}", "{} on a patterned background", "snapshot: {}"])
    return str(template).format(listed)


def _save_jpeg(path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY)


def _write_voc_image(voc: Path, image_id: str, image: np.ndarray, labelmap: np.ndarray) -> str:
    """Write a labelled image and its palette labelmap; returns the id for the split list."""
    _save_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", image)
    write_labelmap(voc / "SegmentationClass" / f"{image_id}.png", labelmap)
    return image_id


def _write_idw_image(
    idw: Path,
    stem: str,
    labelmaps: str,
    image: np.ndarray,
    labelmap: np.ndarray,
    classes: Sequence[int],
    tag_noise: Sequence[float],
    rng: np.random.Generator,
) -> tuple[str, str]:
    """Write an IDW image and its labelmap into ``idw/labelmaps``; returns its annotation (tags
    with ``tag_noise`` = (drop, add)) and clean-tags JSON lines."""
    name = f"{stem}.jpg"
    _save_jpeg(idw / "images" / name, image)
    write_labelmap(idw / labelmaps / f"{stem}.png", labelmap)
    clean = [int(c) for c in np.unique(labelmap) if c != 0]
    tags = noisy_tags(clean, classes, *tag_noise, rng)
    annotation = {
        "image": name,
        "tags": [VOC_CLASSES[c] for c in tags],
        "description": describe(tags, rng),
    }
    clean_tags = {"image": name, "tags": [VOC_CLASSES[c] for c in clean]}
    return json.dumps(annotation), json.dumps(clean_tags)


def _parameters(arguments: dict) -> dict:
    """The :func:`generate` arguments that shape the data, as JSON values (``synthetic.json``)."""
    bound = inspect.signature(generate).bind(**arguments)
    bound.apply_defaults()
    params = {k: v for k, v in bound.arguments.items() if k not in ("out", "progress")}
    return json.loads(json.dumps(params, default=list))


def generate(
    out: str | Path,
    seed: int = 0,
    size: int = 64,
    num_labelled: int = 200,
    num_tag_only: int = 200,
    num_val: int = 50,
    num_test: int = 50,
    num_idw_test: int = 50,
    tag_noise: Sequence[float] = (0.1, 0.1),
    classes: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Write the synthetic data set under ``out`` (layout above); returns ``out``.

    ``tag_noise`` is (drop, add) of the tag-only images' tags (the IDW test split keeps its
    true tags); ``classes`` restricts the object classes (default: all 20).
    """
    params = _parameters(locals())
    out = Path(out)
    names = list(VOC_CLASSES[1:] if classes is None else classes)
    unknown = [n for n in names if n not in VOC_CLASSES[1:]]
    if unknown or not names:
        raise ValueError(f"classes must be VOC object classes {VOC_CLASSES[1:]}, got {names}")
    class_ids = [VOC_CLASSES.index(n) for n in names]
    voc, idw = out / "VOC2012", out / "IDW"
    (out / "synthetic.json").unlink(missing_ok=True)
    folders = ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"]
    idw_folders = ["images", "hidden_labelmaps", "labelmaps"]
    for folder in [*(voc / f for f in folders), *(idw / f for f in idw_folders)]:
        folder.mkdir(parents=True, exist_ok=True)
    counts = {
        "train": num_labelled,
        "val": num_val,
        "test": num_test,
        "tag_only": num_tag_only,
        "idw_test": num_idw_test,
    }
    # IDW part → (file name prefix, labelmap folder, tag noise)
    idw_parts = {
        "tag_only": ("web", "hidden_labelmaps", tag_noise),
        "idw_test": ("web_test", "labelmaps", (0.0, 0.0)),
    }
    bar = tqdm(total=sum(counts.values()), desc="synthetic images", disable=not progress)
    for part, count in counts.items():
        records = []
        for index in range(count):
            rng = np.random.default_rng([seed, PARTS[part], index])
            image, labelmap = render_image(size, class_ids, rng)
            if part in idw_parts:
                prefix, labelmaps, noise = idw_parts[part]
                stem = f"{prefix}_{index:05d}"
                record = _write_idw_image(
                    idw, stem, labelmaps, image, labelmap, class_ids, noise, rng
                )
            else:
                record = _write_voc_image(voc, f"{part}_{index:05d}", image, labelmap)
            records.append(record)
            bar.update()
        if part == "tag_only":
            (idw / "annotations.jsonl").write_text("".join(f"{a}\n" for a, _ in records))
            (idw / "clean_tags.jsonl").write_text("".join(f"{c}\n" for _, c in records))
        elif part == "idw_test":
            (idw / "test_annotations.jsonl").write_text("".join(f"{a}\n" for a, _ in records))
        else:
            split_file = voc / "ImageSets" / "Segmentation" / f"{part}.txt"
            split_file.write_text("".join(f"{r}\n" for r in records))
    bar.close()
    (out / "synthetic.json").write_text(json.dumps(params, indent=2) + "\n")
    return out


def ensure_generated(out: str | Path, **kwargs) -> Path:
    """:func:`generate` into ``out`` unless ``out/synthetic.json`` records the same parameters."""
    marker = Path(out) / "synthetic.json"
    wanted = _parameters({"out": out, **kwargs})
    if not marker.is_file() or json.loads(marker.read_text()) != wanted:
        generate(out, **kwargs)
    return Path(out)


if __name__ == "__main__":  # python -m dis_seg.data.synthetic: the command dis-seg-synthetic
    from dis_seg.cli.synthetic import main

    main()
