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
(:mod:`dis_seg.reports.synthetic_audit`).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from PIL import Image
from tqdm import tqdm

from dis_seg import CONFIG_DIR
from dis_seg.data.images import write_labelmap
from dis_seg.data.synthetic.descriptions import describe, noisy_tags, visibility
from dis_seg.data.synthetic.domains import JPEG_QUALITY, background, finish
from dis_seg.data.synthetic.scenes import SCENES, paint_objects, pick_classes
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import DataError

PARTS = {"train": 0, "val": 1, "test": 2, "tag_only": 3, "idw_test": 4}
# part → the name of its count among the parameters (num_<name>)
COUNTS = {
    "train": "labelled",
    "val": "val",
    "test": "test",
    "tag_only": "tag_only",
    "idw_test": "idw_test",
}
PARAMETERS_CONFIG = Path(CONFIG_DIR) / "data" / "synthetic.yaml"
# The parameters of a complete data set, written last; those of one being written.
MARKER, PARTIAL_MARKER = "synthetic.json", "synthetic.partial.json"


def image_rng(seed: int, part: str, index: int) -> np.random.Generator:
    """The generator of image ``index`` of ``part``."""
    return np.random.default_rng([seed, PARTS[part], index])


def render_image(
    size: int, classes: Sequence[str], domain: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[dict], str]:
    """A size×size×3 uint8 image of ``domain`` with objects of ``classes``, its size×size uint8
    labelmap, its objects (:func:`.scenes.paint_objects`) and its scene kind."""
    scene = str(rng.choice(list(SCENES)))
    image = background(size, SCENES[scene][1], rng)
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


def default_parameters() -> dict[str, Any]:
    """The benchmark's generator parameters: ``data.synthetic`` of conf/data/synthetic.yaml,
    ``out`` aside (their one home; ``dis-seg-synthetic`` and :func:`generate` default to them)."""
    return copy.deepcopy(_configured_parameters())


@cache
def _configured_parameters() -> dict[str, Any]:
    """:func:`default_parameters`, read from the file once per process."""
    block = OmegaConf.to_container(OmegaConf.load(PARAMETERS_CONFIG).synthetic)
    return {key: value for key, value in block.items() if key != "out"}


def synthetic_parameters(values: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a data set: ``values`` over :func:`default_parameters`, as the JSON
    values of ``synthetic.json``."""
    defaults = default_parameters()
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise TypeError(f"unknown synthetic data parameters {unknown}; expected {sorted(defaults)}")
    return json.loads(json.dumps({**defaults, **values}, default=list))


def needs_generating(out: str | Path, **parameters: Any) -> bool:
    """Whether ``out`` lacks the data set of ``parameters`` (:func:`synthetic_parameters`):
    nothing is there, or a generation of the same parameters was interrupted. Raises
    :class:`DataError` when ``out`` holds something else, which no generation may replace: a
    data set of other parameters, or files without ``synthetic.json``."""
    out, wanted = Path(out), synthetic_parameters(parameters)
    for marker, complete in ((out / MARKER, True), (out / PARTIAL_MARKER, False)):
        if marker.is_file():
            found = json.loads(marker.read_text())
            differing = [
                f"{k} {found.get(k)!r}, not {v!r}" for k, v in wanted.items() if found.get(k) != v
            ]
            if differing:
                raise DataError(
                    f"{out} holds a synthetic data set of other parameters "
                    f"({'; '.join(differing)}): set data.synthetic.out to another folder, or "
                    f"remove {out} to write this one"
                )
            return not complete
    if out.is_dir() and any(out.iterdir()):
        raise DataError(
            f"{out} holds files but no {MARKER}, so no synthetic data set is written over them: "
            "set data.synthetic.out to a new or empty folder"
        )
    return True


def generate(out: str | Path, *, progress: bool = True, **parameters: Any) -> Path:
    """Write the synthetic data set of ``parameters`` (:func:`synthetic_parameters`: seed,
    size, num_labelled, num_tag_only, num_val, num_test, num_idw_test, tag_noise, classes)
    under ``out`` (layout above); returns ``out``. Refuses (:func:`needs_generating`) a folder
    that holds another data set.

    ``tag_noise`` is (drop, add) of the tag-only images' descriptions: the probability that a
    small or mostly hidden object goes unnamed (a tenth of it for the others) and that a false
    tag is named (:mod:`.descriptions`; the IDW test split keeps its true tags). ``classes``
    restricts the object classes (null: all 20).
    """
    out = Path(out)
    needs_generating(out, **parameters)  # refuses a folder of another data set
    params = synthetic_parameters(parameters)
    seed, size, tag_noise = params["seed"], params["size"], params["tag_noise"]
    names = list(VOC_CLASSES[1:] if params["classes"] is None else params["classes"])
    unknown = [n for n in names if n not in VOC_CLASSES[1:]]
    if unknown or not names:
        raise ValueError(f"classes must be VOC object classes {VOC_CLASSES[1:]}, got {names}")
    class_ids = [VOC_CLASSES.index(n) for n in names]
    voc, idw = out / "VOC2012", out / "IDW"
    out.mkdir(parents=True, exist_ok=True)
    (out / PARTIAL_MARKER).write_text(json.dumps(params, indent=2) + "\n")
    folders = ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"]
    idw_folders = ["images", "hidden_labelmaps", "labelmaps"]
    for folder in [*(voc / f for f in folders), *(idw / f for f in idw_folders)]:
        folder.mkdir(parents=True, exist_ok=True)
    counts = {part: params[f"num_{name}"] for part, name in COUNTS.items()}
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
    (out / MARKER).write_text(json.dumps(params, indent=2) + "\n")
    (out / PARTIAL_MARKER).unlink()
    return out


def ensure_generated(out: str | Path, progress: bool = True, **parameters: Any) -> Path:
    """:func:`generate` into ``out`` unless it holds the data set of ``parameters``."""
    if needs_generating(out, **parameters):
        generate(out, progress=progress, **parameters)
    return Path(out)
