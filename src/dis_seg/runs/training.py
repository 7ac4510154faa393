"""Training one DIS stage, then testing it: what ``dis-seg-train`` runs.

Writes ``metrics.json`` (stage, ttr, tts, the data it was computed on, the evaluation protocol,
the test metrics and, for stage 3, the pseudo-label and tag-cleaning statistics of the last
epoch) in the run's output folder. ``ckpt_path=last``
resumes the stage from its ``last.ckpt`` (global step, optimizer and LR scheduler state, the
position in the training batches) when there is one. SIGTERM or SIGINT stops training at the
next batch boundary, writes ``last.ckpt`` and exits with status 143.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException

from dis_seg.data.fingerprint import data_record
from dis_seg.runs.building import (
    build_callbacks,
    build_loggers,
    evaluation_callback,
    finish_loggers,
)
from dis_seg.runs.checkpoints import (
    check_num_classes,
    load_previous_stage,
    read_checkpoint,
    resume_path,
)
from dis_seg.runs.checks import check_trainer
from dis_seg.runs.results import (
    evaluation_results,
    result_lines,
    write_confusions,
    write_metrics,
)
from dis_seg.runs.schema import validate

INTERRUPTED = 128 + signal.SIGTERM
TRAINING_METRICS = "training_metrics.json"

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Fit the configured stage and test it; return the contents of metrics.json."""
    validate(cfg, "train")
    stage = cfg.stage_config
    resume = resume_path(cfg)
    loggers = build_loggers(cfg)
    evaluation = evaluation_callback(cfg, stage.test_tts, cfg.inference.step_size)
    try:
        callbacks = [evaluation, *build_callbacks(cfg, bool(loggers))]
        trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
        check_trainer(cfg, trainer)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data, _convert_="all")
        module = instantiate(stage.module, _convert_="all")
        if resume is not None:
            checkpoint = read_checkpoint(resume)
            check_num_classes(checkpoint, resume, module.num_classes)
        elif stage.init_from:
            load_previous_stage(module.model, stage.init_from, cfg.stage)
        return _fit_and_test(cfg, trainer, module, datamodule, resume, evaluation)
    finally:
        finish_loggers(loggers)


def _fit_and_test(cfg, trainer, module, datamodule, resume, evaluation) -> dict:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        data = data_record(datamodule.hparams)
        for logger in trainer.loggers:
            logger.log_hyperparams({"data_record": data})
        training = _training_statistics(trainer, output_dir / TRAINING_METRICS, resume)
        trainer.test(module, datamodule=datamodule, verbose=False)
    except SIGTERMException:
        if trainer.is_global_zero:
            log.warning(
                "stopped by a signal after step %d; resume with ckpt_path=last",
                trainer.global_step,
            )
        raise SystemExit(INTERRUPTED) from None
    metrics = {
        "stage": cfg.stage,
        "ttr": cfg.ttr if cfg.stage == 3 else 0,
        "tts": cfg.stage_config.test_tts,
        "data": data,
        **evaluation_results(evaluation),
    }
    if training:
        metrics["training"] = training
    if trainer.is_global_zero:
        for line in result_lines(metrics):
            log.info(line)
        write_metrics(output_dir / "metrics.json", metrics)
        write_confusions(output_dir, evaluation)
    return metrics


def _training_statistics(trainer: pl.Trainer, path: Path, resume: Path | None) -> dict:
    """The pseudo-label and tag-cleaning statistics of the last epoch, kept in ``path`` for a
    run that resumes after its training ended (a kill during the test)."""
    training = {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if name.startswith(("pseudo/", "tags/"))
    }
    if training and trainer.is_global_zero:
        write_metrics(path, training)
    elif not training and resume is not None and path.is_file():
        training = json.loads(path.read_text())
    return training
