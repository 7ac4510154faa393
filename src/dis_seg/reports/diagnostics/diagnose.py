"""Why iterative inference helps or hurts a checkpoint: what ``dis-seg-diagnose ckpt_path=...
[split=val] [tts=N]`` runs.

Runs the labelled images of ``split`` through the network and ``tts`` steps, and the tag-only
training images (where the data holds their clean tags) through ``ttr`` steps with their noisy
tags, then writes ``report.md``, ``diagnostics.json`` and the plots of
:mod:`dis_seg.reports.diagnostics` in the run folder; with a logger (``logger=wandb``, ``csv``) also
logs the summary numbers and, to W&B, the plots.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import move_data_to_device
from torch.utils.data import DataLoader
from tqdm import tqdm

from dis_seg.data import DISDataModule
from dis_seg.data.datamodule import has_clean_tags
from dis_seg.errors import ConfigError
from dis_seg.inference import StepOptions
from dis_seg.reports.diagnostics import SegmentationDiagnostics, TagDiagnostics, write_report
from dis_seg.runs.building import build_loggers, finish_loggers
from dis_seg.runs.checkpoints import (
    inference_step_size,
    inference_tag_weight,
    load_module,
    training_steps,
)
from dis_seg.runs.evaluation import evaluation_data
from dis_seg.runs.predict_folder import torch_device
from dis_seg.runs.schema import validate
from dis_seg.stages import Stage3Module

CLEANING_RULE = ("tag_threshold", "tag_margin", "suppress_absent")


def diagnose(cfg: DictConfig) -> dict[str, Any]:
    """Diagnose ``cfg.ckpt_path`` on ``cfg.split``; write the report, return its results."""
    validate(cfg, "diagnose")
    pl.seed_everything(cfg.seed, workers=True)
    module, hparams = load_module(cfg.ckpt_path, num_classes=cfg.data.num_classes)
    device = torch_device(cfg.device)
    model = module.model.to(device)
    datamodule = evaluation_data(cfg, module, **only_split(cfg.split))
    cleans_tags = has_clean_tags(datamodule.hparams)
    ttr = training_steps(cfg.ttr, hparams, cfg.ckpt_path) if cleans_tags else 0
    steps = max(cfg.tts, ttr)
    step_size = inference_step_size(cfg.inference.step_size, hparams, cfg.ckpt_path, steps)
    options = StepOptions.from_config(cfg.inference)
    radius = cfg.boundary_radius or model.backbone.output_stride
    segmentation = SegmentationDiagnostics(
        model, cfg.tts, step_size, cfg.inference.schedule, radius, options
    )
    for batch in _batches(labelled_loader(datamodule, cfg.split), cfg.split, device):
        segmentation.update(batch["image"], batch["labelmap"])
    class_names = list(module.class_names or datamodule.class_names)
    results = {
        "ckpt_path": str(cfg.ckpt_path),
        "split": cfg.split,
        "control": OmegaConf.to_container(cfg.inference.control),
        "boundary_radius": radius,
        "segmentation": segmentation.results(class_names),
        "tags": None,
    }
    if cleans_tags:
        tags = TagDiagnostics(
            model,
            ttr,
            step_size,
            inference_tag_weight(cfg.inference.tag_weight, hparams, cfg.ckpt_path, ttr),
            **cleaning_rule(cfg, hparams),
            options=options,
        )
        for batch in _batches(datamodule.tag_only_dataloader(), "tag-only images", device):
            known = batch["has_clean_tags"]  # hidden labelmaps of 255 are ignored pixels
            if known.any():
                images, noisy, clean = (batch[k][known] for k in ("image", "tags", "clean_tags"))
                tags.update(images, noisy, clean, batch["hidden_labelmap"][known])
        results["tags"] = tags.results(class_names)
    folder = Path(HydraConfig.get().runtime.output_dir)
    plots = write_report(folder, results)
    _log(cfg, results, plots)
    print(f"wrote {folder / 'report.md'}")
    return results


UNREAD_TEST_SPLIT = {"test/voc": "idw_test_annotations", "test/idw": "test_split"}


def only_split(split: str) -> dict[str, None]:
    """Data module arguments that leave out the test split that ``split`` does not read."""
    return {UNREAD_TEST_SPLIT[split]: None} if split in UNREAD_TEST_SPLIT else {}


def cleaning_rule(cfg: DictConfig, hparams: dict[str, Any]) -> dict[str, Any]:
    """``tag_threshold``, ``tag_margin`` and ``suppress_absent`` of the tag cleaning: those of
    ``cfg`` where set, else the checkpoint's (``hparams`` of a stage-3 checkpoint), else stage
    3's defaults."""
    defaults = inspect.signature(Stage3Module).parameters
    return {
        name: next(
            value
            for value in (cfg[name], hparams.get(name), defaults[name].default)
            if value is not None
        )
        for name in CLEANING_RULE
    }


def labelled_loader(datamodule: DISDataModule, split: str) -> DataLoader:
    """The loader of ``split``: ``val``, ``test/voc`` or ``test/idw``."""
    if split == "val":
        datamodule.setup("validate")
        return datamodule.val_dataloader()
    datamodule.setup("test")
    name = split.removeprefix("test/")
    if name not in datamodule.test_names:
        raise ConfigError(f"split: the data has no {split} split (it has {datamodule.test_names})")
    loaders = datamodule.test_dataloader()
    loaders = loaders if isinstance(loaders, list) else [loaders]
    return loaders[datamodule.test_names.index(name)]


def _batches(loader: DataLoader, what: str, device: torch.device):
    for batch in tqdm(loader, desc=what, leave=False):
        yield move_data_to_device(batch, device)


def _log(cfg: DictConfig, results: dict[str, Any], plots: list[Path]) -> None:
    """The summary numbers to every configured logger, the plots to W&B."""
    loggers = build_loggers(cfg)
    segmentation, tags = results["segmentation"], results["tags"]
    metrics = {
        f"diagnose/energy/{k}": v for k, v in segmentation["energy"].items() if k != "per_image"
    }
    for t, iou in segmentation["iou"].items():
        metrics[f"diagnose/mIoU_t{t}"] = iou["mIoU"]
    for t, row in segmentation["changes"]["per_step"].items():
        metrics.update({f"diagnose/changes_t{t}/{k}": v for k, v in row.items()})
    if tags is not None:
        for name in ("noisy", "cleaned"):
            metrics.update(
                {f"diagnose/tags/{name}_{k}": tags[name][k] for k in ("precision", "recall", "F1")}
            )
        for name, value in (tags.get("pseudo_labels") or {}).items():
            metrics[f"diagnose/pseudo/{name}"] = value
    try:
        for logger in loggers:
            logger.log_metrics(metrics)
            if isinstance(logger, pl.loggers.WandbLogger):
                for plot in plots:
                    logger.log_image(f"diagnose/{plot.stem}", images=[str(plot)])
            logger.finalize("success")
    finally:
        finish_loggers(loggers)
