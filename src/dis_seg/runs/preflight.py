"""The validation pass of the Hydra apps: every key, path, checkpoint and device a run needs,
checked before Hydra creates the run's folder.

Each app's config lists :class:`CheckBeforeRun` under ``hydra.callbacks``. Before a run, or
before the first job of a multirun (then for the config of every job, as Hydra's basic sweeper
will compose it; a job may start from the checkpoint of a job before it, as the stages of
``dis-seg-pipeline`` do), it runs the app's check: :func:`check_train_run`,
:func:`check_evaluate_run`, :func:`check_predict_run` or :func:`check_diagnose_run`, each of
which validates the config against its schema (:mod:`dis_seg.runs.schema`) first.
A failed check prints ``error: <message>`` (one line naming the key or file) and exits with
status 2; errors of the run itself exit with status 1 (:func:`reported_errors`). With
``HYDRA_FULL_ERROR=1`` they print their traceback instead. (Hydra turns an exception in a
callback into a warning and runs on: the pass ends the process itself.)
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, OverrideParseException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dis_seg.data.datamodule import has_clean_tags
from dis_seg.data.synthetic import needs_generating
from dis_seg.errors import REFUSED, ConfigError, DataError
from dis_seg.runs.app import composition_error, reported_errors, restore_error_reporting
from dis_seg.runs.checkpoints import (
    check_num_classes,
    inference_step_size,
    inference_tag_weight,
    network_config,
    read_checkpoint,
    read_previous_stage,
    resume_path,
    training_steps,
)
from dis_seg.runs.checks import (
    check_previous_stage,
    check_run_folder,
    check_trainer,
    check_writable,
)
from dis_seg.runs.predict_manifest import check_outputs, plan_outputs, tag_names
from dis_seg.runs.schema import validate

# The output folders of the jobs of this multirun that run before the job being checked: what
# they will write need not exist yet.
EARLIER_JOB_FOLDERS: ContextVar[tuple[Path, ...]] = ContextVar("earlier_job_folders", default=())
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")
ENVIRONMENT = re.compile(r"\$\{oc\.env:(\w+)")


def check_train_run(cfg: DictConfig) -> None:
    """What ``dis-seg-train`` needs: the values, a run folder it may write (one that holds no
    results of another config), the checkpoint it resumes or starts from (stage N from
    stage N − 1's), the data folders (unless it generates the data) and the trainer's
    devices."""
    validate(cfg, "train")
    folder = run_folder()
    check_writable(folder, "hydra.run.dir")
    check_run_folder(cfg, folder, f"a stage-{cfg.stage} run")
    num_classes = cfg.model.num_classes
    resume = resume_path(cfg)
    if resume is not None:
        check_num_classes(read_checkpoint(resume), resume, num_classes)
    elif cfg.stage_config.init_from and not written_by_an_earlier_job(cfg.stage_config.init_from):
        path, key = cfg.stage_config.init_from, f"stages.s{cfg.stage}.init_from"
        checkpoint = read_previous_stage(path, cfg.stage)
        check_num_classes(checkpoint, path, num_classes, key)
        check_previous_stage(checkpoint, path, cfg.stage)
    if cfg.data.generate_if_missing:
        check_synthetic_folder(cfg)
    else:
        roots = {"data.voc_root": True, "data.idw_root": cfg.data.idw_root}
        check_data_folders(cfg, [root for root, used in roots.items() if used])
    check_trainer_devices(cfg)


def check_synthetic_folder(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` when ``data.synthetic.out`` holds something that generating
    the run's data set would write over (:func:`dis_seg.data.synthetic.needs_generating`)."""
    try:
        needs_generating(**OmegaConf.to_container(cfg.data.synthetic, resolve=True))
    except DataError as error:
        raise ConfigError(f"data.synthetic.out: {error}") from None


def run_folder() -> Path:
    """The output folder of the run being checked."""
    return Path(HydraConfig.get().runtime.output_dir)


def written_by_an_earlier_job(path: str) -> bool:
    """Whether ``path`` lies in the output folder of a job of this multirun that runs before
    the one being checked (:data:`EARLIER_JOB_FOLDERS`)."""
    return any(Path(path).resolve().is_relative_to(f) for f in EARLIER_JOB_FOLDERS.get())


def check_evaluate_run(cfg: DictConfig) -> None:
    """What ``dis-seg-eval`` needs: the values, a dis-seg checkpoint of the data's classes with
    a step size for ``tts`` steps, the folders of the test splits (it never generates data)
    and the trainer's devices."""
    validate(cfg, "evaluate")
    folder = run_folder()
    check_writable(folder, "hydra.run.dir")
    check_run_folder(cfg, folder, "an evaluation")
    checkpoint = read_checkpoint(cfg.ckpt_path)
    check_num_classes(checkpoint, cfg.ckpt_path, cfg.data.num_classes)
    hparams = checkpoint["hyper_parameters"]
    inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, cfg.tts)
    roots = {"data.voc_root": cfg.data.test_split, "data.idw_root": cfg.data.idw_test_annotations}
    check_data_folders(cfg, [root for root, used in roots.items() if used])
    check_trainer_devices(cfg)


