"""Per-sample step control of iterative inference (inference.control)."""

import pytest
import torch

from dis_seg.inference import StepOptions, iterative_inference
from dis_seg.inference.descent import StepControl
from dis_seg.models import DISNet


@pytest.fixture(scope="module")
def features():
    """A float64 random-init ResNet-18 DIS net (C = 5), 4 images of 32×40 and their
    features."""
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5).eval().double()
    images = torch.randn(4, 3, 32, 40, dtype=torch.float64)
    with torch.no_grad():
        u1, v1 = model.encode(images)
    return model, u1, v1, images


def descend(features, control, steps=12, step_size=3e4, method="autograd", **kwargs):
    return iterative_inference(
        *features,
        steps=steps,
        step_size=step_size,
        options=StepOptions(method=method, control=control),
        **kwargs,
    )


def rms_change(result):
    initial = result.u3_at[0]
    return (result.u3 - initial).square().flatten(1).mean(dim=1).sqrt()


def test_monotone_control_undoes_a_step_that_raises_the_energy_and_stops_there(features):
    free = descend(features, StepControl(), record_steps=(0,))
    assert (free.energy[1:] > free.energy[:-1]).any(), "the step size must overshoot somewhere"
    controlled = descend(features, StepControl(monotone=True), record_steps=(0,))
    assert (controlled.energy[1:] <= controlled.energy[:-1]).all()
    for sample in range(4):
        energy = controlled.energy[:, sample]
        rises = (free.energy[1:, sample] > free.energy[:-1, sample]).nonzero()
        if len(rises):
            first = int(rises[0])
            assert torch.equal(energy[: first + 1], free.energy[: first + 1, sample])
            assert (energy[first:] == energy[first]).all()
    assert not controlled.stopped.any(), "stopped is kept for non-finite energies"


def test_max_change_keeps_each_sample_within_its_distance_of_the_start(features):
    free = descend(features, StepControl(), step_size=2e3, record_steps=(0,))
    limit = float(rms_change(free).median())
    capped = descend(features, StepControl(max_change=limit), step_size=2e3, record_steps=(0,))
    distance = rms_change(capped)
    assert (distance <= limit).all()
    assert (distance < rms_change(free)).any()
    roomy = StepControl(max_change=10 * float(rms_change(free).max()))
    unlimited = descend(features, roomy, step_size=2e3, record_steps=(0,))
    assert torch.equal(unlimited.u3, free.u3)


def test_stall_tolerance_stops_a_sample_once_a_step_gains_too_little(features):
    free = descend(features, StepControl(), steps=20, step_size=500.0)
    # Between the relative gains of the free steps (4e-4 to 6e-4): each sample stalls at a
    # step of its own, or never.
    tolerance = 4.5e-4
    stalled = descend(features, StepControl(stall_tolerance=tolerance), steps=20, step_size=500.0)
    gains = (free.energy[:-1] - free.energy[1:]) / free.energy[:-1].abs()
    stops = []
    for sample in range(4):
        small = (gains[:, sample] < tolerance).nonzero()
        last = int(small[0]) + 1 if len(small) else 20
        energy = stalled.energy[:, sample]
        assert torch.equal(energy[: last + 1], free.energy[: last + 1, sample])
        assert (energy[last:] == energy[last]).all()
        stops.append(last)
    assert min(stops) < 20, "no sample stalled"
    assert len(set(stops)) > 1, "the samples must stall at different steps"


@pytest.mark.parametrize(
    ("control", "step_size"),
    [
        (StepControl(monotone=True), 1e4),  # steps of 1e4 raise the energy of a sample
        (StepControl(max_change=0.05), 2e3),
        (StepControl(stall_tolerance=1.5e-3), 2e3),  # steps of 2e3 gain 1e-3 to 2.4e-3
    ],
    ids=["monotone", "max_change", "stall"],
)
def test_fast_and_autograd_take_the_same_controlled_steps(features, control, step_size):
    kwargs = {"steps": 12, "step_size": step_size, "record_steps": (0, 5)}
    fast = descend(features, control, method="fast", **kwargs)
    reference = descend(features, control, method="autograd", **kwargs)
    free = descend(features, StepControl(), method="autograd", **kwargs)
    assert not torch.equal(reference.energy, free.energy), "the control must stop a step"
    for name in ("u3", "v3", "z3", "energy"):
        ours, theirs = getattr(fast, name), getattr(reference, name)
        assert ((ours - theirs).abs().max() / theirs.abs().max()) < 1e-9, name
    assert torch.allclose(fast.u3_at[5], reference.u3_at[5], rtol=1e-9, atol=1e-12)
