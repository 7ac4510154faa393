"""Evaluation protocols: whole images, sliding windows, scales and flips, each view refined by
the iterative-inference steps before the views are merged."""

import pytest
import torch

from dis_seg.inference import predict
from dis_seg.inference.protocols import EvaluationProtocol, predict_views, window_origins
from dis_seg.models import DISNet
from dis_seg.runs.building import evaluation_protocol

STEPS = {"steps": 3, "step_size": 50.0, "record_steps": (0, 3)}


@pytest.fixture
def images() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, 3, 40, 56)


def test_the_whole_protocol_is_the_plain_prediction(tiny_model, images):
    whole = predict_views(tiny_model.eval(), images, **STEPS)
    plain = predict(tiny_model, images, **STEPS)
    for t in (0, 3):
        assert torch.equal(whole.labelmap(t), plain.labelmap(t))
    assert torch.equal(whole.energy, plain.result.energy)


def test_one_sliding_window_covering_the_image_equals_the_whole_image(tiny_model, images):
    whole = predict_views(tiny_model.eval(), images, **STEPS)
    covering = EvaluationProtocol(mode="slide", window=64, stride=40)
    slide = predict_views(tiny_model, images, covering, **STEPS)
    for t in (0, 3):
        assert torch.equal(slide.labelmap(t), whole.labelmap(t))
        assert torch.equal(slide.scores_at[t], whole.scores_at[t])
    assert torch.equal(slide.energy, whole.energy)
    assert torch.equal(slide.tag_scores, whole.tag_scores)


@pytest.fixture
def mirror_model() -> DISNet:
    """A network whose every conv kernel is mirror-symmetric left to right, so that on images
    whose width stays odd at every stride (33: 17, 9, 5) its prediction of a mirrored image is
    the mirrored prediction."""
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5).eval()
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.weight.copy_((conv.weight + conv.weight.flip(-1)) / 2)
    return model


def test_flip_of_a_mirror_symmetric_image_changes_nothing(mirror_model):
    torch.manual_seed(2)
    half = torch.randn(2, 3, 24, 17)
    symmetric = torch.cat([half, half[..., :-1].flip(-1)], dim=-1)  # 33 wide
    whole = predict_views(mirror_model, symmetric, **STEPS)
    flipped = predict_views(mirror_model, symmetric, EvaluationProtocol(flip=True), **STEPS)
    for t in (0, 3):
        assert torch.equal(flipped.labelmap(t), whole.labelmap(t))
        assert torch.allclose(flipped.scores_at[t], whole.scores_at[t].softmax(1), atol=1e-5)


@pytest.mark.parametrize("mode", ["whole", "slide"])
def test_the_flipped_view_is_mapped_back_onto_the_image(mirror_model, mode):
    torch.manual_seed(3)
    images = torch.randn(2, 3, 24, 33)  # not symmetric: only a view flipped back agrees
    plain = EvaluationProtocol(mode=mode, window=25, stride=8)
    mirrored = EvaluationProtocol(mode=mode, window=25, stride=8, flip=True)
    reference = predict_views(mirror_model, images, plain, **STEPS)
    flipped = predict_views(mirror_model, images, mirrored, **STEPS)
    assert not torch.allclose(reference.scores_at[3], reference.scores_at[3].flip(-1))
    assert torch.allclose(flipped.scores_at[3], reference.scores_at[3].softmax(1), atol=1e-5)


def test_windows_cover_the_image_and_overlapping_logits_are_averaged(tiny_model, images):
    protocol = EvaluationProtocol(mode="slide", window=24, stride=16)
    assert window_origins(40, 24, 16) == [0, 16]
    assert window_origins(56, 24, 16) == [0, 16, 32]
    slide = predict_views(tiny_model.eval(), images, protocol, **STEPS)
    assert slide.scores_at[3].shape == (2, tiny_model.num_classes, 40, 56)
    crop = images[:, :, 16:40, 32:56]  # the bottom right window, whose corner no other covers
    alone = predict_views(tiny_model, crop, **STEPS)
    assert torch.allclose(slide.scores_at[3][..., 32:, 48:], alone.scores_at[3][..., 16:, 16:])


def test_several_scales_average_the_probabilities_of_their_views(tiny_model, images):
    protocol = EvaluationProtocol(scales=(0.5, 1.0))
    merged = predict_views(tiny_model.eval(), images, protocol, **STEPS)
    probabilities = merged.scores_at[0]
    assert probabilities.shape == (2, tiny_model.num_classes, 40, 56)
    assert torch.allclose(probabilities.sum(1), torch.ones(2, 40, 56), atol=1e-5)
    assert merged.energy.shape == (4, 2)


def test_a_protocol_is_named_as_results_report_it():
    assert EvaluationProtocol().name == "whole"
    slide = EvaluationProtocol(mode="slide", window=321, stride=214, scales=(0.75, 1.0), flip=True)
    assert slide.name == "slide 321/214, scales 0.75/1, flip"


def test_the_evaluation_group_defaults_to_the_training_crop_and_two_thirds_of_it():
    group = {"mode": "slide", "window": None, "stride": None, "scales": [1.0], "flip": False}
    protocol = evaluation_protocol(_Config(group), crop_size=321)
    assert (protocol.window, protocol.stride) == (321, 214)


class _Config(dict):
    """A mapping read by attribute, as an OmegaConf node is."""

    __getattr__ = dict.__getitem__
