"""Checks of what a run meets beyond its config's values (:mod:`dis_seg.runs.schema`): the
trainer it builds, the folders it writes into and the checkpoints it starts from; each error
starts with the key to fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.accelerators import CPUAccelerator
from pytorch_lightning.strategies.launchers import (
    _MultiProcessingLauncher,
    _SubprocessScriptLauncher,
)

from dis_seg.errors import ConfigError
from dis_seg.stages.base import checkpoint_record

# Keys that say where a run's files are, how it logs or how it shows progress: a run folder is
# of the same config whatever they are.
NOT_COMPARED = (
    "ckpt_path",
    "paths",
    "logger",
    "callbacks.wandb_images",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
)
# A run resumed from its checkpoint may also train longer than it was to.
NOT_COMPARED_ON_RESUME = ("trainer.max_epochs", "trainer.max_steps", "epochs")
RESULTS = ("metrics.json", "checkpoints")


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


def differing_keys(recorded: Any, wanted: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config containers."""
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        keys = sorted(set(recorded) | set(wanted), key=str)
        return [
            key
            for name in keys
            for key in differing_keys(recorded.get(name), wanted.get(name), f"{prefix}{name}.")
        ]
    return [] if recorded == wanted else [prefix.rstrip(".")]


def skipped(key: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the dotted ``key`` is one of ``prefixes`` or lies under one."""
    return any(key == prefix or key.startswith(f"{prefix}.") for prefix in prefixes)


def check_run_folder(cfg: DictConfig, folder: Path, what: str) -> None:
    """Refuse to run into ``folder`` when it holds the results (``metrics.json``, checkpoints)
    of a run of another config: one whose recorded ``.hydra/config.yaml`` differs from ``cfg``
    in a key that decides results (all but :data:`NOT_COMPARED`, and when resuming
    :data:`NOT_COMPARED_ON_RESUME`), or that records no config. ``what`` names the run
    (``a stage-1 run``)."""
    if not any((folder / name).exists() for name in RESULTS):
        return
    recorded_file = folder / ".hydra" / "config.yaml"
    remedy = "choose another run_name=... (or hydra.run.dir=...), or remove the folder"
    if not recorded_file.is_file():
        raise ConfigError(
            f"hydra.run.dir: {folder} holds results of {what} but no {recorded_file} to tell "
            f"their config; {remedy}"
        )
    recorded = OmegaConf.to_container(OmegaConf.load(recorded_file), resolve=False)
    wanted = OmegaConf.to_container(cfg, resolve=False)
    ignored = NOT_COMPARED + (NOT_COMPARED_ON_RESUME if cfg.get("ckpt_path") else ())
    differ = [key for key in differing_keys(recorded, wanted) if not skipped(key, ignored)]
    if differ:
        raise ConfigError(
            f"hydra.run.dir: {folder} holds {what} of another config (keys "
            f"{', '.join(differ[:6])} differ), which this run would replace; {remedy}"
        )


def check_writable(folder: Path, key: str) -> None:
    """Refuse a run folder (the value of config ``key``) that cannot be created or written: its
    nearest existing folder is not a writable folder."""
    existing = next(p for p in (folder, *folder.parents) if os.path.lexists(p))
    if not existing.is_dir():
        raise ConfigError(f"{key}: {existing} is a file, expected a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}: {existing} is not writable; choose a folder you can write")


def check_previous_stage(checkpoint: dict[str, Any], path: str | Path, stage: int) -> None:
    """Refuse a checkpoint that stage ``stage`` starts from unless stage − 1 wrote it."""
    written_by = checkpoint_record(checkpoint)["stage"]
    if written_by != stage - 1:
        raise ConfigError(
            f"stages.s{stage}.init_from: {path} is a stage-{written_by} checkpoint; stage "
            f"{stage} starts from a stage-{stage - 1} checkpoint (`make train-stage{stage - 1}` "
            "writes one)"
        )
