import itertools

import numpy as np
import torch
from torch.utils.data import DataLoader

from dis_seg.data.samples import make_sample
from dis_seg.data.tags import tags_from_labelmap
from dis_seg.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform

MEAN = torch.tensor(IMAGENET_MEAN)[:, None, None]
STD = torch.tensor(IMAGENET_STD)[:, None, None]


def quadrant_sample(size: int = 48) -> dict:
    """Four quadrants of classes 1..4; the grey level of each pixel is 50 × its class id."""
    labelmap = np.zeros((size, size), dtype=np.uint8)
    half = size // 2
    labelmap[:half, :half], labelmap[:half, half:] = 1, 2
    labelmap[half:, :half], labelmap[half:, half:] = 3, 4
    image = np.repeat((labelmap * 50)[..., None], 3, axis=2).astype(np.uint8)
    return make_sample("q", image, tags_from_labelmap(labelmap, 21), labelmap=labelmap)


def grey_levels(image: torch.Tensor) -> torch.Tensor:
    """The 0..255 grey level of each pixel of a normalised 3×H×W image."""
    return (image * STD + MEAN).mean(0) * 255


def test_train_transform_moves_image_and_labelmaps_together():
    transform = train_transform(crop_size=40, scale_range=(0.5, 1.5), colour_jitter=0.0)
    torch.manual_seed(0)
    for _ in range(20):
        out = transform(quadrant_sample())
        labelled = out["labelmap"] != 255
        error = (grey_levels(out["image"]) - 50 * out["labelmap"].float()).abs()
        assert (error[labelled] < 10).float().mean() > 0.9
        assert torch.equal(out["hidden_labelmap"], out["labelmap"])


def test_train_transform_pads_image_with_the_mean_and_labelmap_with_ignore():
    transform = train_transform(crop_size=64, scale_range=(1.0, 1.0), colour_jitter=0.0)
    out = transform(quadrant_sample(size=16))
    padding = out["labelmap"] == 255
    assert padding.sum() == 64 * 64 - 16 * 16
    assert out["image"][:, padding].abs().max() < 0.02


def test_train_transform_output_types_and_unchanged_tags():
    sample = quadrant_sample()
    out = train_transform(crop_size=32)(sample)
    assert out["image"].shape == (3, 32, 32)
    assert out["image"].dtype == torch.float32
    assert out["labelmap"].shape == (32, 32)
    assert out["labelmap"].dtype == torch.int64
    assert torch.equal(out["tags"], sample["tags"])
    assert out["orig_size"].tolist() == [48, 48]


def test_eval_transform_only_normalises():
    sample = quadrant_sample()
    sample["image"] = np.random.default_rng(0).integers(0, 256, (48, 30, 3), dtype=np.uint8)
    sample["labelmap"] = sample["labelmap"][:, :30]
    sample["hidden_labelmap"] = sample["labelmap"].copy()
    out = eval_transform()(sample)
    expected = (torch.from_numpy(sample["image"]).permute(2, 0, 1) / 255 - MEAN) / STD
    torch.testing.assert_close(out["image"], expected, atol=1e-5, rtol=0)
    assert torch.equal(out["labelmap"], torch.from_numpy(sample["labelmap"]).long())
    assert out["orig_size"].tolist() == [48, 30]


def test_augmentations_follow_the_torch_seed():
    def draw(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        transform = train_transform(crop_size=32)
        return torch.stack([transform(quadrant_sample())["image"] for _ in range(3)])

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))


def test_loader_workers_draw_different_augmentations():
    transform = train_transform(crop_size=32)
    dataset = [quadrant_sample()] * 4
    loader = DataLoader(dataset, batch_size=1, num_workers=2, collate_fn=lambda s: transform(s[0]))
    first, second = [batch["image"] for batch in itertools.islice(loader, 2)]
    assert not torch.equal(first, second)


def test_horizontal_flip_mirrors_image_and_labelmap():
    transform = train_transform(
        crop_size=48, scale_range=(1.0, 1.0), hflip_prob=1.0, colour_jitter=0
    )
    out = transform(quadrant_sample())
    assert out["labelmap"][0, 0] == 2
    assert out["labelmap"][-1, -1] == 3
    assert grey_levels(out["image"])[0, 0].round() == 100
