"""experiment=voc_tags and experiment=voc_coco: what they compose, the training batches they
build and the data check they pass, on the VOC folder with the shipped partitions' ids."""

from pathlib import Path

import pytest
from hydra.utils import instantiate

from dis_seg.cli.check_data import main as check_data
from dis_seg.data.coco import convert
from dis_seg.data.partitions import partition_file
from dis_seg.runs.schema import validate
from tests.data.coco_fixture import write_coco
from tests.data.conftest import EXTRA_TRAIN_AUG, PARTITION_SIZE


def test_voc_tags_labels_partition_1464_and_serves_the_rest_of_train_aug_by_tags(compose):
    cfg = compose("train", "experiment=voc_tags")
    data = cfg.data
    assert (data.partition, data.train_split, data.tag_only_rest) == (1464, "train_aug", True)
    assert data.idw_root is None
    assert data.labelled_per_batch == 5
    assert data.batch_size == 10
    assert not any(data.tag_noise[key] for key in ("drop_small", "drop_large", "add"))
    assert (cfg.run_name, cfg.model.backbone) == ("voc_tags", "resnet101")


def test_voc_coco_mixes_partition_1464_with_the_coco_folder(monkeypatch, compose):
    monkeypatch.setenv("COCO_ROOT", "/datasets/COCO-IDW")
    data = compose("train", "experiment=voc_coco").data
    assert (data.partition, data.train_split, data.tag_only_rest) == (1464, "train_aug", False)
    assert (data.idw_root, data.idw_clean_tags) == ("/datasets/COCO-IDW", "clean_tags.jsonl")


def test_coco_root_defaults_to_coco_idw_under_the_data_folder(monkeypatch, tmp_path, compose):
    monkeypatch.delenv("COCO_ROOT", raising=False)
    monkeypatch.setenv("DIS_DATA_DIR", str(tmp_path))
    assert compose("train", "experiment=voc_coco").data.idw_root == f"{tmp_path}/COCO-IDW"


def test_make_train_voc_tags_1464_passes_the_checks_and_builds_mixed_batches(
    partition_voc_root, compose
):
    cfg = compose(
        "train",
        "experiment=voc_tags",
        "data.partition=1464",
        f"paths.voc_root='{partition_voc_root}'",
        f"data.crop_size={PARTITION_SIZE}",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "data.pin_memory=false",
    )
    validate(cfg, "train")
    module = instantiate(cfg.data, _convert_="all")
    module.setup("fit")
    assert (len(module.labelled_set), len(module.tag_only_set)) == (1464, EXTRA_TRAIN_AUG)
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].shape == (10, 3, PARTITION_SIZE, PARTITION_SIZE)
    assert batch["has_labelmap"].tolist() == [True] * 5 + [False] * 5
    assert (batch["labelmap"][5:] == 255).all()
    assert batch["has_hidden"].all()


@pytest.fixture
def run_check(partition_voc_root, capsys):
    """``run_check(*overrides)`` → (exit status, stdout, stderr) of dis-seg-check-data on
    experiment=voc_tags over the VOC folder with the partitions' ids."""

    def run(*overrides: str) -> tuple[int, str, str]:
        status = check_data(
            ["experiment=voc_tags", f"paths.voc_root='{partition_voc_root}'", *overrides]
        )
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def test_check_data_reads_voc_tags_with_partition_1464(run_check):
    status, out, _ = run_check("data.partition=1464")
    assert status == 0, out
    assert "VOC train_aug, partition 1464" in out
    assert out.rstrip().endswith("no problems found")


def test_check_data_lists_the_partition_ids_the_train_split_lacks(run_check, partition_voc_root):
    status, out, _ = run_check("data.partition=1_16")
    assert status == 1
    train_aug = partition_voc_root / "ImageSets" / "Segmentation" / "train_aug.txt"
    assert f"  missing: {partition_file('1_16')}:" in out
    assert f"of partition 1_16 is not in {train_aug}" in out


def test_check_data_refuses_a_blended_partition_on_voc_train_in_one_line(run_check):
    status, out, err = run_check("data.partition=1_8", "data.train_split=train")
    assert status == 2
    assert out == ""
    assert err == (
        "error: data.partition: 1_8 is drawn from VOC train_aug, which data.train_split=train "
        "does not hold; set data.train_split=train_aug\n"
    )


@pytest.fixture
def coco_idw(tmp_path) -> Path:
    """The COCO fixture converted by dis-seg-coco (27 tag-only images with clean tags)."""
    coco = write_coco(tmp_path / "coco")
    annotations = coco / "annotations"
    out = tmp_path / "COCO-IDW"
    convert(
        annotations / "captions_train2017.json",
        coco / "train2017",
        out,
        annotations / "instances_train2017.json",
    )
    return out


def test_voc_coco_batches_mix_the_partition_with_the_coco_images(
    partition_voc_root, coco_idw, compose
):
    cfg = compose(
        "train",
        "experiment=voc_coco",
        f"paths.voc_root='{partition_voc_root}'",
        f"paths.coco_root='{coco_idw}'",
        "data.crop_size=8",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "data.pin_memory=false",
    )
    module = instantiate(cfg.data, _convert_="all")
    module.setup("fit")
    assert (len(module.labelled_set), len(module.tag_only_set)) == (1464, 27)
    batch = next(iter(module.train_dataloader()))
    assert batch["has_labelmap"].tolist() == [True] * 5 + [False] * 5
    assert all(image_id.endswith(".jpg") for image_id in batch["id"][5:])
    assert (batch["clean_tags"][5:, 1:].sum(dim=1) >= 1).all()


def test_check_data_reads_voc_coco_on_the_converted_coco_fixture(
    partition_voc_root, coco_idw, capsys
):
    status = check_data(
        [
            "experiment=voc_coco",
            f"paths.voc_root='{partition_voc_root}'",
            f"paths.coco_root='{coco_idw}'",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"data.idw_root: {coco_idw}" in out
    idw = next(line for line in out.splitlines() if line.startswith("idw  "))
    assert idw.split()[1:5] == ["IDW", "annotations.jsonl", "27", "27"]
