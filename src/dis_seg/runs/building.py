"""Building a run's objects from its config: callbacks, loggers, the evaluation."""

from __future__ import annotations

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dis_seg.callbacks import IterativeInferenceCallback
from dis_seg.inference import StepOptions
from dis_seg.inference.protocols import EvaluationProtocol


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


def evaluation_callback(cfg: DictConfig, tts: int, step_size: float) -> IterativeInferenceCallback:
    """The evaluation every train and evaluate run has, whatever the ``callbacks`` group holds:
    the metrics of every scheduled step t ≤ ``tts`` (``inference.*``) on validation and test,
    under the protocol of the ``evaluation`` group."""
    return IterativeInferenceCallback(
        tts=tts,
        step_size=step_size,
        schedule=cfg.inference.schedule,
        options=StepOptions.from_config(cfg.inference),
        protocol=evaluation_protocol(cfg.evaluation, cfg.data.crop_size),
        per_image=cfg.evaluation.per_image,
    )


def evaluation_protocol(evaluation: DictConfig, crop_size: int) -> EvaluationProtocol:
    """The protocol of an ``evaluation`` config group; a ``window`` of ``null`` is the
    training crop (``crop_size``), a ``stride`` of ``null`` two thirds of the window."""
    window = evaluation.window or crop_size
    return EvaluationProtocol(
        mode=evaluation.mode,
        window=window,
        stride=evaluation.stride or max(1, round(2 * window / 3)),
        scales=tuple(evaluation.scales),
        flip=evaluation.flip,
    )
