"""Test-time evaluation of a checkpoint: what ``dis-seg-eval`` runs.

Runs every test split of the data (VOC, and IDW when configured) through the network and
:class:`~dis_seg.callbacks.IterativeInferenceCallback` (one pass gives every scheduled t ≤ tts)
and writes ``metrics.json`` in the run folder, one block per split under ``test``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from dis_seg.data import DISDataModule
from dis_seg.data.fingerprint import data_record
from dis_seg.runs.building import evaluation_callback
from dis_seg.runs.checkpoints import inference_step_size, load_module, read_checkpoint
from dis_seg.runs.checks import check_trainer
from dis_seg.runs.results import (
    evaluation_results,
    result_lines,
    write_confusions,
    write_metrics,
)
from dis_seg.runs.schema import validate
from dis_seg.stages import DISModule
from dis_seg.stages.base import checkpoint_record

log = logging.getLogger(__name__)


def evaluation_data(cfg: DictConfig, module: DISModule, **overrides: Any) -> DISDataModule:
    """The configured data (with the data module arguments ``overrides``), its evaluation
    images padded to a multiple of the output stride of the network being evaluated (the
    checkpoint's, whatever the data config says); never generated (that is training's
    business): missing data is an error."""
    output_stride = module.model.backbone.output_stride
    return instantiate(
        cfg.data,
        output_stride=output_stride,
        generate_if_missing=False,
        _convert_="all",
        **overrides,
    )


def evaluate(cfg: DictConfig) -> dict:
    """Test ``cfg.ckpt_path`` with ``cfg.tts`` steps; return the contents of metrics.json."""
    validate(cfg, "evaluate")
    pl.seed_everything(cfg.seed, workers=True)
    module, hparams = load_module(cfg.ckpt_path, num_classes=cfg.data.num_classes)
    datamodule = evaluation_data(cfg, module)
    step_size = inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, cfg.tts)
    evaluation = evaluation_callback(cfg, cfg.tts, step_size)
    trainer = instantiate(cfg.trainer, callbacks=[evaluation], logger=False)
    check_trainer(cfg, trainer)
    data = data_record(datamodule.hparams)
    trained_on = checkpoint_record(read_checkpoint(cfg.ckpt_path))["data"]
    if trained_on and trained_on["fingerprint"] != data["fingerprint"] and trainer.is_global_zero:
        log.warning(
            "evaluating on data %s (%s), not the data the checkpoint was trained on (%s, %s)",
            data["fingerprint"],
            data["voc_root"],
            trained_on["fingerprint"],
            trained_on["voc_root"],
        )
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = {
        "ckpt_path": str(cfg.ckpt_path),
        "ttr": cfg.ttr if cfg.ttr is not None else hparams.get("ttr"),
        "tts": cfg.tts,
        "data": data,
        **evaluation_results(evaluation),
    }
    if trainer.is_global_zero:
        for line in result_lines(metrics):
            log.info(line)
        folder = Path(HydraConfig.get().runtime.output_dir)
        write_metrics(folder / "metrics.json", metrics)
        write_confusions(folder, evaluation)
    return metrics
