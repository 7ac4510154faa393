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

Each of the 20 VOC object classes is a body with parts in its own arrangement (wheels under a
box, legs under a body, a head on a torso, ...), mostly in its own texture and pair of palette
colours, each colour shared with another class and with the backgrounds (:mod:`.scenes`). An
image is a scene (indoor, street, field, water) whose background is textured in muted colours
of the scene and holds clutter of no class, with 1–3 objects, mostly of the scene's classes, of
random scale, aspect, tilt and side, painted in order so that later objects occlude earlier
ones. The labelled images and the VOC test split look like one source, the tag-only and IDW
test images like another (:mod:`.domains`). Tags are the classes visible in the labelmap; the
tag-only images' tags and descriptions are those a person would give, often missing small or
mostly hidden objects (:mod:`.descriptions`). Every image draws from its own generator seeded
with ``(seed, part, index)``; JPEGs use a fixed quality per look, so the same parameters give
the same bytes. ``dis-seg-synthetic --audit DIR`` measures what the data set must show
(:mod:`.audit`).
"""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from dis_seg.data.images import write_labelmap
from dis_seg.data.synthetic.descriptions import describe, noisy_tags, visibility
from dis_seg.data.synthetic.domains import JPEG_QUALITY, background, finish
from dis_seg.data.synthetic.scenes import SCENES, paint_objects, pick_classes
from dis_seg.data.tags import VOC_CLASSES

PARTS = {"train": 0, "val": 1, "test": 2, "tag_only": 3, "idw_test": 4}


def image_rng(seed: int, part: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``part``."""
    return np.random.default_rng([seed, PARTS[part], index])


def render_image(
    size: int, classes: Sequence[str], domain: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[dict], str]:
    """A size×size×3 uint8 image of ``domain`` with objects of ``classes``, its size×size uint8
    labelmap, its objects (:func:`.scenes.paint_objects`) and its scene kind."""
    scene = str(rng.choice(list(SCENES)))
    image = background(domain, size, SCENES[scene][1], rng)
    labelmap, objects = paint_objects(image, pick_classes(scene, classes, rng), rng)
    return finish(domain, image, rng), labelmap, objects, scene


def jpeg_bytes(image: np.ndarray, domain: str) -> bytes:
    """The JPEG file of an H×W×3 uint8 image at ``domain``'s quality."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY[domain])
    return buffer.getvalue()


def _save_jpeg(path: Path, image: np.ndarray, domain: str) -> None:
    path.write_bytes(jpeg_bytes(image, domain))


def _write_voc_image(voc: Path, image_id: str, image: np.ndarray, labelmap: np.ndarray) -> str:
    """Write a labelled image and its palette labelmap; returns the id for the split list."""
    _save_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", image, "voc")
    write_labelmap(voc / "SegmentationClass" / f"{image_id}.png", labelmap)
    return image_id


def _write_idw_image(
    idw: Path,
    stem: str,
    labelmaps: str,
    rendered: tuple[np.ndarray, np.ndarray, list[dict], str],
    classes: Sequence[int],
    tag_noise: Sequence[float],
    rng: np.random.Generator,
) -> tuple[str, str]:
    """Write a :func:`render_image` result and its labelmap into ``idw/labelmaps``; returns its
    annotation (tags and description with ``tag_noise`` = (drop, add)) and clean-tags JSON
    lines."""
    image, labelmap, objects, scene = rendered
    name = f"{stem}.jpg"
    _save_jpeg(idw / "images" / name, image, "idw")
    write_labelmap(idw / labelmaps / f"{stem}.png", labelmap)
    shown = visibility(objects, labelmap.size)
    tags = noisy_tags(shown, classes, *tag_noise, rng)
    annotation = {
        "image": name,
        "tags": [VOC_CLASSES[c] for c in sorted(tags)],
        "description": describe(tags, shown, scene, rng),
    }
    clean_tags = {"image": name, "tags": [VOC_CLASSES[c] for c in sorted(shown)]}
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
    size: int = 96,
    num_labelled: int = 800,
    num_tag_only: int = 800,
    num_val: int = 100,
    num_test: int = 200,
    num_idw_test: int = 200,
    tag_noise: Sequence[float] = (0.5, 0.03),
    classes: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Write the synthetic data set under ``out`` (layout above); returns ``out``.

    ``tag_noise`` is (drop, add) of the tag-only images' descriptions: the probability that a
    small or mostly hidden object goes unnamed (a tenth of it for the others) and that a false
    tag is named (:mod:`.descriptions`; the IDW test split keeps its true tags). ``classes``
    restricts the object classes (default: all 20).
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
            rng = image_rng(seed, part, index)
            domain = "idw" if part in idw_parts else "voc"
            rendered = render_image(size, names, domain, rng)
            if part in idw_parts:
                prefix, labelmaps, noise = idw_parts[part]
                stem = f"{prefix}_{index:05d}"
                record = _write_idw_image(idw, stem, labelmaps, rendered, class_ids, noise, rng)
            else:
                record = _write_voc_image(voc, f"{part}_{index:05d}", *rendered[:2])
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
