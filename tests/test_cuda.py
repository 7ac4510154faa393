"""Iterative inference and training on a CUDA GPU: graph replays and eager descents against the
autograd reference, no host synchronisation, weights that change under a captured graph, and
bf16 training. Skipped without CUDA; ``make gpu-check`` runs them."""

import copy

import pytest
import torch
from torch.utils.data import DataLoader

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.data.random_batch import random_training_batch
from dis_seg.inference import StepControl, StepOptions, iterative_inference
from dis_seg.inference.graphs import _CACHES
from dis_seg.models import DISNet
from dis_seg.stages import DISModule, Stage3Module
from tests.helpers import assert_fast_matches_autograd, quiet_trainer

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")
STEP_SIZES = {1: 5e3, 10: 5e2, 30: 2e2}


@pytest.fixture(autouse=True)
def full_fp32():
    """TF32 off, so that fp32 convs and products on both paths round like the CPU's."""
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def network(batch: int, fusion: str = "sum"):
    """A random ResNet-18 DIS net on the GPU (C = 5), ``batch`` images of 64×96, their
    features (8×12) and random tags (background always on)."""
    generator = torch.Generator().manual_seed(batch)
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5, fusion=fusion).eval().to(CUDA)
    images = torch.randn(batch, 3, 64, 96, generator=generator).to(CUDA)
    tags = (torch.rand(batch, 5, generator=generator) < 0.5).float().to(CUDA)
    tags[:, 0] = 1
    with torch.no_grad():
        u1, v1 = model.encode(images)
    return model, u1, v1, images, tags


