import json

import numpy as np
import pytest
from PIL import Image

from dis_seg.cli.check_data import main
from dis_seg.data import IDWTags, VOCSegmentation
from dis_seg.errors import MissingFileError


@pytest.fixture
def run_check(voc_root, idw_root, capsys):
    """``run_check(*overrides)`` → (exit status, stdout) of the check on ``data=voc_idw`` over
    the tiny VOC (train_aug a, b; val = test a) and IDW (x, y, z; test split with labelmaps)."""

    def run(*overrides: str) -> tuple[int, str]:
        status = main(
            [
                "data=voc_idw",
                f"paths.voc_root='{voc_root}'",
                f"paths.idw_root='{idw_root}'",
                "data.idw_test_annotations=annotations.jsonl",
                "data.idw_test_labelmaps=labelmaps",
                *overrides,
            ]
        )
        return status, capsys.readouterr().out

    return run


def table_row(out: str, split: str) -> list[str]:
    """The cells of a split's row: source (two words), images, ok, then the count per kind."""
    row = next(line for line in out.splitlines() if line.startswith(f"{split}  "))
    return row[len(split) :].split()


def test_clean_data_set_passes_with_exit_status_zero(run_check):
    status, out = run_check()
    assert status == 0
    assert out.rstrip().endswith("no problems found")
    assert table_row(out, "train") == ["VOC", "train_aug", "2", "2", *["0"] * 6]
    assert table_row(out, "idw_test") == ["IDW", "annotations.jsonl", "3", "3", *["0"] * 6]


def test_split_named_for_val_and_test_is_read_once(run_check):
    _, out = run_check()
    assert table_row(out, "val, test")[:4] == ["VOC", "val", "1", "1"]
    assert not any(line.startswith("test  ") for line in out.splitlines())


def test_missing_image_is_reported_with_its_list_line(run_check, voc_root):
    (voc_root / "JPEGImages" / "b.jpg").unlink()
    status, out = run_check()
    assert status == 1
    assert f"  missing: {voc_root}/ImageSets/Segmentation/train_aug.txt:2: " in out
    assert "JPEGImages/b.jpg does not exist" in out


def test_unreadable_image_is_reported_by_name(run_check, voc_root):
    (voc_root / "JPEGImages" / "b.jpg").write_bytes(b"\xff\xd8 truncated")
    status, out = run_check()
    assert status == 1
    assert f"  unreadable image: {voc_root}/JPEGImages/b.jpg: unreadable" in out


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (np.zeros((6, 9), np.uint8), "mask is 6×9 (H×W) but its image is 6×8"),
        (np.full((6, 8), 21, np.uint8), "mask value(s) [21] outside the class ids 0..20"),
        (np.zeros((6, 8, 3), np.uint8), "mask is an RGB-coloured image"),
    ],
    ids=["wrong-size", "class-21", "rgb"],
)
def test_bad_mask_is_reported_by_name(run_check, voc_root, mask, match):
    Image.fromarray(mask).save(voc_root / "SegmentationClassAug" / "b.png")
    status, out = run_check()
    assert status == 1
    assert f"  bad mask: {voc_root}/SegmentationClassAug/b.png: {match}" in out


def test_bad_idw_test_labelmap_is_a_bad_mask_of_that_split(run_check, idw_root):
    Image.fromarray(np.full((6, 8), 30, np.uint8)).save(idw_root / "labelmaps" / "y.png")
    status, out = run_check()
    assert status == 1
    assert table_row(out, "idw_test")[2:5] == ["3", "2", "0"]
    assert f"  bad mask: {idw_root}/labelmaps/y.png: mask value(s) [30]" in out


def test_unknown_tag_is_reported_with_its_line(run_check, idw_root):
    lines = (idw_root / "annotations.jsonl").read_text().splitlines()
    lines[1] = json.dumps({"image": "y.png", "tags": ["kitten"]})
    (idw_root / "annotations.jsonl").write_text("\n".join(lines) + "\n")
    status, out = run_check()
    assert status == 1
    assert f"  unknown tag: {idw_root}/annotations.jsonl:2: unknown tag 'kitten'" in out


def test_record_without_tags_or_description_is_a_bad_entry(run_check, idw_root):
    path = idw_root / "annotations.jsonl"
    path.write_text(path.read_text() + '{"image": "x.jpg", "caption": "a cat"}\n')
    status, out = run_check()
    assert status == 1
    assert f'  bad entry: {idw_root}/annotations.jsonl:4: expected "tags"' in out


def test_split_that_cannot_be_listed_is_reported_and_the_others_still_checked(run_check, voc_root):
    (voc_root / "ImageSets" / "Segmentation" / "val.txt").unlink()
    status, out = run_check()
    assert status == 1
    assert table_row(out, "val, test")[2:4] == ["-", "-"]
    assert f"  listing: {voc_root}/ImageSets/Segmentation/val.txt: split list not found" in out
    assert table_row(out, "train")[2:4] == ["2", "2"]


def test_problems_are_collected_across_images_and_splits(run_check, voc_root, idw_root):
    (voc_root / "JPEGImages" / "b.jpg").unlink()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(voc_root / "SegmentationClassAug/a.png")
    (idw_root / "images" / "x.jpg").unlink()
    (idw_root / "labelmaps" / "z.png").unlink()
    status, out = run_check()
    assert status == 1
    # after the source: images, ok, missing, unreadable image, bad mask
    assert table_row(out, "train")[2:7] == ["2", "0", "1", "0", "1"]
    assert table_row(out, "idw")[2:5] == ["3", "2", "1"]
    assert table_row(out, "idw_test")[2:5] == ["3", "1", "2"]
    assert f"{idw_root}/labelmaps/z.png: labelmap of image 'z.jpg' does not exist" in out
    assert out.rstrip().endswith("5 problem(s) found")


def test_overrides_that_do_not_compose_exit_with_status_two(capsys):
    assert main(["data=no_such_data"]) == 2
    assert "no_such_data" in capsys.readouterr().err


def test_readers_hand_missing_entries_to_on_error_and_keep_the_rest(voc_root, idw_root):
    (voc_root / "SegmentationClassAug" / "a.png").unlink()
    (idw_root / "images" / "y.png").unlink()
    problems = []
    assert VOCSegmentation(voc_root, "train_aug", on_error=problems.append).ids == ["b"]
    assert IDWTags(idw_root, on_error=problems.append).ids == ["x.jpg", "z.jpg"]
    assert [type(problem) for problem in problems] == [MissingFileError, MissingFileError]
