"""The VOC experiment at its real shape: ResNet-101, output stride 8, 321×321 crops, batch 2,
on a VOC-layout folder of VOC-sized images, tested with sliding windows (and 2 steps on each)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import run_entry_point

IDS = {"train_aug": ["2007_000032", "2007_000033", "2007_000039", "2007_000042"]}
IDS["val"] = ["2007_000061"]


def voc_layout(root) -> None:
    """VOC2012 under ``root`` with 500×375 images and SBD-style labelmaps of two objects."""
    rng = np.random.default_rng(0)
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationClassAug"):
        (root / folder).mkdir(parents=True)
    splits = root / "ImageSets" / "Segmentation"
    splits.mkdir(parents=True)
    for split, ids in IDS.items():
        (splits / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for image_id in ids:
            image = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
            labelmap = np.zeros((375, 500), dtype=np.uint8)
            labelmap[50:200, 60:260], labelmap[180:350, 280:480] = 15, 12
            Image.fromarray(image).save(root / "JPEGImages" / f"{image_id}.jpg")
            for folder in ("SegmentationClass", "SegmentationClassAug"):
                Image.fromarray(labelmap).save(root / folder / f"{image_id}.png")


@pytest.mark.slow
def test_voc_at_its_real_shape_trains_two_steps_and_tests_with_sliding_windows(tmp_path):
    voc = tmp_path / "VOC2012"
    voc_layout(voc)
    run_entry_point(
        "dis_seg.cli.train",
        "stage=1",
        "experiment=voc",
        "trainer=cpu",
        "model.pretrained=null",
        f"paths.voc_root={voc}",
        f"paths.output_root={tmp_path / 'outputs'}",
        "data.batch_size=2",
        "data.labelled_per_batch=2",
        "data.num_workers=0",
        "data.pin_memory=false",
        "data.persistent_workers=false",
        "trainer.max_steps=2",
        "tts=2",  # steps on every window at its real shape (fewer than the experiment's 30)
        "trainer.limit_val_batches=0",
        "trainer.enable_progress_bar=false",
        "evaluation.mode=slide",
        "logger=csv",
    )
    run = tmp_path / "outputs" / "voc" / "stage1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["protocol"] == "slide 321/214"
    assert 0 <= metrics["test"]["voc"]["mIoU_t0"] <= 1
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, mmap=True)
    assert checkpoint["global_step"] == 2
    assert checkpoint["hyper_parameters"]["model"]["backbone"] == "resnet101"
