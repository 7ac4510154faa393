import numpy as np
import torch

from dis_seg.data.samples import HiddenLabelmaps, hide_labelmap, make_sample
from dis_seg.data.tags import tags_from_labelmap


def labelled_sample() -> dict:
    labelmap = np.array([[0, 5], [5, 255]], dtype=np.uint8)
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    return make_sample("s", image, tags_from_labelmap(labelmap, 21), labelmap=labelmap)


def test_labelled_sample_is_its_own_hidden_truth():
    sample = labelled_sample()
    assert sample["has_labelmap"]
    assert sample["has_hidden"]
    np.testing.assert_array_equal(sample["hidden_labelmap"], sample["labelmap"])
    assert sample["hidden_labelmap"] is not sample["labelmap"]


def test_sample_without_truth_has_all_ignore_labelmaps_and_its_tags_as_clean_tags():
    tags = torch.zeros(21)
    sample = make_sample("t", np.zeros((2, 3, 3), dtype=np.uint8), tags)
    assert not sample["has_labelmap"]
    assert not sample["has_hidden"]
    assert (sample["labelmap"] == 255).all()
    assert sample["labelmap"].shape == (2, 3)
    assert (sample["hidden_labelmap"] == 255).all()
    assert torch.equal(sample["clean_tags"], tags)


def test_hiding_the_labelmap_keeps_it_as_hidden_truth_for_arrays_and_tensors():
    sample = labelled_sample()
    for labelmap in (sample["labelmap"], torch.from_numpy(sample["labelmap"]).long()):
        hidden = hide_labelmap({**sample, "labelmap": labelmap})
        assert hidden["has_labelmap"] is False
        assert hidden["has_hidden"] is True
        assert (hidden["labelmap"] == 255).all()
        assert type(hidden["labelmap"]) is type(labelmap)
        np.testing.assert_array_equal(hidden["hidden_labelmap"], sample["labelmap"])
    assert HiddenLabelmaps([sample])[0]["has_labelmap"] is False
