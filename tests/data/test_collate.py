import torch

from dis_seg.data.collate import collate_samples


def transformed_sample(height: int, width: int, has_labelmap: bool) -> dict:
    return {
        "image": torch.ones(3, height, width),
        "labelmap": torch.full((height, width), 4),
        "hidden_labelmap": torch.full((height, width), 5),
        "tags": torch.ones(21),
        "clean_tags": torch.zeros(21),
        "has_labelmap": has_labelmap,
        "has_hidden": True,
        "has_clean_tags": True,
        "id": f"{height}x{width}",
        "orig_size": torch.tensor([height, width]),
    }


def test_batch_is_padded_to_a_stride_multiple_with_zero_and_ignore():
    batch = collate_samples([transformed_sample(10, 7, True), transformed_sample(5, 17, False)], 8)
    assert batch["image"].shape == (2, 3, 16, 24)
    assert batch["labelmap"].shape == batch["hidden_labelmap"].shape == (2, 16, 24)
    assert batch["image"][0, :, :10, :7].eq(1).all()
    assert batch["image"][0, :, 10:].eq(0).all()
    assert batch["labelmap"][1, :5, :17].eq(4).all()
    assert batch["labelmap"][1, 5:].eq(255).all()
    assert batch["hidden_labelmap"][0, :, 7:].eq(255).all()
    assert batch["orig_size"].tolist() == [[10, 7], [5, 17]]
    assert batch["has_labelmap"].tolist() == [True, False]
    assert batch["has_labelmap"].dtype == torch.bool
    assert batch["tags"].shape == batch["clean_tags"].shape == (2, 21)
    assert batch["id"] == ["10x7", "5x17"]


def test_same_size_samples_stack_unpadded():
    batch = collate_samples([transformed_sample(16, 16, True)] * 3, 8)
    assert batch["image"].shape == (3, 3, 16, 16)
    assert batch["labelmap"].ne(255).all()
