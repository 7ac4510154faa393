import numpy as np
import pytest
import torch

from dis_seg.data import VOC_CLASSES, DISDataModule, VOCSegmentation
from dis_seg.data.partitions import partition_ids
from dis_seg.data.samples import HiddenLabelmaps
from dis_seg.data.tag_noise import TagNoise
from dis_seg.data.tag_quality import measure_tags
from tests.data.conftest import PARTITION_SIZE

NOISE = {"small_area": 0.05, "drop_small": 0.6, "drop_large": 0.1, "add": 0.2}


def tag_names(tags: torch.Tensor) -> set[str]:
    return {VOC_CLASSES[i] for i in tags.nonzero().flatten().tolist() if i}


@pytest.fixture
def rest_of_train_aug(partition_voc_root):
    """The VOC fixture's train_aug images outside partition 92, untransformed (1,408)."""
    dataset = VOCSegmentation(partition_voc_root, "train_aug")
    chosen = set(partition_ids("92"))
    return [i for i, image_id in enumerate(dataset.ids) if image_id not in chosen], dataset


def noisy_and_clean(dataset, indices, noise: TagNoise) -> tuple[list[set], list[set]]:
    served = HiddenLabelmaps(dataset, noise)
    samples = [served[i] for i in indices]
    return [tag_names(s["tags"]) for s in samples], [tag_names(s["clean_tags"]) for s in samples]


def test_tag_noise_rates_on_the_voc_fixture_follow_object_size(rest_of_train_aug):
    indices, dataset = rest_of_train_aug
    noisy, clean = noisy_and_clean(dataset, indices, TagNoise(**NOISE, seed=3))
    large = [dataset[i]["labelmap"][0, 0] for i in indices]  # the class on half the image
    kept_large = np.mean([VOC_CLASSES[c] in n for c, n in zip(large, noisy, strict=True)])
    kept_small = np.mean(
        [len((n & c) - {VOC_CLASSES[k]}) for k, n, c in zip(large, noisy, clean, strict=True)]
    )
    quality = measure_tags(noisy, clean, VOC_CLASSES[1:])
    assert quality.images == 1408
    assert all(len(c) == 2 for c in clean)
    assert kept_large == pytest.approx(1 - NOISE["drop_large"], abs=0.03)
    assert kept_small == pytest.approx(1 - NOISE["drop_small"], abs=0.05)
    assert quality.false_per_image == pytest.approx(NOISE["add"], abs=0.04)


def test_tag_noise_is_fixed_by_the_seed_and_the_image(rest_of_train_aug):
    indices, dataset = rest_of_train_aug
    first, _ = noisy_and_clean(dataset, indices[:300], TagNoise(**NOISE, seed=3))
    again, _ = noisy_and_clean(dataset, indices[:300], TagNoise(**NOISE, seed=3))
    other, _ = noisy_and_clean(dataset, indices[:300], TagNoise(**NOISE, seed=4))
    reversed_order, _ = noisy_and_clean(dataset, indices[:300][::-1], TagNoise(**NOISE, seed=3))
    assert first == again == reversed_order[::-1]
    assert first != other


def test_background_stays_and_added_tags_are_classes_the_image_lacks():
    labelmap = np.zeros((10, 10), dtype=np.uint8)
    labelmap[:5] = 15
    tags = torch.zeros(21)
    tags[[0, 15]] = 1
    noise = TagNoise(drop_small=1.0, drop_large=1.0, add=1.0)
    for n in range(50):
        noisy = noise.noisy_tags(f"image{n}", labelmap, tags)
        assert noisy[0] == 1
        assert noisy[15] == 0
        assert noisy.sum() == 2


def test_zero_probabilities_leave_the_tags_as_they_are():
    assert TagNoise().is_off
    assert not TagNoise(add=0.01).is_off
    labelmap = np.full((4, 4), 7, dtype=np.uint8)
    tags = torch.zeros(21)
    tags[[0, 7]] = 1
    assert torch.equal(TagNoise().noisy_tags("x", labelmap, tags), tags)


def test_the_datamodule_noises_the_tag_only_rest_and_keeps_its_truth(partition_voc_root):
    module = DISDataModule(
        voc_root=partition_voc_root,
        train_split="train_aug",
        partition="1464",
        tag_noise={"drop_small": 1.0, "drop_large": 1.0},
        batch_size=4,
        labelled_per_batch=2,
        crop_size=PARTITION_SIZE,
    )
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["has_labelmap"].tolist() == [True, True, False, False]
    assert (batch["tags"][2:, 1:] == 0).all()  # every object's tag dropped
    assert (batch["clean_tags"][2:, 1:].sum(dim=1) == 2).all()
    assert batch["has_hidden"].all()
    assert (batch["hidden_labelmap"][2:] != 255).any()
    assert torch.equal(batch["tags"][:2], batch["clean_tags"][:2])  # labelled: true tags
