"""COCO images with their captions as tag-only images in the IDW layout (``dis-seg-coco``).

Reads COCO's ``captions_<split>.json`` (``images``: ``id``, ``file_name``; ``annotations``:
``image_id``, ``caption``) and, optionally, ``instances_<split>.json`` (``categories``: ``id``,
``name``; ``annotations``: ``image_id``, ``category_id``), and writes under ``out``::

    images/<file_name>   a symbolic link to the COCO image (a copy with ``copy``)
    annotations.jsonl    {"image": <file_name>, "description": <its captions joined>,
                          "tags": <the VOC classes the lexicon finds in its captions>}
    clean_tags.jsonl     with instances: {"image": ..., "tags": <the VOC classes of its
                          instance annotations>}, the hidden truth (``data.idw_clean_tags``)

An image is written when its captions name a VOC class (:func:`~dis_seg.data.tags.
tags_from_description`, per caption); the others are left out, whether or not their instances
hold VOC objects, so that the images trained on do not depend on the hidden truth (the
conversion counts those left out that hold some). COCO's categories hold VOC's 20 classes
(:data:`COCO_TO_VOC`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dis_seg.data.files import absence
from dis_seg.data.tags import VOC_VOCABULARY, tags_from_description
from dis_seg.errors import DataError, MissingFileError

# COCO category name → VOC class name.
COCO_TO_VOC: dict[str, str] = {
    "airplane": "aeroplane",
    "bicycle": "bicycle",
    "bird": "bird",
    "boat": "boat",
    "bottle": "bottle",
    "bus": "bus",
    "car": "car",
    "cat": "cat",
    "chair": "chair",
    "cow": "cow",
    "dining table": "diningtable",
    "dog": "dog",
    "horse": "horse",
    "motorcycle": "motorbike",
    "person": "person",
    "potted plant": "pottedplant",
    "sheep": "sheep",
    "couch": "sofa",
    "train": "train",
    "tv": "tvmonitor",
}


@dataclass(frozen=True)
class CaptionedImage:
    """A COCO image: its file name, captions, the VOC tags of its captions and, with instances,
    of its instance annotations (None without)."""

    file_name: str
    captions: tuple[str, ...]
    tags: frozenset[str]
    clean_tags: frozenset[str] | None

    @property
    def description(self) -> str:
        """The captions as one text, each ended by a full stop."""
        return " ".join(c if c.endswith((".", "!", "?")) else f"{c}." for c in self.captions)


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert` wrote: the images (in ``annotations.jsonl`` order) and the counts of
    those left out, and of these the ones whose instances hold a VOC class (None without)."""

    written: tuple[CaptionedImage, ...]
    left_out: int
    left_out_with_voc_objects: int | None


def read_coco(path: Path, kind: str) -> dict:
    """A COCO annotation file (``kind``: "captions" or "instances") with its ``images`` and
    ``annotations`` lists; a :class:`DataError` naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path} {absence(path)}; expected COCO's {kind}_<split>.json")
    try:
        with path.open("rb") as file:
            content = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error}); expected COCO's {kind} file") from None
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from None
    lists = ("images", "annotations", *(["categories"] if kind == "instances" else []))
    if not isinstance(content, dict) or not all(isinstance(content.get(k), list) for k in lists):
        raise DataError(
            f"{path}: not COCO's {kind} file; expected an object with the lists "
            f"{', '.join(repr(k) for k in lists)}"
        )
    return content


def _entries(path: Path, content: dict, key: str, fields: Mapping[str, type]) -> list[dict]:
    """The objects of ``content[key]``, each with ``fields`` of the given types."""
    for number, entry in enumerate(content[key]):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(field), kind) and not isinstance(entry.get(field), bool)
            for field, kind in fields.items()
        ):
            wanted = ", ".join(f'"{field}" ({kind.__name__})' for field, kind in fields.items())
            raise DataError(f"{path}: {key}[{number}]: expected an object with {wanted}")
    return content[key]


def image_files(path: Path, content: dict) -> dict[int, str]:
    """Image id → file name of a COCO file's ``images``."""
    files = {}
    for entry in _entries(path, content, "images", {"id": int, "file_name": str}):
        name = entry["file_name"]
        if Path(name).name != name or name in ("", ".", ".."):
            raise DataError(f"{path}: image {entry['id']}: file_name {name!r} is not a file name")
        files[entry["id"]] = name
    return files


def _known(path: Path, images: Mapping[int, str], image_id: int, number: int) -> int:
    if image_id not in images:
        raise DataError(f"{path}: annotations[{number}]: image_id {image_id} is not in its images")
    return image_id


