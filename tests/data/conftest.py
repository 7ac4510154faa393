"""Tiny VOC- and IDW-format folders built in tmp_path, and a tiny synthetic data set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dis_seg.data.images import write_labelmap
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
