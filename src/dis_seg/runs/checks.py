"""Checks of the Hydra config before anything heavy runs; each error starts with the key to fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue
from pytorch_lightning.accelerators import CPUAccelerator
from pytorch_lightning.strategies.launchers import (
    _MultiProcessingLauncher,
    _SubprocessScriptLauncher,
)

from dis_seg.errors import ConfigError
from dis_seg.inference import METHODS
from dis_seg.models.backbone import RESNETS
from dis_seg.models.dis_net import RECON_SCALES
from dis_seg.stages.reconstruction import RECON_FITS

STAGES = (1, 2, 3)
DIAGNOSED_SPLITS = ("val", "test/voc", "test/idw")


def check_train_config(cfg: DictConfig) -> None:
    """The values ``dis-seg-train`` needs, checked before data or network is built."""
    stage = _value(cfg, "stage")
    if isinstance(stage, bool) or stage not in STAGES:
        raise ConfigError(f"stage: expected 1, 2 or 3, got {stage!r}")
    for key in ("ttr", "tts"):
        _check_count(cfg, key)
    _check_positive(cfg, "inference.step_size")
    _check_inference_options(cfg)
    _check_choice(cfg, "model.backbone", RESNETS)
    _check_choice(cfg, "model.recon_scale", RECON_SCALES)
    _check_choice(cfg, "recon_fit", RECON_FITS)
    fraction = _value(cfg, "data.labelled_fraction")
    if not _is_number(fraction) or not 0 < fraction <= 1:
        raise ConfigError(f"data.labelled_fraction: expected a number in (0, 1], got {fraction!r}")
    _check_count(cfg, "checkpoints.every_n_steps")


def check_evaluate_config(cfg: DictConfig) -> None:
    """The values ``dis-seg-eval`` needs, checked before the checkpoint is read."""
    _check_path(cfg, "ckpt_path")
    _check_count(cfg, "tts")
    if _value(cfg, "inference.step_size") is not None:
        _check_positive(cfg, "inference.step_size")
    _check_inference_options(cfg)


def check_diagnose_config(cfg: DictConfig) -> None:
    """The values ``dis-seg-diagnose`` needs, checked before the checkpoint is read."""
    check_evaluate_config(cfg)
    _check_count(cfg, "ttr")
    _check_choice(cfg, "split", DIAGNOSED_SPLITS)
    _check_choice(cfg, "device", ("auto", "cpu", "cuda"))
    if _value(cfg, "boundary_radius") is not None:
        _check_count(cfg, "boundary_radius", minimum=1)
    threshold = _value(cfg, "tag_threshold")
    if not _is_number(threshold) or not 0 < threshold < 1:
        raise ConfigError(f"tag_threshold: expected a number in (0, 1), got {threshold!r}")
    margin = _value(cfg, "tag_margin")
    if not _is_number(margin) or not 0 <= margin < 1:
        raise ConfigError(f"tag_margin: expected a number in [0, 1), got {margin!r}")


def check_trainer(cfg: DictConfig, trainer: pl.Trainer) -> None:
    """Refuse trainer settings that cannot run dis-seg's entry points.

    SyncBatchNorm runs on GPUs only; spawned processes keep the callback's results to
    themselves; Lightning's DDP relaunches the command line, which under a local Hydra multirun
    would start the whole sweep again.
    """
    if isinstance(trainer.accelerator, CPUAccelerator) and cfg.trainer.get("sync_batchnorm"):
        raise ConfigError(
            "trainer.sync_batchnorm: SyncBatchNorm runs on GPUs only; for DDP on CPUs add "
            "trainer.sync_batchnorm=false"
        )
    launcher = trainer.strategy.launcher
    if isinstance(launcher, _MultiProcessingLauncher):
        raise ConfigError(
            "trainer.strategy: spawned or forked processes (ddp_spawn, ddp_fork, ...) keep the "
            "test metrics to themselves; use trainer=ddp"
        )
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if isinstance(launcher, _SubprocessScriptLauncher) and multirun:
        raise ConfigError(
            "trainer.devices: DDP with several local devices cannot run inside a local multirun "
            "(-m), as Lightning relaunches the command line; sweep with hydra/launcher=slurm "
            "(one SLURM job per setting), or start each setting as its own run"
        )


def check_predict_config(cfg: DictConfig) -> None:
    """The values ``dis-seg-predict`` needs, checked before the checkpoint is read."""
    for key in ("ckpt_path", "input_dir", "output_dir"):
        _check_path(cfg, key)
    check_evaluate_config(cfg)
    for key in ("overlays", "tags_json", "overwrite"):
        _check_bool(cfg, key)
    alpha = _value(cfg, "overlay_alpha")
    if not _is_number(alpha) or not 0 <= alpha <= 1:
        raise ConfigError(f"overlay_alpha: expected a number in [0, 1], got {alpha!r}")
    names = _value(cfg, "class_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(name, str) for name in names)
    ):
        raise ConfigError(f"class_names: expected null or a list of names, got {names!r}")
    _check_device(cfg, "device")


def _value(cfg: DictConfig, key: str) -> Any:
    try:
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue:
        raise ConfigError(f"{key}: missing; set it on the command line ({key}=...)") from None
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_count(cfg: DictConfig, key: str, minimum: int = 0) -> int:
    value = _value(cfg, key)
    if not _is_int(value) or value < minimum:
        raise ConfigError(f"{key}: expected an integer ≥ {minimum}, got {value!r}")
    return value


def _check_inference_options(cfg: DictConfig) -> None:
    """The keys of the ``inference`` group that train and evaluate share."""
    _check_choice(cfg, "inference.method", METHODS)
    for key in ("inference.cuda_graphs", "inference.compile_steps"):
        value = _value(cfg, key)
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    for t in _value(cfg, "inference.schedule"):
        if not _is_int(t) or t < 0:
            raise ConfigError(f"inference.schedule: expected integers ≥ 0, got {t!r}")
    monotone = _value(cfg, "inference.control.monotone")
    if not isinstance(monotone, bool):
        raise ConfigError(f"inference.control.monotone: expected true or false, got {monotone!r}")
    for key in ("inference.control.max_change", "inference.control.stall_tolerance"):
        if _value(cfg, key) is not None:
            _check_positive(cfg, key)


def _check_path(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a path, got {value!r}")


def _check_bool(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _check_device(cfg: DictConfig, key: str) -> None:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` of a GPU this machine has."""
    value = _value(cfg, key)
    if value == "auto":
        return
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"{key}: unknown device {value!r}; expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}: {value} but this machine has no CUDA GPU; expected auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(
            f"{key}: {value} but this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )


def _check_positive(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if not _is_number(value) or not value > 0:
        raise ConfigError(f"{key}: expected a number > 0, got {value!r}")


def _check_choice(cfg: DictConfig, key: str, choices: Sequence[str]) -> None:
    value = _value(cfg, key)
    if value not in choices:
        raise ConfigError(f"{key}: unknown value {value!r}; expected one of {tuple(choices)}")
