"""Validation/test callback: the mIoU-versus-t curve of iterative inference in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torchmetrics import MeanMetric, SumMetric

from dis_seg.inference import METHODS, StepControl, predict, warn_if_stopped
from dis_seg.inference.descent import NO_CONTROL
from dis_seg.metrics import SegmentationMetric
from dis_seg.stages.base import test_splits


def step_schedule(tts: int, schedule: Iterable[int]) -> list[int]:
    """The steps t to evaluate: ``schedule`` ∩ [0, tts], plus ``tts`` itself."""
    if tts < 0:
        raise ValueError(f"tts: expected ≥ 0, got {tts}")
    return sorted({t for t in schedule if 0 <= t <= tts} | {tts})


class IterativeInferenceCallback(pl.Callback):
    """Runs ``tts`` steps of iterative inference on every validation and test batch.

    Reuses the ``u1``/``v1`` that the module's step returns (no second backbone pass) and
    updates one confusion matrix per scheduled step t and split: ``val``, and ``test/<name>``
    for each test loader (:func:`~dis_seg.stages.base.test_splits`: ``test/voc``,
    ``test/idw``). Logs ``{split}/mIoU_t{t}`` and ``{split}/recon_error_t{t}`` for every t, at
    ``t = tts`` the per-class IoU (``{split}/IoU/<class>``) and ``{split}/pixel_accuracy``, and
    ``{split}/non_finite_samples`` (samples whose energy turned non-finite: one warning per
    epoch gives their count); with a W&B logger also a line plot of mIoU against t. Results of
    the last epoch are kept in ``results[split]``.

    ``method``, ``cuda_graphs``, ``control`` and ``compile_steps`` are those of
    :func:`~dis_seg.inference.iterative_inference`.
    """

    def __init__(
        self,
        tts: int,
        step_size: float,
        schedule: Iterable[int],
        method: str = "auto",
        cuda_graphs: bool = True,
        control: StepControl = NO_CONTROL,
        compile_steps: bool = False,
    ) -> None:
        if step_size <= 0:
            raise ValueError(f"step_size: expected > 0, got {step_size}")
        if method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
        self.tts, self.step_size = tts, step_size
        self.method, self.cuda_graphs = method, cuda_graphs
        self.control, self.compile_steps = control, compile_steps
        self.steps = step_schedule(tts, schedule)
        self.splits: list[str] = []
        self.metrics: dict[str, _CurveMetrics] = {}
        self.results: dict[str, dict[str, Any]] = {}

    def on_validation_epoch_start(self, trainer, pl_module):
        self._start(["val"], pl_module)

    def on_test_epoch_start(self, trainer, pl_module):
        self._start(test_splits(trainer), pl_module)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._update(self.splits[dataloader_idx], pl_module, outputs, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._update(self.splits[dataloader_idx], pl_module, outputs, batch)

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._log_epoch(trainer, pl_module)

    def on_test_epoch_end(self, trainer, pl_module):
        self._log_epoch(trainer, pl_module)

    def _start(self, splits: list[str], pl_module) -> None:
        self.splits = splits
        num_classes = pl_module.model.num_classes
        self.metrics = {
            split: _CurveMetrics(num_classes, self.steps).to(pl_module.device) for split in splits
        }

    def _update(self, split: str, pl_module, outputs: dict[str, torch.Tensor], batch) -> None:
        images, labelmap = batch["image"], batch["labelmap"]
        prediction = predict(
            pl_module.model,
            images,
            steps=self.tts,
            step_size=self.step_size,
            features=(outputs["u1"], outputs["v1"]),
            record_steps=self.steps,
            method=self.method,
            cuda_graphs=self.cuda_graphs,
            warn_non_finite=False,
            control=self.control,
            compile_steps=self.compile_steps,
        )
        metrics = self.metrics[split]
        metrics.stopped.update(prediction.result.stopped.sum())
        metrics.samples.update(len(images))
        for t in self.steps:
            metrics.segmentation[str(t)].update(prediction.labelmap(t), labelmap)
            metrics.recon_error[str(t)].update(prediction.result.energy[t])

    def _log_epoch(self, trainer: pl.Trainer, pl_module) -> None:
        for split in self.splits:
            self._log_split(split, trainer, pl_module)

    def _log_split(self, split: str, trainer: pl.Trainer, pl_module) -> None:
        metrics = self.metrics[split]
        results: dict[str, Any] = {}
        for t in self.steps:
            scores = metrics.segmentation[str(t)].compute()
            results[f"mIoU_t{t}"] = float(scores["mIoU"])
            results[f"recon_error_t{t}"] = float(metrics.recon_error[str(t)].compute())
            if t == self.tts:
                results["pixel_accuracy"] = float(scores["pixel_accuracy"])
                results["per_class_IoU"] = dict(
                    zip(pl_module.class_names, scores["per_class_IoU"].tolist(), strict=True)
                )
        stopped, samples = (int(metric.compute()) for metric in (metrics.stopped, metrics.samples))
        results["non_finite_samples"] = stopped
        warn_if_stopped(stopped, samples, f"{split} iterative inference")
        for name, value in results.items():
            if name == "per_class_IoU":
                for class_name, iou in value.items():
                    pl_module.log_synced(f"{split}/IoU/{class_name}", iou)
            else:
                pl_module.log_synced(f"{split}/{name}", value)
        self.results[split] = results
        self._plot_curve(split, trainer, results)

    def _plot_curve(self, split: str, trainer: pl.Trainer, results: dict[str, Any]) -> None:
        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if not loggers or not trainer.is_global_zero:
            return
        import wandb

        table = wandb.Table(
            columns=["t", "mIoU"], data=[[t, results[f"mIoU_t{t}"]] for t in self.steps]
        )
        plot = wandb.plot.line(table, "t", "mIoU", title=f"{split} mIoU against t")
        for logger in loggers:
            logger.experiment.log({f"{split}/mIoU_curve": plot}, commit=False)


class _CurveMetrics(torch.nn.Module):
    """One confusion matrix and one mean reconstruction error per scheduled step t, and the
    counts of samples and of samples stopped by a non-finite energy."""

    def __init__(self, num_classes: int, steps: list[int]) -> None:
        super().__init__()
        self.segmentation = torch.nn.ModuleDict(
            {str(t): SegmentationMetric(num_classes) for t in steps}
        )
        self.recon_error = torch.nn.ModuleDict({str(t): MeanMetric() for t in steps})
        self.stopped, self.samples = SumMetric(), SumMetric()