def graph_count(model) -> int:
    return len(_CACHES[model].graphs) if model in _CACHES else 0


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("tagged", [False, True], ids=["reconstruction", "with_tags"])
def test_graph_replays_take_the_autograd_steps(batch, tagged):
    model, u1, v1, images, tags = network(batch, fusion="concat")
    for steps, step_size in STEP_SIZES.items():
        kwargs = {
            "steps": steps,
            "step_size": step_size,
            "tags": tags if tagged else None,
            "record_steps": (0, steps // 2, steps),
        }
        reference = iterative_inference(
            model,
            u1,
            v1,
            images,
            options=StepOptions(method="autograd", cuda_graphs=False),
            **kwargs,
        )
        assert (reference.energy[-1] < reference.energy[0]).all()
        for method in ("fast", "autograd"):
            before = graph_count(model)
            eager, captured, replayed = (
                iterative_inference(
                    model, u1, v1, images, options=StepOptions(method=method), **kwargs
                )
                for _ in range(3)
            )
            assert graph_count(model) == before + 1, f"{method}: no graph was captured"
            for result in (eager, captured, replayed):
                assert_fast_matches_autograd(result, reference)
            torch.testing.assert_close(replayed.u3, eager.u3, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(replayed.energy, eager.energy, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "control",
    [StepControl(monotone=True), StepControl(max_change=0.05), StepControl(stall_tolerance=0.02)],
    ids=["monotone", "max_change", "stall"],
)
def test_controlled_graph_replays_take_the_controlled_autograd_steps(control):
    model, u1, v1, images, _ = network(8)
    kwargs = {"steps": 30, "step_size": 2e3, "record_steps": (0, 10)}
    reference = iterative_inference(
        model,
        u1,
        v1,
        images,
        options=StepOptions(method="autograd", cuda_graphs=False, control=control),
        **kwargs,
    )
    for method in ("fast", "autograd"):
        options = StepOptions(method=method, control=control)
        results = [
            iterative_inference(model, u1, v1, images, options=options, **kwargs) for _ in range(3)
        ]
        for result in results:
            assert_fast_matches_autograd(result, reference, names=("u3", "v3", "z3", "energy"))


@pytest.mark.parametrize("tagged", [False, True], ids=["reconstruction", "with_tags"])
def test_compiled_graph_replays_take_the_autograd_steps_without_host_synchronisation(tagged):
    model, u1, v1, images, tags = network(8, fusion="concat")
    kwargs = {"steps": 10, "step_size": 5e2, "tags": tags if tagged else None}
    kwargs |= {"record_steps": (0, 5, 10), "warn_non_finite": False}
    reference = iterative_inference(
        model, u1, v1, images, options=StepOptions(method="autograd", cuda_graphs=False), **kwargs
    )
    before = graph_count(model)
    eager, captured = (
        iterative_inference(
            model, u1, v1, images, options=StepOptions(method="fast", compile_steps=True), **kwargs
        )
        for _ in range(2)
    )
    assert graph_count(model) == before + 1, "no graph was captured"
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        replayed = iterative_inference(
            model, u1, v1, images, options=StepOptions(method="fast", compile_steps=True), **kwargs
        )
    finally:
        torch.cuda.set_sync_debug_mode(0)
    for result in (eager, captured, replayed):
        assert_fast_matches_autograd(result, reference)


def test_descents_do_not_synchronise_with_the_host():
    model, u1, v1, images, tags = network(8)
    kwargs = {"steps": 30, "step_size": 1e3, "tags": tags, "warn_non_finite": False}
    for method in ("fast", "autograd"):
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            eager = iterative_inference(
                model, u1, v1, images, options=StepOptions(method=method), **kwargs
            )
        finally:
            torch.cuda.set_sync_debug_mode(0)
        iterative_inference(
            model, u1, v1, images, options=StepOptions(method=method), **kwargs
        )  # captures
        torch.cuda.set_sync_debug_mode("error")
        try:
            replayed = iterative_inference(
                model, u1, v1, images, options=StepOptions(method=method), **kwargs
            )
        finally:
            torch.cuda.set_sync_debug_mode(0)
        torch.testing.assert_close(replayed.u3, eager.u3, rtol=1e-5, atol=1e-6)


def test_replayed_graph_follows_an_optimizer_step_of_every_subnet():
    model, u1, v1, images, tags = network(8, fusion="concat")
    kwargs = {"steps": 10, "step_size": 2e3, "tags": tags, "record_steps": (0, 10)}
    for _ in range(3):
        iterative_inference(model, u1, v1, images, **kwargs)
    heads = [p for module in model.head_modules() for p in module.parameters()]
    optimizer = torch.optim.SGD(heads, lr=0.05)
    for parameter in heads:
        parameter.grad = torch.randn_like(parameter) * parameter.detach().abs().mean()
    optimizer.step()
    graphs = graph_count(model)
    replayed = iterative_inference(model, u1, v1, images, **kwargs)
    assert graph_count(model) == graphs
    reference = iterative_inference(
        model, u1, v1, images, options=StepOptions(method="autograd", cuda_graphs=False), **kwargs
    )
    assert_fast_matches_autograd(replayed, reference)


def test_a_diverging_sample_stops_alike_in_eager_and_replayed_descents(diverging_features):
    model, u1, v1, images = (
        copy.deepcopy(t).to(CUDA) if isinstance(t, torch.nn.Module) else t.to(CUDA)
        for t in diverging_features
    )
    kwargs = {"steps": 6, "step_size": 1e4, "warn_non_finite": False}
    eager, _, replayed = (iterative_inference(model, u1, v1, images, **kwargs) for _ in range(3))
    assert replayed.stopped.tolist() == eager.stopped.tolist() == [False, True, False]
    torch.testing.assert_close(replayed.energy, eager.energy, rtol=1e-5, atol=0)
    assert torch.isfinite(replayed.u3).all()


def validate(module: DISModule, batches: list[dict], cuda_graphs: bool) -> dict:
    callback = IterativeInferenceCallback(
        tts=10,
        step_size=20.0,
        schedule=(0, 1, 5, 10),
        options=StepOptions(cuda_graphs=cuda_graphs),
    )
    trainer = quiet_trainer(accelerator="gpu", devices=1, callbacks=[callback])
    trainer.validate(module, DataLoader(batches, batch_size=None), verbose=False)
    return callback.results["val"]


def test_validation_metrics_are_the_same_with_and_without_graphs():
    torch.manual_seed(0)
    module = DISModule(model={"backbone": "resnet18", "num_classes": 5})
    generator = torch.Generator().manual_seed(0)
    batches = [random_training_batch(4, 64, 5, generator=generator) for _ in range(4)]
    with_graphs = validate(module, batches, cuda_graphs=True)
    assert graph_count(module.model) == 1
    without = validate(module, batches, cuda_graphs=False)
    for name, value in without.items():
        if isinstance(value, float):
            assert with_graphs[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no")
def test_stage3_bf16_training_steps_on_cuda_are_finite_and_replay_their_graph():
    torch.manual_seed(0)
    module = Stage3Module(
        model={"backbone": "resnet18", "num_classes": 5}, recon_fit="truth", ttr=5, step_size=10.0
    )
    generator = torch.Generator().manual_seed(0)
    batches = [random_training_batch(8, 64, 5, generator=generator) for _ in range(4)]
    trainer = quiet_trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=4)
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    assert trainer.global_step == 4
    assert graph_count(module.model) == 1
    losses = {name: float(value) for name, value in trainer.callback_metrics.items()}
    assert losses["train/pseudo_seg_loss"] > 0
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values()), losses
