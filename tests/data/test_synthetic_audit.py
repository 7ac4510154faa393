import numpy as np
import pytest

from dis_seg.cli.synthetic import main
from dis_seg.data.synthetic import generate
from dis_seg.reports.synthetic_audit import (
    audit,
    colour_histograms,
    colour_lookup,
    domain_accuracy,
    lookup_predictions,
    miou,
    pooled_truth,
    tag_rates,
)

RED, BLUE = (200, 0, 0), (0, 0, 200)


def painted(height: int, width: int, colour_of: dict, labelmap: np.ndarray) -> np.ndarray:
    """An image whose pixels of class c have colour ``colour_of[c]``."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for class_id, colour in colour_of.items():
        image[labelmap == class_id] = colour
    return image


def test_miou_averages_over_classes_in_truth_or_prediction_and_ignores_255():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    prediction = np.array([[0, 0, 1, 2], [0, 1, 1, 2]])
    # background 3/4, class 1 2/4, class 2 0/1; the 255 pixel counts nowhere
    assert miou([truth], [prediction], 3) == pytest.approx((3 / 4 + 2 / 4 + 0) / 3)


def test_colour_lookup_recovers_classes_with_their_own_colour():
    labelmap = np.zeros((4, 4), dtype=np.uint8)
    labelmap[:, 2:] = 1
    image = painted(4, 4, {0: BLUE, 1: RED}, labelmap)
    table = colour_lookup([image], [labelmap], 2)
    assert miou([labelmap], lookup_predictions(table, [image]), 2) == 1.0


def test_colour_lookup_takes_the_majority_class_of_a_shared_colour():
    labelmap = np.array([[0, 0, 0, 1, 1, 2]], dtype=np.uint8)
    image = painted(1, 6, {0: RED, 1: RED, 2: BLUE}, labelmap)
    prediction = lookup_predictions(colour_lookup([image], [labelmap], 3), [image])[0]
    assert prediction.tolist() == [[0, 0, 0, 0, 0, 2]]
    # background 3/5, class 1 0/2, class 2 1/1
    assert miou([labelmap], [prediction], 3) == pytest.approx((3 / 5 + 0 + 1) / 3)


def test_colour_lookup_gives_unseen_colours_the_majority_class():
    labelmap = np.array([[1, 1, 0]], dtype=np.uint8)
    table = colour_lookup([painted(1, 3, {0: BLUE, 1: RED}, labelmap)], [labelmap], 2)
    unseen = np.full((1, 1, 3), 90, dtype=np.uint8)
    assert lookup_predictions(table, [unseen])[0].tolist() == [[1]]


def test_pooled_truth_keeps_regions_aligned_with_the_grid():
    labelmap = np.zeros((16, 16), dtype=np.uint8)
    labelmap[:, :8] = 3
    assert (pooled_truth(labelmap, 21) == labelmap).all()


def test_pooled_truth_loses_a_stripe_thinner_than_half_a_cell():
    labelmap = np.zeros((16, 16), dtype=np.uint8)
    labelmap[:, :2] = 3
    pooled = pooled_truth(labelmap, 21)
    assert (pooled == 0).all()
    # background 224/256, class 3 0/32
    assert miou([labelmap], [pooled], 21) == pytest.approx((224 / 256 + 0) / 2)


def test_pooled_truth_pads_images_that_are_not_a_multiple_of_the_stride():
    labelmap = np.full((12, 20), 5, dtype=np.uint8)
    assert (pooled_truth(labelmap, 21) == 5).all()


def test_colour_histograms_count_each_channel_into_eight_bins():
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    image[..., 0] = 255
    image[0, 0, 1] = 40
    features = colour_histograms([image])
    assert features.shape == (1, 24)
    expected = np.zeros(24)
    expected[7] = 1.0  # red: all in the top bin
    expected[8], expected[9] = 0.75, 0.25  # green: three 0s and one 40
    expected[16] = 1.0  # blue: all 0
    assert features[0] == pytest.approx(expected)


def test_domain_accuracy_is_one_for_separable_and_about_half_for_identical_features():
    rng = np.random.default_rng(0)
    voc = rng.normal(0, 1, (40, 3))
    assert domain_accuracy(voc, voc + 10) == 1.0
    assert domain_accuracy(voc, voc) == 0.5


def test_tag_rates_split_missed_tags_by_visible_size():
    labelmap = np.zeros((10, 10), dtype=np.uint8)
    labelmap[:5] = 1  # large: half of the image
    labelmap[9, :5] = 2  # small: 5 % of the image
    rates = tag_rates(
        noisy=[{1}, {1, 2, 7}], clean=[{1, 2}, {1, 2}], labelmaps=[labelmap, labelmap]
    )
    assert rates == {
        "missed": 1 / 4,
        "missed_small": 1 / 2,
        "missed_large": 0.0,
        "false_per_image": 1 / 2,
    }


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    options = {"size": 32, "num_labelled": 6, "num_tag_only": 6, "num_val": 1}
    options |= {"num_test": 4, "num_idw_test": 4, "progress": False}
    return generate(tmp_path_factory.mktemp("audit"), **options)


def test_audit_reports_the_five_properties_of_a_generated_set(small_set):
    findings = audit(small_set)
    assert [f.name for f in findings] == [
        "recognition needs shape and context",
        "the output grid does not cap the score",
        "two domains",
        "tags like descriptions",
        "test sets that can show a point",
    ]
    assert "descriptions naming exactly their tags 6/6" in findings[3].figure
    assert "VOC test 4, IDW test 4 images" in findings[4].figure
    assert "the same bytes from seed 0, other bytes from seed 1" in findings[4].figure
    assert not findings[4].met  # 4 test images are too few


def test_audit_notices_an_image_the_parameters_do_not_render(small_set, tmp_path):
    copy = generate(tmp_path, size=32, num_labelled=6, num_tag_only=6, num_val=1,
                    num_test=4, num_idw_test=4, progress=False)  # fmt: skip
    first = copy / "VOC2012" / "JPEGImages" / "test_00000.jpg"
    first.write_bytes((small_set / "VOC2012" / "JPEGImages" / "test_00001.jpg").read_bytes())
    assert "NOT the same bytes from seed 0" in audit(copy)[4].figure


def test_command_line_audit_prints_the_table_and_exits_1_when_a_property_fails(small_set, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--audit", str(small_set)])
    assert stopped.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["property", "status", "figures"]
    assert lines[5].startswith("5. test sets that can show a point")
    assert " not met " in lines[5]
