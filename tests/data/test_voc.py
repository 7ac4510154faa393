import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from dis_seg.data import VOCSegmentation
from dis_seg.data.voc import mask_dir_for
from dis_seg.errors import DataError


def test_sample_has_image_labelmap_tags_and_hidden_truth(voc_root, make_labelmap):
    sample = VOCSegmentation(voc_root, "train")[0]
    assert sample["id"] == "a"
    assert sample["image"].shape == (*make_labelmap(0).shape, 3)
    assert sample["image"].dtype == np.uint8
    np.testing.assert_array_equal(sample["labelmap"], make_labelmap(15))
    assert sample["tags"].nonzero().flatten().tolist() == [0, 15]
    assert sample["has_labelmap"] is True
    np.testing.assert_array_equal(sample["hidden_labelmap"], sample["labelmap"])
    assert torch.equal(sample["clean_tags"], sample["tags"])
    assert sample["has_hidden"] is True


def test_palette_masks_are_read_as_indices_not_colours(voc_root, make_labelmap):
    path = voc_root / "SegmentationClass" / "b.png"
    image = Image.fromarray(make_labelmap(12))
    image.putpalette(np.random.default_rng(0).integers(0, 256, 768).astype(np.uint8).tobytes())
    image.save(path)
    np.testing.assert_array_equal(
        VOCSegmentation(voc_root, "train")[1]["labelmap"], make_labelmap(12)
    )


def test_border_value_255_stays_ignore_and_is_not_a_tag(voc_root):
    sample = VOCSegmentation(voc_root, "train")[2]
    assert (sample["labelmap"] == 255).all(axis=0).any()
    assert sample["tags"].sum() == 2


def test_aug_split_reads_grayscale_masks_from_segmentation_class_aug(voc_root, make_labelmap):
    dataset = VOCSegmentation(voc_root, "train_aug")
    assert dataset.ids == ["a", "b"]
    np.testing.assert_array_equal(dataset[1]["labelmap"], make_labelmap(7))


def test_mask_folder_follows_the_split_name():
    assert mask_dir_for("train_aug") == "SegmentationClassAug"
    assert mask_dir_for("train") == "SegmentationClass"


def test_transform_is_applied_to_the_sample(voc_root):
    dataset = VOCSegmentation(voc_root, "val", transform=lambda s: {**s, "id": s["id"].upper()})
    assert dataset[0]["id"] == "A"


def test_missing_root_states_the_expected_layout(tmp_path):
    with pytest.raises(DataError, match=r"nowhere does not exist; expected this layout:\nVOC2012/"):
        VOCSegmentation(tmp_path / "nowhere", "train")


def test_missing_subfolder_is_named(voc_root):
    (voc_root / "JPEGImages").rename(voc_root / "images")
    with pytest.raises(DataError, match=r"JPEGImages does not exist; expected this layout"):
        VOCSegmentation(voc_root, "train")


def test_unknown_split_lists_the_available_ones(voc_root):
    with pytest.raises(
        DataError, match=r"trainval\.txt: split list not found.*'train', 'train_aug'"
    ):
        VOCSegmentation(voc_root, "trainval")


def test_empty_split_is_an_error(voc_root):
    (voc_root / "ImageSets" / "Segmentation" / "val.txt").write_text("\n")
    with pytest.raises(DataError, match=r"val\.txt: split 'val' lists no images"):
        VOCSegmentation(voc_root, "val")


def test_split_entry_without_image_names_line_and_file(voc_root):
    (voc_root / "JPEGImages" / "b.jpg").unlink()
    with pytest.raises(DataError, match=r"train\.txt:2: .*b\.jpg does not exist"):
        VOCSegmentation(voc_root, "train")


def test_split_entry_without_mask_names_line_and_file(voc_root):
    (voc_root / "SegmentationClass" / "c.png").unlink()
    with pytest.raises(DataError, match=r"train\.txt:3: .*SegmentationClass/c\.png does not exist"):
        VOCSegmentation(voc_root, "train")


def test_truncated_image_raises_when_read(voc_root):
    path = voc_root / "JPEGImages" / "a.jpg"
    path.write_bytes(path.read_bytes()[:100])
    dataset = VOCSegmentation(voc_root, "train")
    with pytest.raises(DataError, match=r"a\.jpg: unreadable or truncated image"):
        dataset[0]


def test_mask_of_another_size_is_rejected(voc_root):
    Image.fromarray(np.zeros((6, 9), np.uint8)).save(voc_root / "SegmentationClass" / "a.png")
    with pytest.raises(DataError, match=r"a\.png: mask is 6×9 \(H×W\) but its image is 6×8"):
        VOCSegmentation(voc_root, "train")[0]


def test_mask_value_outside_the_classes_is_named(voc_root, make_labelmap):
    labelmap = make_labelmap(15)
    labelmap[0, 0] = 21
    Image.fromarray(labelmap).save(voc_root / "SegmentationClass" / "a.png")
    with pytest.raises(
        DataError, match=r"a\.png: mask value\(s\) \[21\] outside the class ids 0\.\.20"
    ):
        VOCSegmentation(voc_root, "train")[0]


def test_rgb_mask_is_rejected_with_how_to_convert(voc_root):
    Image.new("RGB", (8, 6), (128, 0, 0)).save(voc_root / "SegmentationClass" / "a.png")
    with pytest.raises(DataError, match=r"a\.png: mask is an RGB-coloured image.*Convert it"):
        VOCSegmentation(voc_root, "train")[0]


def test_split_line_with_several_fields_is_rejected(voc_root):
    (voc_root / "ImageSets" / "Segmentation" / "val.txt").write_text("a\n/JPEGImages/b.jpg b.png\n")
    with pytest.raises(DataError, match=r"val\.txt:2: expected one image id per line"):
        VOCSegmentation(voc_root, "val")


def test_errors_in_loader_workers_reach_the_caller(voc_root):
    path = voc_root / "JPEGImages" / "a.jpg"
    path.write_bytes(b"not a jpeg")
    loader = DataLoader(VOCSegmentation(voc_root, "val"), num_workers=1, collate_fn=list)
    with pytest.raises(DataError, match=r"a\.jpg: unreadable"):
        next(iter(loader))
