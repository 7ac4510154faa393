"""Whose BatchNorm statistics normalise a mixed training batch of stages 1 and 3
(``stages.s1.module.bn_statistics``, ``stages.s3.module.bn_statistics``)."""

import copy

import pytest
import torch
from torch import nn

from dis_seg.data.random_batch import random_training_batch
from dis_seg.stages import Stage1Module, Stage3Module
from dis_seg.stages.batch_statistics import training_forward

LABELLED = torch.tensor([True, False, True, False])


def running_means(model) -> list[torch.Tensor]:
    return [m.running_mean.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.fixture
def images() -> torch.Tensor:
    """4 images of 32×32, the tag-only ones (1, 3) of another brightness and contrast."""
    torch.manual_seed(1)
    images = torch.randn(4, 3, 32, 32)
    images[~LABELLED] = 3 * images[~LABELLED] + 2
    return images


@pytest.mark.parametrize("bn_statistics", ["labelled", "separate"])
def test_labelled_images_alone_give_their_statistics_and_the_running_ones(
    tiny_model, images, bn_statistics
):
    alone = copy.deepcopy(tiny_model).train()
    tiny_model.train()
    out = training_forward(tiny_model, images, LABELLED, bn_statistics)
    expected = alone(images[LABELLED])
    for ours, theirs in zip(running_means(tiny_model), running_means(alone), strict=True):
        assert torch.equal(ours, theirs)
    assert torch.allclose(out.u3[LABELLED], expected.u3, atol=1e-6)
    assert torch.allclose(out.v3[LABELLED], expected.v3, atol=1e-6)


def test_tag_only_images_are_normalised_by_the_running_statistics(tiny_model, images):
    tiny_model.train()
    out = training_forward(tiny_model, images, LABELLED, "labelled")
    assert tiny_model.backbone.training
    with torch.no_grad():
        expected = tiny_model.eval()(images[~LABELLED])
    assert torch.allclose(out.u3[~LABELLED], expected.u3, atol=1e-6)
    assert torch.allclose(out.z3[~LABELLED], expected.z3, atol=1e-6)


def test_separate_statistics_normalise_tag_only_images_by_their_own_batch(tiny_model, images):
    alone = copy.deepcopy(tiny_model).train()
    tiny_model.train()
    out = training_forward(tiny_model, images, LABELLED, "separate")
    expected = alone(images[~LABELLED])
    assert tiny_model.backbone.training
    assert torch.allclose(out.u3[~LABELLED], expected.u3, atol=1e-6)
    assert torch.allclose(out.z3[~LABELLED], expected.z3, atol=1e-6)


@pytest.mark.parametrize("bn_statistics", ["labelled", "separate"])
def test_tag_only_outputs_train_the_backbone(tiny_model, images, bn_statistics):
    tiny_model.train()
    out = training_forward(tiny_model, images, LABELLED, bn_statistics)
    out.v3[~LABELLED].sum().backward()
    assert tiny_model.backbone.stem[0].weight.grad.abs().sum() > 0


def test_batch_statistics_or_a_batch_of_one_kind_is_one_forward_pass(tiny_model, images):
    tiny_model.train()
    for bn_statistics, labelled in (("batch", LABELLED), ("labelled", torch.ones(4, dtype=bool))):
        torch.manual_seed(0)
        ours = training_forward(copy.deepcopy(tiny_model), images, labelled, bn_statistics)
        torch.manual_seed(0)
        theirs = copy.deepcopy(tiny_model)(images)
        assert torch.equal(ours.u3, theirs.u3)


def test_an_unknown_value_names_bn_statistics(tiny_model, images):
    with pytest.raises(ValueError, match="bn_statistics: expected one of"):
        training_forward(tiny_model, images, LABELLED, "mixed")


@pytest.mark.parametrize(
    ("stage", "bn_statistics"),
    [(Stage1Module, "labelled"), (Stage1Module, "separate"), (Stage3Module, "separate")],
)
def test_a_training_step_moves_running_statistics_by_the_labelled_images_alone(
    stage, bn_statistics
):
    torch.manual_seed(0)
    options = {"recon_fit": "truth", "ttr": 1} if stage is Stage3Module else {}
    module = stage(
        model={"backbone": "resnet18", "num_classes": 5}, bn_statistics=bn_statistics, **options
    ).train()
    module.log = lambda *args, **kwargs: None
    batch = random_training_batch(4, 32, 5, generator=torch.Generator().manual_seed(1))
    labelled = batch["has_labelmap"]
    assert labelled.any()
    assert not labelled.all()
    alone = copy.deepcopy(module.model).train()
    module.training_step(batch, 0)
    alone(batch["image"][labelled])
    for ours, theirs in zip(running_means(module.model), running_means(alone), strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)
