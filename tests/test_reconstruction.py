"""Subnet-2 fitted to ground-truth labelmaps (recon_fit) and at a finer grid (recon_scale)."""

import pytest
import torch

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.data.random_batch import random_training_batch
from dis_seg.inference import StepOptions, iterative_inference
from dis_seg.models import DISNet
from dis_seg.models.losses import reconstruction_loss
from dis_seg.stages import Stage2Module, Stage3Module
from dis_seg.stages.reconstruction import frozen, truth_fractions, truth_reconstruction_loss

TINY = {"backbone": "resnet18", "num_classes": 5}


def test_truth_fractions_are_the_class_shares_of_each_cell_without_ignored_pixels():
    labelmap = torch.zeros(1, 4, 4, dtype=torch.long)
    labelmap[0, :2, :2] = torch.tensor([[1, 1], [2, IGNORE_INDEX]])
    labelmap[0, 2:, 2:] = IGNORE_INDEX
    fractions = truth_fractions(labelmap, (2, 2), num_classes=3)
    assert torch.allclose(fractions[0, :, 0, 0], torch.tensor([0.0, 2 / 3, 1 / 3]))
    assert torch.equal(fractions[0, :, 0, 1], torch.tensor([1.0, 0.0, 0.0]))
    assert fractions[0, :, 1, 1].isnan().all()


def test_truth_reconstruction_feeds_subnet2_the_one_hot_truth():
    torch.manual_seed(0)
    model = DISNet(**TINY)
    images = torch.randn(2, 3, 32, 32)
    labelmap = torch.full((2, 32, 32), 3)
    one_hot = torch.zeros(2, 5, 4, 4)
    one_hot[:, 3] = 1
    expected = reconstruction_loss(model.reconstruction_head(one_hot), images)
    assert torch.allclose(truth_reconstruction_loss(model, images, labelmap, (4, 4)), expected)


def test_frozen_module_passes_gradients_to_its_input_but_takes_none_itself():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3, requires_grad=True)
    with frozen(layer):
        layer(x).sum().backward()
    assert x.grad is not None
    assert layer.weight.grad is None
    assert all(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize("scale", [2, 4])
def test_subnet2_reconstructs_at_recon_scale_times_the_labelmap_grid(scale):
    model = DISNet(**TINY, recon_scale=scale).eval()
    out = model(torch.randn(1, 3, 32, 40))
    assert out.u3.shape[-2:] == (4, 5)
    assert out.z3.shape == (1, 3, 4 * scale, 5 * scale)


def test_recon_scale_must_be_1_2_or_4():
    with pytest.raises(ValueError, match="model.recon_scale: expected 1, 2 or 4, got 3"):
        DISNet(**TINY, recon_scale=3)


def test_fast_steps_equal_autograd_steps_through_an_upsampled_reconstruction():
    torch.manual_seed(0)
    model = DISNet(**TINY, recon_scale=2).eval().double()
    images = torch.randn(2, 3, 32, 40, dtype=torch.float64)
    with torch.no_grad():
        u1, v1 = model.encode(images)
    kwargs = {"steps": 10, "step_size": 1e4, "tags": torch.ones(2, 5, dtype=torch.float64)}
    fast = iterative_inference(model, u1, v1, images, options=StepOptions(method="fast"), **kwargs)
    reference = iterative_inference(
        model, u1, v1, images, options=StepOptions(method="autograd"), **kwargs
    )
    assert (reference.u3.argmax(1) != model.segment(u1, v1).argmax(1)).any()
    for name in ("u3", "v3", "z3", "energy"):
        ours, theirs = getattr(fast, name), getattr(reference, name)
        assert ((ours - theirs).abs().max() / theirs.abs().max()) < 1e-10, name


def labelled_images_only_loss(module, batch):
    """The stage's loss, and that loss once the tag-only images are replaced by noise."""
    first = module.training_step(batch, 0)
    changed = dict(batch, image=batch["image"].clone())
    tag_only = ~batch["has_labelmap"]
    changed["image"][tag_only] = torch.randn_like(changed["image"][tag_only])
    return first, module.training_step(changed, 0)


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_stage2_fitted_to_the_truth_learns_from_the_labelled_images_alone():
    torch.manual_seed(0)
    batch = random_training_batch(4, 32, 5)
    truth = Stage2Module(model=TINY, recon_fit="truth")
    first, changed = labelled_images_only_loss(truth, batch)
    labelled = batch["has_labelmap"]
    expected = truth_reconstruction_loss(
        truth.model, batch["image"][labelled], batch["labelmap"][labelled], (4, 4)
    )
    assert torch.equal(first, changed)
    assert torch.allclose(first, expected)
    both = Stage2Module(model=TINY, recon_fit="both")
    first, changed = labelled_images_only_loss(both, batch)
    assert not torch.equal(first, changed)


def test_stage3_fitted_to_the_truth_trains_subnet2_on_the_truth_and_the_rest_on_predictions():
    torch.manual_seed(0)
    module = Stage3Module(model=TINY, ttr=0, recon_fit="truth")
    batch = random_training_batch(4, 32, 5)
    losses = module._reconstruction_losses(batch, module.model(batch["image"]))
    head, subnet2 = module.model.labelmap_head, module.model.reconstruction_head
    losses["recon_loss"].backward(retain_graph=True)
    assert head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in subnet2.parameters())
    module.zero_grad()
    losses["recon_truth_loss"].backward()
    assert all(p.grad.abs().sum() > 0 for p in subnet2.parameters())
    assert head.weight.grad is None or not head.weight.grad.any()