def image_captions(path: Path, content: dict) -> dict[int, list[str]]:
    """Image id → its captions (whitespace collapsed), for the images that have some."""
    images = image_files(path, content)
    captions: dict[int, list[str]] = {}
    for number, entry in enumerate(
        _entries(path, content, "annotations", {"image_id": int, "caption": str})
    ):
        caption = " ".join(entry["caption"].split())
        if caption:
            captions.setdefault(_known(path, images, entry["image_id"], number), []).append(caption)
    return captions


def instance_tags(path: Path, content: dict) -> dict[int, set[str]]:
    """Image id → the VOC classes of its instance annotations (every image of the file)."""
    images = image_files(path, content)
    categories = {
        entry["id"]: entry["name"]
        for entry in _entries(path, content, "categories", {"id": int, "name": str})
    }
    missing = sorted(set(COCO_TO_VOC) - set(categories.values()))
    if missing:
        raise DataError(f"{path}: not COCO's 80 categories: no category named {', '.join(missing)}")
    tags: dict[int, set[str]] = {image_id: set() for image_id in images}
    for number, entry in enumerate(
        _entries(path, content, "annotations", {"image_id": int, "category_id": int})
    ):
        image_id = _known(path, images, entry["image_id"], number)
        if entry["category_id"] not in categories:
            raise DataError(
                f"{path}: annotations[{number}]: category_id {entry['category_id']} is not in "
                "its categories"
            )
        voc = COCO_TO_VOC.get(categories[entry["category_id"]])
        if voc is not None:
            tags[image_id].add(voc)
    return tags


def captioned_images(
    captions: Path,
    instances: Path | None = None,
    vocabulary: Mapping[str, Sequence[str]] = VOC_VOCABULARY,
) -> list[CaptionedImage]:
    """Every captioned image of ``captions``, sorted by file name, with the VOC tags of its
    captions and, with ``instances``, of its instances."""
    content = read_coco(captions, "captions")
    files = image_files(captions, content)
    by_image = image_captions(captions, content)
    truth = instance_tags(instances, read_coco(instances, "instances")) if instances else None
    uncovered = sorted(set(by_image) - set(truth)) if truth is not None else []
    if uncovered:
        raise DataError(
            f"{instances}: no image {uncovered[0]} of {captions} ({len(uncovered)} missing); "
            "expected the instances of the same split"
        )
    images = []
    for image_id, texts in by_image.items():
        tags = set().union(*(tags_from_description(text, vocabulary) for text in texts))
        clean = None if truth is None else frozenset(truth[image_id])
        images.append(CaptionedImage(files[image_id], tuple(texts), frozenset(tags), clean))
    return sorted(images, key=lambda image: image.file_name)


def _place(source: Path, target: Path, copy: bool) -> None:
    if target.is_symlink() or target.exists():
        target.unlink()
    if copy:
        shutil.copyfile(source, target)
    else:
        os.symlink(source, target)


def _jsonl(path: Path, records: Sequence[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


def convert(
    captions: Path,
    images: Path,
    out: Path,
    instances: Path | None = None,
    copy: bool = False,
    vocabulary: Mapping[str, Sequence[str]] = VOC_VOCABULARY,
) -> Conversion:
    """Write the IDW layout of the COCO images in ``images`` whose captions name a VOC class
    under ``out`` (module docstring). Every input is checked before anything is written."""
    images, out = Path(images).resolve(), Path(out)
    if not images.is_dir():
        raise MissingFileError(f"{images} {absence(images)}; expected COCO's image folder")
    if (out / "images").resolve() == images:
        raise DataError(f"{out / 'images'}: is the COCO image folder itself; choose another --out")
    everything = captioned_images(captions, instances, vocabulary)
    written = [image for image in everything if image.tags]
    for image in written:
        source = images / image.file_name
        if not source.is_file():
            raise MissingFileError(
                f"{source} {absence(source)}: image of {captions}; expected it in {images}"
            )
    (out / "images").mkdir(parents=True, exist_ok=True)
    for image in written:
        _place(images / image.file_name, out / "images" / image.file_name, copy)
    records = [
        {"image": i.file_name, "description": i.description, "tags": sorted(i.tags)}
        for i in written
    ]
    _jsonl(out / "annotations.jsonl", records)
    left_out = [image for image in everything if not image.tags]
    with_objects = None
    if instances is not None:
        clean = [{"image": i.file_name, "tags": sorted(i.clean_tags)} for i in written]
        _jsonl(out / "clean_tags.jsonl", clean)
        with_objects = sum(1 for image in left_out if image.clean_tags)
    return Conversion(tuple(written), len(left_out), with_objects)