def check_predict_run(cfg: DictConfig) -> None:
    """What ``dis-seg-predict`` needs: the values, a dis-seg checkpoint with a step size for
    ``tts`` steps and as many classes as ``class_names``, the images of ``input_dir`` and an
    output folder it may write (:func:`~dis_seg.runs.predict_manifest.check_outputs`)."""
    validate(cfg, "predict")
    checkpoint = read_checkpoint(cfg.ckpt_path)
    network = network_config(checkpoint, cfg.ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, cfg.tts)
    tag_names(cfg.class_names, hparams.get("class_names"), network["num_classes"])
    input_dir, run = Path(cfg.input_dir), HydraConfig.get()
    found, _ = plan_outputs(
        input_dir,
        Path(run.runtime.output_dir),
        overlays=cfg.overlays,
        tags_json=cfg.tags_json,
        overwrite=cfg.overwrite,
    )
    if run.mode == RunMode.MULTIRUN:  # Hydra writes multirun.yaml into the sweep folder
        check_outputs(
            Path(run.sweep.dir),
            ["multirun.yaml"],
            input_dir=input_dir,
            inputs=found.images,
            overwrite=cfg.overwrite,
        )


def check_diagnose_run(cfg: DictConfig) -> None:
    """What ``dis-seg-diagnose`` needs: the values, a dis-seg checkpoint of the data's classes
    with a step size for ``tts`` and ``ttr`` steps and a tag weight for ``ttr`` steps, the data
    folders it reads (it never generates data) and a run folder it may write."""
    validate(cfg, "diagnose")
    check_writable(run_folder(), "hydra.run.dir")
    checkpoint = read_checkpoint(cfg.ckpt_path)
    check_num_classes(checkpoint, cfg.ckpt_path, cfg.data.num_classes)
    hparams = checkpoint["hyper_parameters"]
    roots = ["data.idw_root" if cfg.split == "test/idw" else "data.voc_root"]
    ttr = 0
    if has_clean_tags(cfg.data):  # the tag cleaning of tag-only images, IDW's or VOC's own
        ttr = training_steps(cfg.ttr, hparams, cfg.ckpt_path)
        inference_tag_weight(cfg.inference.tag_weight, hparams, cfg.ckpt_path, ttr)
        roots.append("data.idw_root" if cfg.data.idw_root else "data.voc_root")
    inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, max(cfg.tts, ttr))
    check_data_folders(cfg, sorted(set(roots)))


def check_compare_run(cfg: DictConfig) -> None:
    """What ``dis-seg-compare`` needs: the values, and a folder it may write. Each of its
    ``dis-seg-train`` runs passes its own validation before it starts."""
    validate(cfg, "compare")
    check_writable(Path(cfg.compare_dir), "compare_dir")


RUN_CHECKS: dict[str, Callable[[DictConfig], None]] = {
    "train": check_train_run,
    "evaluate": check_evaluate_run,
    "predict": check_predict_run,
    "diagnose": check_diagnose_run,
    "compare": check_compare_run,
}


def check_data_folders(cfg: DictConfig, keys: list[str]) -> None:
    """Raise :class:`ConfigError` unless every data root of ``keys`` is a folder, naming the
    keys and environment variables it is set from."""
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if value is None:
            raise ConfigError(f"{key}: not set{_sources(cfg, key)}; expected a data folder")
        path = Path(value)
        if not path.is_dir():
            state = "is not a folder" if path.exists() else "does not exist"
            raise ConfigError(
                f"{key}: {path} {state}{_sources(cfg, key)}; expected the folder of a data set "
                "(docs/DATA.md)"
            )


def _sources(cfg: DictConfig, key: str) -> str:
    """`` (set from paths.voc_root or the environment variable VOC_ROOT)`` for a value
    interpolated from other keys: the keys it is made of, and theirs in turn, and the
    environment variables they read."""
    raw = OmegaConf.to_container(cfg, resolve=False)

    def value(dotted: str) -> str:
        node: Any = raw
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, str) else ""

    keys: list[str] = []
    pending = [key]
    while pending:  # the keys a value is made of, and the keys they are made of in turn
        found = [k for k in INTERPOLATION.findall(value(pending.pop(0))) if k not in keys]
        keys += found
        pending += found
    variables = [v for k in [key, *keys] for v in ENVIRONMENT.findall(value(k))]
    if not keys and not variables:
        return ""
    named = [*keys, *(f"the environment variable {v}" for v in variables)]
    return f" (set from {' or '.join(named)})"


