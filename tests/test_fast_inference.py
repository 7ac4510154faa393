"""Fast iterative inference (steps taken in the channels of u3) against the autograd reference.

The tight checks run in float64 (a ``.double()`` model), where both methods must agree to
rounding; float64 also keeps step sizes that move the labelmap a lot well inside what rounding
can follow. Float32 agreement is checked on a well-conditioned trajectory.
"""

import functools

import pytest
import torch
from torch import nn

from dis_seg.inference import StepOptions, iterative_inference, supports_fast_inference
from dis_seg.inference.fast import fast_operators
from dis_seg.models import DISNet
from dis_seg.stages.optim import OptimizerConfig, build_optimizer
from tests.helpers import COMPARED, TAGS, assert_fast_matches_autograd, both_methods

# Per step count, a step size that changes a large share of the argmax labelmap.
STEP_SIZES = {1: 5e4, 10: 1e4, 30: 3e3}


@functools.cache
def features(fusion: str = "sum", output_stride: int = 8, dtype: torch.dtype = torch.float64):
    """A random-init ResNet-18 DIS net in eval mode (C = 5, D = 512), 3×3×40×56 images and
    their features."""
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5, output_stride=output_stride, fusion=fusion)
    model = model.eval().to(dtype)
    images = torch.randn(3, 3, 40, 56, dtype=dtype)
    with torch.no_grad():
        u1, v1 = model.encode(images)
    return model, u1, v1, images


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one intra-op thread runs them fastest, also on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("tagged", [False, True], ids=["reconstruction", "with_tags"])
@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_fast_steps_equal_autograd_steps_that_change_the_labelmap(
    fusion, output_stride, tagged, batch
):
    model, u1, v1, images = features(fusion, output_stride)
    u1, v1, images = u1[:batch], v1[:batch], images[:batch]
    assert u1.shape[-2:] == {8: (5, 7), 16: (3, 4)}[output_stride]
    tags = TAGS[:batch].double() if tagged else None
    with torch.no_grad():
        initial = model.segment(u1, v1).argmax(dim=1)
    for steps, step_size in STEP_SIZES.items():
        fast, reference = both_methods(
            model,
            u1,
            v1,
            images,
            steps=steps,
            step_size=step_size,
            tags=tags,
            record_steps=(0, steps // 2, steps),
        )
        assert_fast_matches_autograd(fast, reference)
        assert reference.energy[-1].sum() < reference.energy[0].sum()
        changed = (reference.u3.argmax(dim=1) != initial).double().mean()
        assert changed >= 0.2, f"{steps} steps changed only {changed:.0%} of the labelmap"


@pytest.mark.parametrize("size", [(1, 1), (1, 6), (2, 3), (4, 1), (7, 5)])
def test_fast_steps_are_exact_at_the_border_of_small_grids(size):
    model = features()[0]
    torch.manual_seed(2)
    u1 = torch.randn(2, 512, *size, dtype=torch.float64).relu()
    v1 = torch.randn(2, 512, dtype=torch.float64).relu()
    images = torch.randn(2, 3, 24, 24, dtype=torch.float64)
    fast, reference = both_methods(
        model, u1, v1, images, steps=10, step_size=1e4, tags=TAGS[:2].double()
    )
    assert_fast_matches_autograd(fast, reference)
    with torch.no_grad():
        initial = model.segment(u1, v1)
    assert (reference.u3 - initial).abs().max() > 0.5 * initial.abs().max()


@pytest.mark.parametrize(
    ("kernel_size", "dilation"), [(1, 1), (3, 2), (5, 1), (5, 2)], ids=["1", "3d2", "5", "5d2"]
)
def test_fast_steps_are_exact_for_any_size_preserving_zero_padded_subnet1(kernel_size, dilation):
    _, u1, v1, images = features("concat")
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5, fusion="concat")
    padding = dilation * (kernel_size - 1) // 2
    model.labelmap_head = nn.Conv2d(1024, 5, kernel_size, padding=padding, dilation=dilation)
    model = model.double()
    assert supports_fast_inference(model)
    fast, reference = both_methods(
        model, u1, v1, images, steps=10, step_size=1e4, tags=TAGS.double()
    )
    assert_fast_matches_autograd(fast, reference)


@pytest.mark.parametrize("tagged", [False, True], ids=["reconstruction", "with_tags"])
@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_fast_steps_equal_autograd_steps_in_float32(fusion, tagged):
    model, u1, v1, images = features(fusion, dtype=torch.float32)
    fast, reference = both_methods(
        model, u1, v1, images, steps=30, step_size=1e3, tags=TAGS if tagged else None
    )
    assert fast.u3.dtype == torch.float32
    assert_fast_matches_autograd(fast, reference)


def test_auto_takes_fast_steps_where_the_network_allows_them():
    model, u1, v1, images = features(dtype=torch.float32)
    assert supports_fast_inference(model)
    kwargs = {"steps": 3, "step_size": 1e4, "tags": TAGS}
    default = iterative_inference(model, u1, v1, images, **kwargs)
    fast = iterative_inference(model, u1, v1, images, options=StepOptions(method="fast"), **kwargs)
    assert all(torch.equal(getattr(default, name), getattr(fast, name)) for name in COMPARED)


