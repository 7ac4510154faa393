"""Pieces shared by the Hydra entry points: building objects from the config, metrics.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.inference import StepControl


def build_callbacks(cfg: DictConfig, with_loggers: bool) -> list[pl.Callback]:
    """Every entry of the ``callbacks`` group (without those that need a logger when there
    is none)."""
    callbacks = [instantiate(entry) for entry in (cfg.get("callbacks") or {}).values()]
    if with_loggers:
        return callbacks
    return [c for c in callbacks if not isinstance(c, pl.callbacks.LearningRateMonitor)]


def build_loggers(cfg: DictConfig) -> list[pl.loggers.Logger]:
    """Every entry of the ``logger`` group, each given the resolved config."""
    loggers = [instantiate(entry) for entry in (cfg.get("logger") or {}).values()]
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return loggers


def finish_loggers(loggers: list[pl.loggers.Logger]) -> None:
    """Close W&B runs so that each job of a multirun gets its own run."""
    for logger in loggers:
        if isinstance(logger, pl.loggers.WandbLogger):
            logger.experiment.finish()


def step_options(cfg: DictConfig) -> dict[str, Any]:
    """How the ``inference`` group says the steps are taken, as keyword arguments of
    :func:`~dis_seg.inference.iterative_inference` and the calls built on it: ``method``,
    ``cuda_graphs``, ``control`` and ``compile_steps``."""
    return {
        "method": cfg.inference.method,
        "cuda_graphs": cfg.inference.cuda_graphs,
        "control": StepControl(**cfg.inference.control),
        "compile_steps": cfg.inference.compile_steps,
    }


def evaluation_callback(cfg: DictConfig, tts: int, step_size: float) -> IterativeInferenceCallback:
    """The evaluation every train and evaluate run has, whatever the ``callbacks`` group holds:
    the mIoU of every scheduled step t ≤ ``tts`` (``inference.*``) on validation and test."""
    return IterativeInferenceCallback(
        tts=tts, step_size=step_size, schedule=cfg.inference.schedule, **step_options(cfg)
    )


def test_metrics(trainer: pl.Trainer, evaluation: IterativeInferenceCallback) -> dict[str, Any]:
    """The final test metrics, one block per test split (``voc``, ``idw``), under the names of
    ``metrics.json``.

    A block holds ``mIoU_t{t}`` for every scheduled t, ``per_class_IoU`` (by class name),
    ``pixel_accuracy`` at t = tts and ``non_finite_samples`` from ``evaluation``; ``tag_mAP``
    and ``recon_error`` of the plain prediction from the module. mIoU values are fractions.
    """
    blocks: dict[str, Any] = {}
    for split, results in evaluation.results.items():
        kind, _, test_set = split.partition("/")
        if kind != "test":
            continue
        block = dict(results)
        for name in ("tag_mAP", "recon_error"):
            value = trainer.callback_metrics.get(f"{split}/{name}")
            if value is not None:
                block[name] = float(value)
        blocks[test_set or "test"] = block
    return blocks


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """Write ``metrics`` as JSON; NaN (a class absent from truth and prediction) becomes null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(metrics), indent=2) + "\n")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
