"""Tiny VOC- and IDW-format folders built in tmp_path, a VOC folder with the ids of the shipped
partitions, and a tiny synthetic data set."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dis_seg.data.images import write_labelmap
from dis_seg.data.partitions import partition_ids
from dis_seg.data.synthetic import generate

HEIGHT, WIDTH = 6, 8


def two_region_labelmap(class_id: int) -> np.ndarray:
    """HEIGHT×WIDTH labelmap: background left, ``class_id`` right, a 255 border between."""
    labelmap = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    labelmap[:, WIDTH // 2 :] = class_id
    labelmap[:, WIDTH // 2 - 1] = 255
    return labelmap


def random_image(seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def make_labelmap():
    """The labelmap builder the tiny folders use: ``make_labelmap(class_id)`` → 6×8 uint8."""
    return two_region_labelmap


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    """``VOC2012`` with images a, b, c: split ``train`` (palette masks, classes 15, 12, 1),
    ``val`` (a) and ``train_aug`` (grayscale masks in SegmentationClassAug, class 7)."""
    root = tmp_path / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationClassAug"):
        (root / folder).mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    for seed, (image_id, class_id) in enumerate({"a": 15, "b": 12, "c": 1}.items()):
        Image.fromarray(random_image(seed)).save(root / "JPEGImages" / f"{image_id}.jpg")
        write_labelmap(
            root / "SegmentationClass" / f"{image_id}.png", two_region_labelmap(class_id)
        )
        Image.fromarray(two_region_labelmap(7)).save(
            root / "SegmentationClassAug" / f"{image_id}.png"
        )
    splits = root / "ImageSets" / "Segmentation"
    (splits / "train.txt").write_text("a\nb\nc\n")
    (splits / "val.txt").write_text("a\n")
    (splits / "train_aug.txt").write_text("a\nb\n")
    return root


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def idw_root(tmp_path: Path) -> Path:
    """``IDW`` with x.jpg (tags), y.png (description), z.jpg (both), plus labelmaps (class 3),
    hidden labelmaps (class 8) and clean tags."""
    root = tmp_path / "IDW"
    for folder in ("images", "labelmaps", "hidden_labelmaps"):
        (root / folder).mkdir(parents=True)
    for seed, name in enumerate(["x.jpg", "y.png", "z.jpg"]):
        Image.fromarray(random_image(seed)).save(root / "images" / name)
        write_labelmap(root / "labelmaps" / f"{Path(name).stem}.png", two_region_labelmap(3))
        write_labelmap(root / "hidden_labelmaps" / f"{Path(name).stem}.png", two_region_labelmap(8))
    write_jsonl(
        root / "annotations.jsonl",
        [
            {"image": "x.jpg", "tags": ["person", "horse"]},
            {"image": "y.png", "description": "Two men walking their Dogs"},
            {"image": "z.jpg", "tags": ["cat"], "description": "a sofa"},
        ],
    )
    write_jsonl(
        root / "clean_tags.jsonl",
        [{"image": name, "tags": ["cat", "dog"]} for name in ["x.jpg", "y.png", "z.jpg"]],
    )
    return root


SYNTHETIC = {
    "size": 32,
    "num_labelled": 12,
    "num_tag_only": 10,
    "num_val": 3,
    "num_test": 2,
    "num_idw_test": 3,
    "progress": False,
}


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic data set (32×32 images): ``VOC2012/`` and ``IDW/``; do not modify."""
    return generate(tmp_path_factory.mktemp("synthetic"), **SYNTHETIC)


# The extra train_aug ids of ``partition_voc_root``: the first ones of the reference train_aug
# that are not in VOC train.
EXTRA_TRAIN_AUG = 36
PARTITION_SIZE = 10


def large_and_small_labelmap(image_id: str) -> np.ndarray:
    """PARTITION_SIZE² labelmap: background, one class on half the image and another on 2 %
    of it (fixed by the id), a row of 255 between them."""
    large = 1 + zlib.crc32(image_id.encode()) % 20
    small = 1 + (large + zlib.crc32(image_id[::-1].encode()) % 19) % 20
    labelmap = np.zeros((PARTITION_SIZE, PARTITION_SIZE), dtype=np.uint8)
    labelmap[: PARTITION_SIZE // 2] = large
    labelmap[PARTITION_SIZE // 2] = 255
    labelmap[-1, :2] = small
    return labelmap


@pytest.fixture(scope="session")
def partition_voc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``VOC2012`` whose ``train`` lists the 1,464 ids of the shipped ``1464`` partition and whose
    ``train_aug`` adds EXTRA_TRAIN_AUG ids of the reference train_aug (so the blended partitions
    miss most of theirs); ``val`` lists 3 other ids. Images and masks of PARTITION_SIZE² pixels
    (:func:`large_and_small_labelmap`) in SegmentationClass and SegmentationClassAug; do not
    modify."""
    root = tmp_path_factory.mktemp("partitions") / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationClassAug"):
        (root / folder).mkdir(parents=True)
    splits = root / "ImageSets" / "Segmentation"
    splits.mkdir(parents=True)
    train = partition_ids("1464")
    extra = [i for i in partition_ids("train_aug") if i not in set(train)][:EXTRA_TRAIN_AUG]
    val = ["2099_000001", "2099_000002", "2099_000003"]
    sources = root.parent / "sources"
    sources.mkdir()
    image = sources / "image.jpg"
    Image.fromarray(random_image(0, PARTITION_SIZE, PARTITION_SIZE)).save(image)
    masks: dict[bytes, tuple[Path, Path]] = {}  # one file per distinct labelmap, linked
    for image_id in [*train, *extra, *val]:
        os.link(image, root / "JPEGImages" / f"{image_id}.jpg")
        labelmap = large_and_small_labelmap(image_id)
        if labelmap.tobytes() not in masks:
            palette, grey = (sources / f"{len(masks)}{kind}.png" for kind in ("p", "l"))
            write_labelmap(palette, labelmap)
            Image.fromarray(labelmap).save(grey)
            masks[labelmap.tobytes()] = palette, grey
        palette, grey = masks[labelmap.tobytes()]
        os.link(palette, root / "SegmentationClass" / f"{image_id}.png")
        os.link(grey, root / "SegmentationClassAug" / f"{image_id}.png")
    for name, ids in {"train": train, "train_aug": sorted(train + extra), "val": val}.items():
        (splits / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    return root