def test_auto_gives_the_plain_prediction_by_the_autograd_descent_without_steps():
    model, u1, v1, images = features(dtype=torch.float32)
    kwargs = {"steps": 0, "step_size": 1e4, "tags": TAGS}
    default = iterative_inference(model, u1, v1, images, **kwargs)
    autograd = iterative_inference(
        model, u1, v1, images, options=StepOptions(method="autograd"), **kwargs
    )
    fast = iterative_inference(model, u1, v1, images, options=StepOptions(method="fast"), **kwargs)
    assert all(torch.equal(getattr(default, name), getattr(autograd, name)) for name in COMPARED)
    assert_fast_matches_autograd(fast, autograd)


def test_auto_falls_back_to_autograd_and_fast_refuses_when_subnet1_pads_with_reflection():
    _, u1, v1, images = features(dtype=torch.float32)
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5)
    model.labelmap_head = nn.Conv2d(1024, 5, 3, padding=1, padding_mode="reflect")
    assert not supports_fast_inference(model)
    kwargs = {"steps": 3, "step_size": 1e4, "tags": TAGS}
    auto = iterative_inference(model, u1, v1, images, **kwargs)
    reference = iterative_inference(
        model, u1, v1, images, options=StepOptions(method="autograd"), **kwargs
    )
    assert all(torch.equal(getattr(auto, name), getattr(reference, name)) for name in COMPARED)
    with pytest.raises(ValueError, match="cannot take fast steps: subnet-1 does not pad with"):
        iterative_inference(model, u1, v1, images, options=StepOptions(method="fast"), **kwargs)


@pytest.mark.parametrize("method", ["fast", "autograd"])
def test_without_return_features_only_u1_is_left_out(method):
    model, u1, v1, images = features("concat", 16, torch.float32)
    kwargs = {"steps": 5, "step_size": 1e4, "tags": TAGS, "options": StepOptions(method=method)}
    full = iterative_inference(model, u1, v1, images, **kwargs)
    lean = iterative_inference(model, u1, v1, images, return_features=False, **kwargs)
    assert lean.u1 is None
    assert full.u1 is not None
    assert all(torch.equal(getattr(lean, name), getattr(full, name)) for name in COMPARED[1:])


def test_fast_non_finite_guard_stops_the_same_sample_at_the_same_step_as_autograd(
    diverging_features,
):
    model, u1, v1, images = diverging_features
    results = []
    for method in ("fast", "autograd"):
        with pytest.warns(RuntimeWarning, match="1 of 3 samples"):
            results.append(
                iterative_inference(
                    model,
                    u1,
                    v1,
                    images,
                    steps=6,
                    step_size=1e4,
                    options=StepOptions(method=method),
                )
            )
    fast, reference = results
    assert torch.equal(fast.stopped, reference.stopped)
    torch.testing.assert_close(fast.energy, reference.energy, rtol=1e-4, atol=0)
    frozen_from = [int((r.energy[:, 1] == r.energy[-1, 1]).nonzero()[0]) for r in results]
    assert frozen_from[0] == frozen_from[1] < 6
    assert torch.isfinite(fast.u3).all()
    assert_fast_matches_autograd(fast, reference, names=("u3", "v1"))


def test_fast_leaves_the_model_untouched_and_runs_under_inference_mode():
    model, u1, v1, images = features("concat", dtype=torch.float32)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        with torch.inference_mode():
            fast = iterative_inference(
                model, u1.clone(), v1.clone(), images, steps=5, step_size=1e3, tags=TAGS
            )
        assert all(module.training for module in model.modules())
    finally:
        model.eval()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not any(getattr(fast, name).requires_grad for name in COMPARED)
    reference = iterative_inference(
        model,
        u1,
        v1,
        images,
        steps=5,
        step_size=1e3,
        tags=TAGS,
        options=StepOptions(method="autograd"),
    )
    assert_fast_matches_autograd(fast, reference)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_operators_are_built_once_per_set_of_weights_and_refreshed_in_place(optimizer):
    original, u1, v1, images = features("concat", dtype=torch.float32)
    model = DISNet("resnet18", num_classes=5, fusion="concat").eval()
    model.load_state_dict(original.state_dict())
    kwargs = {"steps": 10, "step_size": 1e3, "tags": TAGS, "record_steps": (0, 10)}
    operators = fast_operators(model, u1.shape[-2:], torch.float32)
    memory = {n: t.data_ptr() for n, t in vars(operators.subnets).items() if torch.is_tensor(t)}
    for _ in range(2):
        iterative_inference(model, u1, v1, images, **kwargs)
    assert fast_operators(model, u1.shape[-2:], torch.float32) is operators
    assert operators.subnets.version == 0

    config = OptimizerConfig(name=optimizer, lr=0.1)
    step = build_optimizer(model.backbone, model.head_modules(), config)
    model.labelmap_head.weight.grad = torch.randn_like(model.labelmap_head.weight)
    model.tag_head.weight.grad = torch.randn_like(model.tag_head.weight)
    step.step()
    fast, reference = both_methods(model, u1, v1, images, **kwargs)
    assert operators.subnets.version == 1
    assert_fast_matches_autograd(fast, reference)
    refreshed = vars(operators.subnets)
    assert all(refreshed[name].data_ptr() == pointer for name, pointer in memory.items())

    model.load_state_dict(original.state_dict())
    fast, reference = both_methods(model, u1, v1, images, **kwargs)
    assert operators.subnets.version == 2
    assert_fast_matches_autograd(fast, reference)
