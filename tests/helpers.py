"""What the tests share: composing a config, running the entry points on tiny synthetic data as
a user would, a quiet CPU Trainer, reference metrics in numpy, a user's own config folder, and
the comparison of two descents."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from filelock import FileLock
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dis_seg import CONFIG_DIR
from dis_seg.inference import StepOptions, iterative_inference

REPO = Path(__file__).resolve().parents[1]


# Configs


def compose_config(app: str | None, *overrides: str, hydra: bool = False) -> DictConfig:
    """The config of the Hydra app ``app`` (``train``, ``evaluate``, ``predict``, ...; None: no
    primary config, only what ``overrides`` add) composed from the package's config folder with
    ``overrides``, as its entry point composes it; with ``hydra``, its ``hydra`` node too."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose(app, list(overrides), return_hydra_config=hydra)


# Entry points


def tiny_overrides(root: Path) -> list[str]:
    """Overrides for a fast run (``debug=tiny``: 32×32 images, a few images and steps), with
    data and outputs under ``root``."""
    return [
        "debug=tiny",
        f"paths.data_dir={root / 'data'}",
        f"paths.output_root={root / 'outputs'}",
    ]


def tiny_voc_root(root: Path) -> Path:
    """The VOC2012 folder of the ``debug=tiny`` data set of :func:`tiny_overrides` (``root``)."""
    return root / "data" / "tiny" / "synthetic" / "VOC2012"


# Under pytest-xdist the workers share the machine's cores: each worker's torch, and every
# process a test starts, takes one share (``OMP_NUM_THREADS``).
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // XDIST_WORKERS)
ENV = {"WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1", "PATH": "/usr/bin:/bin"}
if XDIST_WORKERS > 1:
    ENV["OMP_NUM_THREADS"] = str(THREADS)
# The entry points run this checkout's code, whichever dis_seg the environment has installed.
CHECKOUT_ENV = {**ENV, "PYTHONPATH": str(REPO / "src")}


def start_entry_point(module: str, *overrides: str, log: Path) -> subprocess.Popen:
    """Start ``python -m <module> <overrides>`` from the repository root; output into ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, *overrides],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=CHECKOUT_ENV,
        )


def run_entry_point(
    module: str, *overrides: str, check: bool = True, full_error: bool = True
) -> subprocess.CompletedProcess:
    """``python -m <module> <overrides>`` from the repository root; output captured. Errors
    come with their traceback (``HYDRA_FULL_ERROR=1``) unless not ``full_error``."""
    result = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=CHECKOUT_ENV
        if full_error
        else {k: v for k, v in CHECKOUT_ENV.items() if k != "HYDRA_FULL_ERROR"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def refused_run(app, arguments: list[str], monkeypatch) -> int:
    """Run the Hydra app ``app`` (a ``dis_seg.cli`` module) in this process, with command-line
    ``arguments`` that its validation pass refuses; return its exit status. (The pass ends the
    run before it loads or writes anything.)"""
    monkeypatch.setattr(sys, "argv", [app.__name__, *arguments])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    try:
        app.main()
    except SystemExit as stopped:
        return stopped.code
    raise AssertionError(f"{app.__name__} {' '.join(arguments)} ran")


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder ``name`` filled by ``build(folder)`` once per test session: under pytest-xdist
    the first worker to ask builds it in the session's shared temporary folder while the others
    wait, and a build that failed is started again from an empty folder by the next to ask."""
    base = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        base = base.parent
    folder, built = base / name, base / f"{name}.built"
    with FileLock(base / f"{name}.lock"):
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


def copy_run(source: Path, target: Path) -> Path:
    """Copy the run folder ``source`` to ``target``, hard-linking its checkpoints (runs replace
    a checkpoint, never rewrite it in place, so the source's stay as they are); returns
    ``target``."""

    def copy(source_file: str, target_file: str) -> None:
        if source_file.endswith(".ckpt"):
            os.link(source_file, target_file)
        else:
            shutil.copy2(source_file, target_file)

    shutil.copytree(source, target, copy_function=copy)
    return target


def folder_state(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Training in this process


def quiet_trainer(**options: Any) -> pl.Trainer:
    """A CPU ``pl.Trainer`` without logger, checkpoints, progress bar or model summary;
    ``options`` add to or override these."""
    defaults = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return pl.Trainer(**{**defaults, **options})


# Reference metrics, independent of dis_seg.models.metrics


def numpy_miou(predictions, labelmaps, num_classes: int) -> float:
    """VOC mIoU of H×W class-id arrays against labelmaps (255 ignored): IoU from one confusion
    matrix over all pixels, averaged over the classes in the truth or the prediction."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for prediction, labelmap in zip(predictions, labelmaps, strict=True):
        keep = labelmap != 255
        pairs = labelmap[keep].astype(np.int64) * num_classes + prediction[keep]
        confusion += np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, -1)
    hits = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - hits
    return float((hits[union > 0] / union[union > 0]).mean())


# A user's own config folder, composed with the package's configs (docs/CONFIG.md)

USER_CONFIGS = {
    "experiment/my_synthetic.yaml": """\
# @package _global_
# The package's synthetic experiment on the user's own variant of its data.
defaults:
  - synthetic
  - override /data: my_synthetic
experiment_name: my_synthetic
""",
    "data/my_synthetic.yaml": """\
defaults:
  - synthetic
  - _self_
colour_jitter: 0.1
""",
    "paths/my_cluster.yaml": """\
defaults:
  - default
  - _self_
data_dir: {data_dir}
""",
    "hydra/launcher/my_launcher.yaml": """\
# Hydra's basic launcher (the jobs of a multirun one after the other) under the user's name.
defaults:
  - basic
""",
}


def write_user_configs(folder: Path, data_dir: Path) -> Path:
    """Write a user's config folder into ``folder``: ``experiment=my_synthetic`` (the package's
    ``synthetic`` on ``data=my_synthetic``, its data with ``colour_jitter: 0.1``),
    ``paths=my_cluster`` (``data_dir`` set, the rest the package's) and
    ``hydra/launcher=my_launcher``; returns ``folder``."""
    for name, text in USER_CONFIGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(data_dir=data_dir))
    return folder


# Two descents compared: fast steps against the autograd reference

# Largest |fast − autograd| allowed, relative to the largest |autograd| value.
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}
COMPARED = ("u1", "v1", "u3", "v3", "z3", "energy")
# Tags of 3 images of 5 classes (background always on).
TAGS = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 0, 0, 1], [1, 0, 0, 1, 0.0]])


def both_methods(model, u1, v1, images, **kwargs):
    """[fast, autograd]: the iterative inference of each method with the same ``kwargs``."""
    return [
        iterative_inference(model, u1, v1, images, options=StepOptions(method=method), **kwargs)
        for method in ("fast", "autograd")
    ]


def assert_fast_matches_autograd(fast, reference, names=COMPARED):
    """The results ``names`` and the recorded ``u3_at`` of ``fast`` are those of ``reference``
    within :data:`TOLERANCE` of its dtype."""
    tolerance = TOLERANCE[reference.u3.dtype]
    pairs = [(name, getattr(fast, name), getattr(reference, name)) for name in names]
    pairs += [(f"u3 after {t} steps", fast.u3_at[t], u3) for t, u3 in reference.u3_at.items()]
    assert fast.u3_at.keys() == reference.u3_at.keys()
    for name, ours, theirs in pairs:
        error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
        assert error < tolerance, f"{name}: relative difference {error:.1e}"
