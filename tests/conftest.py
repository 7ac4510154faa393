"""Fixtures shared by the whole suite."""

import os

import pytest
import torch

from dis_seg.models import DISNet
from tests.helpers import (
    THREADS,
    XDIST_WORKERS,
    built_once,
    compose_config,
    run_entry_point,
    tiny_overrides,
)

if XDIST_WORKERS > 1:
    torch.set_num_threads(THREADS)
    os.environ["OMP_NUM_THREADS"] = str(THREADS)  # the processes a test starts (notebooks)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The notebooks and every test of the ``pipeline`` fixture (trained in a subprocess) are
    marked ``slow``, before ``-m`` selects; tests marked ``cuda`` are skipped on a machine
    without a CUDA GPU."""
    for item in items:
        if item.path.suffix == ".ipynb" or "pipeline" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (make gpu-check runs it on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def compose():
    """``compose(app, *overrides, hydra=False)``: the config of the Hydra app ``app``
    (``train``, ``evaluate``, ...; None: only what the overrides add) as its entry point
    composes it, with its ``hydra`` node when ``hydra`` (:func:`tests.helpers.compose_config`)."""
    return compose_config


@pytest.fixture
def tiny_model() -> DISNet:
    """A random-init ResNet-18 DIS network with 5 classes (D = 512)."""
    torch.manual_seed(0)
    return DISNet("resnet18", num_classes=5, output_stride=8)


@pytest.fixture
def diverging_features() -> tuple[DISNet, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(model, u1, v1, images): a random ResNet-18 net whose subnet-2 reads logits, and 3
    images of 32×40 of which the second has a finite energy (~1e32) whose steps of size 1e4
    overflow float32."""
    torch.manual_seed(0)
    model = DISNet("resnet18", num_classes=5, recon_input="logits")
    images = torch.randn(3, 3, 32, 40)
    with torch.no_grad():
        u1, v1 = model.encode(images)
    images[1] *= 1e17
    return model, u1, v1, images


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """``dis-seg-pipeline`` on tiny data (the three stages as one multirun, then their
    summary); returns the run folder, whose ``stage1/``, ``stage2/``, ``stage3/`` hold what
    ``dis-seg-train stage=N`` writes; trained once for all pytest-xdist workers. Do not
    modify."""

    def train(root):
        run_entry_point("dis_seg.cli.pipeline", "logger=csv", *tiny_overrides(root))

    return built_once(tmp_path_factory, "pipeline", train) / "outputs" / "synthetic"