def check_trainer_devices(cfg: DictConfig) -> None:
    """Build the configured Trainer (no logger, no callbacks) and refuse settings it rejects,
    such as devices this machine lacks, or that dis-seg cannot run (:func:`check_trainer`)."""
    lightning = logging.getLogger("pytorch_lightning")
    level = lightning.level
    lightning.setLevel(logging.WARNING)  # not the device summary of every Trainer
    try:
        trainer = instantiate(cfg.trainer, logger=False, callbacks=[])
    except Exception as error:  # Lightning's MisconfigurationException, ValueError, ...
        cause = str(error.__cause__ or error).strip().splitlines() or [repr(error)]
        node = cfg.trainer
        settings = f"trainer.accelerator={node.get('accelerator')}, devices={node.get('devices')}"
        raise ConfigError(f"trainer: {cause[0]} ({settings})") from error
    finally:
        lightning.setLevel(level)
    check_trainer(cfg, trainer)


class CheckBeforeRun(Callback):
    """Hydra callback (``conf/hydra/callbacks/check_before_run.yaml``): the check of the app's
    config (:data:`RUN_CHECKS`, by the name of the config the app composes, or ``check``) on
    every job's config before Hydra writes anything (module docstring)."""

    def __init__(self, check: str | None = None) -> None:
        self.check_name = check

    def _check_of(self, config: DictConfig) -> Callable[[DictConfig], None]:
        name = self.check_name or config.hydra.job.config_name
        if name not in RUN_CHECKS:
            raise ConfigError(
                f"--config-name: {name} is no config of a dis-seg app; expected one of "
                f"{', '.join(RUN_CHECKS)} (or your own config with hydra.callbacks."
                "check_before_run.check set to one of them)"
            )
        return RUN_CHECKS[name]

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        restore_error_reporting()
        with reported_errors(REFUSED):
            self._check_job(config, "${hydra.run.dir}")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        restore_error_reporting()
        with reported_errors(REFUSED):
            earlier: list[Path] = []
            for job in sweep_job_configs(config):
                sweep = job.hydra.sweep
                folder = (Path(str(sweep.dir)) / str(sweep.subdir)).resolve()
                if folder in earlier:
                    raise ConfigError(
                        f"hydra.sweep.subdir: jobs {earlier.index(folder)} and "
                        f"{job.hydra.job.num} of this multirun would write into one folder, "
                        f"{folder}; put the keys they differ in into hydra.sweep.subdir"
                    )
                token = EARLIER_JOB_FOLDERS.set(tuple(earlier))
                try:
                    self._check_job(job, "${hydra.sweep.dir}/${hydra.sweep.subdir}")
                finally:
                    EARLIER_JOB_FOLDERS.reset(token)
                earlier.append(folder)

    def _check_job(self, config: DictConfig, output_dir: str) -> None:
        """The app's check on the task config of ``config``, with Hydra's runtime as the job
        will see it: its output folder ``output_dir`` (an interpolation, resolved when a check
        reads it, after the values it is made of)."""
        config = copy.deepcopy(config)
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = output_dir
        task = copy.deepcopy(config)
        with read_write(task), open_dict(task):
            del task["hydra"]
        hydra_config = HydraConfig.instance()
        previous = hydra_config.cfg
        hydra_config.set_config(config)
        try:
            self._check_of(config)(task)
        finally:
            hydra_config.cfg = previous


def sweep_job_configs(config: DictConfig) -> list[DictConfig]:
    """The config of every job of the multirun ``config`` as Hydra's basic sweeper and
    launcher compose them; none for another sweeper (then each job checks its values as it
    starts, and predict its output folder)."""
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return []
    loader = GlobalHydra.instance().config_loader()
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += list(config.hydra.overrides.task)
    overrides = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
    jobs = [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]
    configs = []
    for number, job_overrides in enumerate(jobs):
        try:
            job = loader.load_sweep_config(config, list(job_overrides))
        except (ConfigCompositionException, OverrideParseException) as error:
            raise ConfigError(composition_error(error, config.hydra.job.config_name)) from None
        with open_dict(job):
            job.hydra.job.id = job.hydra.job.num = number
        configs.append(job)
    return configs
