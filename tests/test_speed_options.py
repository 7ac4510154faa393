"""Speed options: channels-last, a compiled backbone and bf16 autocast compute the same.

The compile test runs only with ``DIS_SEG_TEST_COMPILE=1``: compiling a ResNet-18 with inductor
takes minutes on a 2-core CPU.
"""

import os

import pytest
import torch
from torch.utils.data import DataLoader

from dis_seg.data.random_batch import random_training_batch
from dis_seg.inference import StepOptions, iterative_inference
from dis_seg.models import DISNet
from dis_seg.stages import Stage3Module
from tests.helpers import TAGS, assert_fast_matches_autograd, both_methods, quiet_trainer

TINY = {"backbone": "resnet18", "num_classes": 5}


def twin(model: DISNet, **options) -> DISNet:
    """A DISNet like the tiny ``model`` with ``options``, holding ``model``'s weights."""
    other = DISNet(**TINY, **options)
    other.load_state_dict(model.state_dict())
    return other.train(model.training)


def relative_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours.float() - theirs.float()).abs().max() / theirs.float().abs().max()).item()


def test_channels_last_model_keeps_its_format_and_computes_the_same(tiny_model):
    tiny_model.eval()
    fast_layout = twin(tiny_model, channels_last=True)
    convs = [m for m in fast_layout.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    images = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        reference, out = tiny_model(images), fast_layout(images)
    assert out.u1.is_contiguous(memory_format=torch.channels_last)
    for name in ("u1", "v1", "u3", "z3", "v3", "logits"):
        error = relative_error(getattr(out, name), getattr(reference, name))
        assert error < 1e-5, f"{name}: relative difference {error:.1e}"


def test_channels_last_iterative_inference_matches_the_contiguous_model(tiny_model):
    tiny_model.eval()
    fast_layout = twin(tiny_model, channels_last=True)
    images = torch.randn(3, 3, 40, 56)
    with torch.no_grad():
        u1, v1 = fast_layout.encode(images)
    kwargs = {"steps": 10, "step_size": 1e3, "tags": TAGS, "record_steps": (0, 10)}
    fast, reference = both_methods(fast_layout, u1, v1, images, **kwargs)
    assert_fast_matches_autograd(fast, reference)
    contiguous = iterative_inference(tiny_model, u1.contiguous(), v1, images, **kwargs)
    assert_fast_matches_autograd(fast, contiguous)


@pytest.mark.skipif(
    os.environ.get("DIS_SEG_TEST_COMPILE") != "1",
    reason="compiling takes minutes on a small CPU; set DIS_SEG_TEST_COMPILE=1",
)
def test_compiled_backbone_computes_the_same_forward_and_gradients(tiny_model):
    compiled = twin(tiny_model, compile_backbone=True)
    images = torch.randn(2, 3, 40, 56)
    losses = [model(images).logits.square().mean() for model in (tiny_model, compiled)]
    assert relative_error(losses[1], losses[0]) < 1e-4
    for loss in losses:
        loss.backward()
    weights = (tiny_model.backbone.stem[0].weight, compiled.backbone.stem[0].weight)
    assert relative_error(weights[1].grad, weights[0].grad) < 1e-3


def test_iterative_inference_steps_in_float32_under_bf16_autocast(tiny_model):
    """Features from a bf16 forward are refined in fp32, as if autocast were off, and land
    within bf16 rounding of the fp32 refinement."""
    tiny_model.eval()
    images = torch.randn(3, 3, 40, 56)
    kwargs = {"steps": 10, "step_size": 1e3, "tags": TAGS, "record_steps": (0,)}
    with torch.no_grad():
        u1, v1 = tiny_model.encode(images)
        reference = iterative_inference(tiny_model, u1, v1, images, **kwargs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            u1_bf16, v1_bf16 = tiny_model.encode(images)
            results = [
                iterative_inference(
                    tiny_model, u1_bf16, v1_bf16, images, options=StepOptions(method=m), **kwargs
                )
                for m in ("fast", "autograd")
            ]
    assert u1_bf16.dtype == torch.bfloat16
    fast, autograd = results
    assert fast.u3.dtype == torch.float32
    assert torch.isfinite(fast.energy).all()
    assert_fast_matches_autograd(fast, autograd)
    outside = iterative_inference(tiny_model, u1_bf16.float(), v1_bf16.float(), images, **kwargs)
    assert torch.equal(fast.u3, outside.u3)
    assert torch.equal(fast.energy, outside.energy)
    assert (fast.energy[-1] < fast.energy[0]).all()
    labelmap, initial = reference.u3.argmax(dim=1), reference.u3_at[0].argmax(dim=1)
    assert (labelmap != initial).float().mean() > 0.2
    assert (fast.u3.argmax(dim=1) == labelmap).float().mean() > 0.99
    steps_bf16, steps_fp32 = fast.u3 - fast.u3_at[0], reference.u3 - reference.u3_at[0]
    assert relative_error(steps_bf16, steps_fp32) < 1e-2
    assert relative_error(fast.u3, reference.u3) < 1e-2
    assert relative_error(fast.energy, reference.energy) < 1e-2


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no")
def test_stage3_trains_with_bf16_mixed_precision():
    torch.manual_seed(0)
    module = Stage3Module(model=TINY, recon_fit="truth", ttr=3, step_size=10.0)
    generator = torch.Generator().manual_seed(0)
    mixed_batches = [
        random_training_batch(4, 32, 5, tag_rate=0.5, generator=generator) for _ in range(2)
    ]
    trainer = quiet_trainer(precision="bf16-mixed", max_steps=2)
    trainer.fit(module, train_dataloaders=DataLoader(mixed_batches, batch_size=None))
    assert trainer.global_step == 2
    losses = {name: float(value) for name, value in trainer.callback_metrics.items()}
    assert losses["train/pseudo_seg_loss"] > 0
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values()), losses
