from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from dis_seg.cli.sbd import main
from dis_seg.data.sbd import convert
from dis_seg.errors import DataError


def write_mat(path: Path, segmentation: np.ndarray) -> None:
    """An SBD-style ``cls/<id>.mat``: struct GTcls with field Segmentation (and one more)."""
    savemat(path, {"GTcls": {"Segmentation": segmentation, "CategoriesPresent": np.array([1])}})


@pytest.fixture
def sbd(tmp_path, voc_root, make_labelmap) -> Path:
    """SBD ``dataset/`` with train d, b and val e, a beside ``voc_root`` (VOC train a, b, c,
    val a): d and e only in SBD (classes 5 and 20), b in both (SBD says class 9)."""
    root = tmp_path / "dataset"
    (root / "cls").mkdir(parents=True)
    for image_id, class_id in {"a": 9, "b": 9, "d": 5, "e": 20}.items():
        write_mat(root / "cls" / f"{image_id}.mat", make_labelmap(class_id))
        if image_id in "de":
            image = np.zeros((*make_labelmap(0).shape, 3), dtype=np.uint8)
            Image.fromarray(image).save(voc_root / "JPEGImages" / f"{image_id}.jpg")
    (root / "train.txt").write_text("d\nb\n")
    (root / "val.txt").write_text("e\na\n")
    return root


def aug_mask(voc_root: Path, image_id: str) -> Image.Image:
    return Image.open(voc_root / "SegmentationClassAug" / f"{image_id}.png")


def test_sbd_only_ids_get_their_mat_segmentation_as_grayscale_index_png(
    sbd, voc_root, make_labelmap
):
    convert(sbd, voc_root, progress=False)
    for image_id, class_id in {"d": 5, "e": 20}.items():
        mask = aug_mask(voc_root, image_id)
        assert mask.mode == "L"
        np.testing.assert_array_equal(np.asarray(mask), make_labelmap(class_id))


def test_voc_ids_keep_their_segmentation_class_indices_over_sbd(sbd, voc_root, make_labelmap):
    convert(sbd, voc_root, progress=False)
    for image_id, class_id in {"a": 15, "b": 12, "c": 1}.items():
        np.testing.assert_array_equal(
            np.asarray(aug_mask(voc_root, image_id)), make_labelmap(class_id)
        )


def test_train_aug_is_sbd_train_val_and_voc_train_minus_voc_val(sbd, voc_root):
    assert convert(sbd, voc_root, progress=False) == ["b", "c", "d", "e"]
    list_file = voc_root / "ImageSets" / "Segmentation" / "train_aug.txt"
    assert list_file.read_text() == "b\nc\nd\ne\n"


def test_lists_option_writes_the_list_and_leaves_the_masks(sbd, voc_root, make_labelmap):
    assert main(["--sbd", str(sbd), "--voc", str(voc_root), "--lists"]) == 0
    list_file = voc_root / "ImageSets" / "Segmentation" / "train_aug.txt"
    assert list_file.read_text() == "b\nc\nd\ne\n"
    assert not (voc_root / "SegmentationClassAug" / "d.png").exists()
    np.testing.assert_array_equal(np.asarray(aug_mask(voc_root, "b")), make_labelmap(7))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"GTcls": {"Segmentation": np.full((6, 8), 21, np.uint8)}}, r"value\(s\) \[21\]"),
        ({"GTcls": {"Segmentation": np.zeros((6, 9), np.uint8)}}, r"6×9 \(H×W\) but its image"),
        ({"GTcls": {"Segmentation": np.zeros((6, 8))}}, r"2-D integer array"),
        ({"GTinst": {"Segmentation": np.zeros((6, 8), np.uint8)}}, r"struct GTcls"),
        (b"not a MATLAB file", r"unreadable MATLAB file"),
    ],
    ids=["class-21", "wrong-size", "float", "no-GTcls", "garbage"],
)
def test_bad_mat_file_stops_the_conversion_naming_it(sbd, voc_root, content, match):
    path = sbd / "cls" / "d.mat"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        savemat(path, content)
    with pytest.raises(DataError, match=rf"dataset/cls/d\.mat: .*{match}"):
        convert(sbd, voc_root, progress=False)
    assert not (voc_root / "SegmentationClassAug" / "d.png").exists()


def test_missing_mat_file_is_named_and_exits_nonzero(sbd, voc_root, capsys):
    (sbd / "cls" / "e.mat").unlink()
    assert main(["--sbd", str(sbd), "--voc", str(voc_root)]) == 1
    assert "dataset/cls/e.mat does not exist" in capsys.readouterr().err
