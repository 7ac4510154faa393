import numpy as np
import pytest
import torch

from dis_seg.data import IDWTags
from dis_seg.errors import DataError


def tag_ids(tags: torch.Tensor) -> list[int]:
    return tags.nonzero().flatten().tolist()


def test_tags_come_from_the_tags_field_or_the_description(idw_root):
    dataset = IDWTags(idw_root)
    assert dataset.ids == ["x.jpg", "y.png", "z.jpg"]
    assert tag_ids(dataset[0]["tags"]) == [0, 13, 15]  # horse, person
    assert tag_ids(dataset[1]["tags"]) == [0, 12, 15]  # "men ... Dogs"


def test_explicit_tags_win_over_the_description(idw_root):
    assert tag_ids(IDWTags(idw_root)[2]["tags"]) == [0, 8]  # cat, not the described sofa


def test_tag_only_sample_has_no_labelmap_and_unknown_hidden_truth(idw_root):
    sample = IDWTags(idw_root)[0]
    assert sample["id"] == "x.jpg"
    assert sample["image"].shape == (6, 8, 3)
    assert sample["has_labelmap"] is False
    assert (sample["labelmap"] == 255).all()
    assert sample["has_hidden"] is False
    assert (sample["hidden_labelmap"] == 255).all()
    assert torch.equal(sample["clean_tags"], sample["tags"])


def test_labelmaps_folder_makes_a_labelled_test_split(idw_root, make_labelmap):
    sample = IDWTags(idw_root, labelmaps="labelmaps")[1]
    assert sample["has_labelmap"] is True
    np.testing.assert_array_equal(sample["labelmap"], make_labelmap(3))
    np.testing.assert_array_equal(sample["hidden_labelmap"], make_labelmap(3))


def test_hidden_labelmaps_and_clean_tags_are_served_beside_the_noisy_tags(idw_root, make_labelmap):
    sample = IDWTags(idw_root, hidden_labelmaps="hidden_labelmaps", clean_tags="clean_tags.jsonl")[
        0
    ]
    assert sample["has_labelmap"] is False
    assert (sample["labelmap"] == 255).all()
    assert sample["has_hidden"] is True
    np.testing.assert_array_equal(sample["hidden_labelmap"], make_labelmap(8))
    assert tag_ids(sample["clean_tags"]) == [0, 8, 12]
    assert tag_ids(sample["tags"]) == [0, 13, 15]


def test_missing_root_states_the_expected_layout(tmp_path):
    with pytest.raises(DataError, match=r"does not exist; expected this layout:\nIDW/"):
        IDWTags(tmp_path / "IDW")


def test_missing_annotations_file_is_named(idw_root):
    with pytest.raises(DataError, match=r"test\.jsonl does not exist; expected this layout"):
        IDWTags(idw_root, annotations="test.jsonl")


def test_invalid_json_names_the_line(idw_root):
    path = idw_root / "annotations.jsonl"
    path.write_text(path.read_text() + '{"image": "x.jpg", tags: []}\n')
    with pytest.raises(DataError, match=r"annotations\.jsonl:4: not valid JSON"):
        IDWTags(idw_root)


def test_line_without_tags_or_description_is_rejected(idw_root):
    (idw_root / "annotations.jsonl").write_text('\n{"image": "x.jpg"}\n')
    with pytest.raises(
        DataError, match=r"annotations\.jsonl:2: expected \"tags\".*or a \"description\""
    ):
        IDWTags(idw_root)


def test_line_without_image_is_rejected(idw_root):
    (idw_root / "annotations.jsonl").write_text('{"tags": ["cat"]}\n')
    with pytest.raises(
        DataError, match=r"annotations\.jsonl:1: expected an object with an \"image\""
    ):
        IDWTags(idw_root)


def test_unknown_tag_names_line_tag_and_valid_tags(idw_root):
    (idw_root / "annotations.jsonl").write_text('{"image": "x.jpg", "tags": ["kitten"]}\n')
    with pytest.raises(
        DataError, match=r"annotations\.jsonl:1: unknown tag 'kitten'; valid tags are: background"
    ):
        IDWTags(idw_root)


def test_listed_image_that_is_missing_is_named(idw_root):
    (idw_root / "images" / "y.png").unlink()
    with pytest.raises(DataError, match=r"annotations\.jsonl:2: image .*y\.png does not exist"):
        IDWTags(idw_root)


def test_empty_annotations_are_an_error(idw_root):
    (idw_root / "annotations.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"annotations\.jsonl: lists no images"):
        IDWTags(idw_root)


def test_image_listed_twice_is_an_error(idw_root):
    path = idw_root / "annotations.jsonl"
    path.write_text(path.read_text() + '{"image": "x.jpg", "tags": []}\n')
    with pytest.raises(DataError, match=r"images listed twice: \['x\.jpg'\]"):
        IDWTags(idw_root)


def test_missing_labelmap_of_a_listed_image_is_named(idw_root):
    (idw_root / "labelmaps" / "z.png").unlink()
    with pytest.raises(DataError, match=r"z\.png: labelmap of image 'z\.jpg' does not exist"):
        IDWTags(idw_root, labelmaps="labelmaps")


def test_clean_tags_must_cover_every_image(idw_root):
    (idw_root / "clean_tags.jsonl").write_text('{"image": "x.jpg", "tags": []}\n')
    with pytest.raises(
        DataError, match=r"clean_tags\.jsonl: no clean tags for image\(s\) \['y\.png', 'z\.jpg'\]"
    ):
        IDWTags(idw_root, clean_tags="clean_tags.jsonl")
