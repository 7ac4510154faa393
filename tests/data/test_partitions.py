import re

import pytest
import torch

from dis_seg.data import DISDataModule
from dis_seg.data.partitions import (
    BLENDED,
    CLASSIC,
    PARTITIONS,
    check_partition,
    partition_file,
    partition_ids,
    partition_name,
)
from dis_seg.errors import ConfigError, DataError
from tests.data.conftest import EXTRA_TRAIN_AUG, PARTITION_SIZE

# The sizes the literature publishes: 1/16, 1/8 and 1/4 of train_aug's 10,582 images.
PUBLISHED_SIZES = {
    "92": 92, "183": 183, "366": 366, "732": 732, "1464": 1464,
    "1_16": 662, "1_8": 1323, "1_4": 2646,
}  # fmt: skip


@pytest.mark.parametrize("name", PARTITIONS)
def test_shipped_partition_has_the_published_number_of_distinct_ids(name):
    ids = partition_ids(name)
    assert len(ids) == PUBLISHED_SIZES[name]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"20\d\d_\d{6}", i) for i in ids)


def test_shipped_train_aug_has_10582_distinct_ids():
    ids = partition_ids("train_aug")
    assert len(ids) == len(set(ids)) == 10582


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_partitions_lie_inside_voc_train(name):
    assert set(partition_ids(name)) <= set(partition_ids("1464"))


@pytest.mark.parametrize("name", [*BLENDED, "1464"])
def test_blended_partitions_and_voc_train_lie_inside_train_aug(name):
    assert set(partition_ids(name)) <= set(partition_ids("train_aug"))


def test_blended_partitions_are_not_drawn_from_voc_train_alone():
    for name in BLENDED:
        assert not set(partition_ids(name)) <= set(partition_ids("1464"))


@pytest.mark.parametrize(
    ("value", "name"),
    [(92, "92"), ("1464", "1464"), ("1_16", "1_16"), (116, "1_16"), (18, "1_8"),
     ("1/4", "1_4"), (None, None)],
)  # fmt: skip
def test_partition_names_accept_the_integers_hydra_reads_and_slashes(value, name):
    assert partition_name(value) == name


@pytest.mark.parametrize("value", [91, "1_2", "train", True, 1.5])
def test_unknown_partition_is_refused_naming_the_key_and_the_choices(value):
    with pytest.raises(ConfigError, match=r"^data\.partition: expected null or one of 92, 183"):
        partition_name(value)


def test_blended_partition_on_voc_train_is_refused_naming_both_keys():
    message = (
        "data.partition: 1_8 is drawn from VOC train_aug, which data.train_split=train does "
        "not hold; set data.train_split=train_aug"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_partition("1_8", "train")


@pytest.mark.parametrize("split", ["train", "train_aug"])
def test_classic_partition_is_drawn_from_voc_train_or_train_aug(split):
    assert check_partition(183, split) == "183"
    with pytest.raises(ConfigError, match="data.train_split=train_aug or train"):
        check_partition(183, "val")


def test_partition_with_a_labelled_fraction_is_refused():
    with pytest.raises(ConfigError, match=r"data\.partition: 92 and data\.labelled_fraction=0\.5"):
        DISDataModule(voc_root="x", partition=92, labelled_fraction=0.5)


def partition_module(root, **kwargs) -> DISDataModule:
    options = {
        "voc_root": root,
        "train_split": "train_aug",
        "test_split": None,
        "batch_size": 4,
        "labelled_per_batch": 2,
        "crop_size": PARTITION_SIZE,
        **kwargs,
    }
    module = DISDataModule(**options)
    module.setup("fit")
    return module


def test_partition_keeps_exactly_its_labelmaps_and_serves_the_rest_of_train_aug_tag_only(
    partition_voc_root,
):
    module = partition_module(partition_voc_root, partition="92")
    labelled_ids = {module.labelled_set[i]["id"] for i in range(len(module.labelled_set))}
    assert labelled_ids == set(partition_ids("92"))
    assert len(module.tag_only_set) == 1464 + EXTRA_TRAIN_AUG - 92
    sample = module.tag_only_set[0]
    assert sample["id"] not in labelled_ids
    assert not sample["has_labelmap"]
    assert (sample["labelmap"] == 255).all()
    assert sample["has_hidden"]
    assert (sample["hidden_labelmap"] != 255).any()
    assert torch.equal(sample["tags"], sample["clean_tags"])


def test_classic_partition_on_voc_train_serves_the_rest_of_voc_train(partition_voc_root):
    module = partition_module(partition_voc_root, partition=366, train_split="train")
    assert len(module.labelled_set) == 366
    assert len(module.tag_only_set) == 1464 - 366


def test_tag_only_rest_false_leaves_the_rest_out(partition_voc_root):
    module = partition_module(partition_voc_root, partition="1464", tag_only_rest=False)
    assert len(module.labelled_set) == 1464
    assert module.tag_only_set is None


def test_partition_id_missing_from_the_voc_folder_names_the_list_and_the_id(partition_voc_root):
    train_aug = partition_voc_root / "ImageSets" / "Segmentation" / "train_aug.txt"
    listed = set(train_aug.read_text().split())
    line, missing = next((n, i) for n, i in enumerate(partition_ids("1_16"), 1) if i not in listed)
    message = (
        f"{partition_file('1_16')}:{line}: image {missing} of partition 1_16 is not in {train_aug}"
    )
    with pytest.raises(DataError, match=re.escape(message)):
        partition_module(partition_voc_root, partition="1_16")


def test_tag_only_loader_serves_the_rest_whole_with_its_hidden_truth(partition_voc_root):
    module = partition_module(partition_voc_root, partition="1464", eval_batch_size=4)
    batches = list(module.tag_only_dataloader())
    assert sum(len(batch["id"]) for batch in batches) == EXTRA_TRAIN_AUG
    batch = batches[0]
    assert batch["orig_size"].tolist() == [[PARTITION_SIZE, PARTITION_SIZE]] * 4  # not cropped
    assert not batch["has_labelmap"].any()
    assert batch["has_hidden"].all()
    assert (batch["clean_tags"][:, 1:].sum(dim=1) == 2).all()
