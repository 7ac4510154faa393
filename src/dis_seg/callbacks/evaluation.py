"""The one evaluation of dis-seg, for validation, training runs' tests and ``dis-seg-eval``:
each labelled batch through the network, ``tts`` steps of iterative inference and every
metric of a split, the mIoU-versus-t curve included, in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torchmetrics import MeanMetric, SumMetric

from dis_seg.inference import StepOptions, step_schedule, warn_if_stopped
from dis_seg.inference.options import DEFAULT_STEPS
from dis_seg.inference.protocols import WHOLE, EvaluationProtocol, predict_views
from dis_seg.models.metrics import SegmentationMetric, tag_average_precision
from dis_seg.stages.base import test_splits


class IterativeInferenceCallback(pl.Callback):
    """Scores every validation and test batch: the network's plain prediction and ``tts``
    steps of iterative inference under ``protocol``
    (:class:`~dis_seg.inference.protocols.EvaluationProtocol`, whole images by default).

    One split at a time: ``val``, and ``test/<name>`` for each test loader
    (:func:`~dis_seg.stages.base.test_splits`: ``test/voc``, ``test/idw``). Per split it logs
    ``{split}/mIoU_t{t}`` and ``{split}/recon_error_t{t}`` for every scheduled t, at t = tts the
    per-class IoU (``{split}/IoU/<class>``) and ``{split}/pixel_accuracy``, the tag mAP of
    the plain prediction (``{split}/tag_mAP``) and
    ``{split}/non_finite_samples`` (samples whose energy turned non-finite: one warning per
    epoch gives their count); with a W&B logger also a line plot of mIoU against t.
    ``results[split]`` keeps the last epoch's values: a test split's is its block of
    ``metrics.json``. With ``per_image``, ``confusions[split]`` also keeps each test image's
    confusion matrix at t = 0 and t = tts (the paired bootstrap of :mod:`dis_seg.reports.compare`
    resamples them): ``{"ids": [N ids], "t0": N×C×C, "t<tts>": N×C×C}`` (int64 arrays, rows
    truth, columns prediction). The backbone runs under the trainer's precision (e.g. bf16
    autocast); the steps always in fp32.
    """

    def __init__(
        self,
        tts: int,
        step_size: float,
        schedule: Iterable[int],
        options: StepOptions = DEFAULT_STEPS,
        protocol: EvaluationProtocol = WHOLE,
        per_image: bool = False,
    ) -> None:
        self.tts, self.step_size = tts, step_size
        self.options, self.protocol, self.per_image = options, protocol, per_image
        self.steps = step_schedule(tts, schedule)
        self.splits: list[str] = []
        self.metrics: dict[str, _SplitMetrics] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.confusions: dict[str, dict[str, Any]] = {}
        self._per_image: dict[str, list[tuple[list[str], dict[int, torch.Tensor]]]] = {}

    def on_validation_epoch_start(self, trainer, pl_module):
        self._start(["val"], pl_module)

    def on_test_epoch_start(self, trainer, pl_module):
        self._start(test_splits(trainer), pl_module)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        self._update(self.splits[dataloader_idx], trainer, pl_module, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._update(self.splits[dataloader_idx], trainer, pl_module, batch)

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._log_epoch(trainer, pl_module)

    def on_test_epoch_end(self, trainer, pl_module):
        self._log_epoch(trainer, pl_module)

    def _start(self, splits: list[str], pl_module) -> None:
        self.splits = splits
        self._per_image = {split: [] for split in splits}
        num_classes = pl_module.model.num_classes
        self.metrics = {
            split: _SplitMetrics(num_classes, self.steps).to(pl_module.device) for split in splits
        }

    def _update(self, split: str, trainer: pl.Trainer, pl_module, batch: dict[str, Any]) -> None:
        images, labelmap, tags = batch["image"], batch["labelmap"], batch["tags"]
        with trainer.precision_plugin.forward_context():
            prediction = predict_views(
                pl_module.model,
                images,
                self.protocol,
                steps=self.tts,
                step_size=self.step_size,
                record_steps=self.steps,
                options=self.options,
            )
        metrics = self.metrics[split]
        metrics.stopped.update(prediction.stopped.sum())
        metrics.samples.update(len(images))
        for t in self.steps:
            metrics.segmentation[str(t)].update(prediction.labelmap(t), labelmap)
            metrics.recon_error[str(t)].update(prediction.energy[t])
        metrics.tag_map.update(prediction.tag_scores[:, 1:].float(), tags[:, 1:].long())
        if self.per_image and split.startswith("test"):
            classes = pl_module.model.num_classes
            per_step = {
                t: image_confusions(prediction.labelmap(t), labelmap, classes).cpu()
                for t in (0, self.tts)
            }
            self._per_image[split].append((list(batch["id"]), per_step))

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
        results["tag_mAP"] = float(metrics.tag_map.compute())
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
        if self._per_image.get(split):
            self.confusions[split] = _gathered(self._per_image[split], (0, self.tts))
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


def image_confusions(
    prediction: torch.Tensor, labelmap: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """B×C×C confusion matrices (rows truth, columns prediction) of B×H×W predicted and true
    labelmaps, one per image; ignored pixels (255) left out."""
    batch, cells = len(labelmap), num_classes * num_classes
    valid = labelmap < num_classes
    index = labelmap.long() * num_classes + prediction.long()
    index = index + torch.arange(batch, device=index.device).view(-1, 1, 1) * cells
    counts = torch.bincount(index[valid], minlength=batch * cells)
    return counts.view(batch, num_classes, num_classes)


def _gathered(
    parts: list[tuple[list[str], dict[int, torch.Tensor]]], steps: tuple[int, ...]
) -> dict[str, Any]:
    """The per-image confusion matrices of every batch (of every DDP rank) in id order."""
    local = (
        [image for ids, _ in parts for image in ids],
        {t: torch.cat([per_step[t] for _, per_step in parts]) for t in steps},
    )
    everyone = [local]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        everyone = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(everyone, local)
    ids = [image for rank_ids, _ in everyone for image in rank_ids]
    order = sorted(range(len(ids)), key=ids.__getitem__)
    merged = {f"t{t}": torch.cat([rank[t] for _, rank in everyone])[order].numpy() for t in steps}
    return {"ids": [ids[i] for i in order], **merged}


class _SplitMetrics(torch.nn.Module):
    """One confusion matrix and one mean reconstruction error per scheduled step t, the tag
    mAP of the plain prediction, and the counts of samples and of samples stopped
    by a non-finite energy (torchmetrics: synced across DDP ranks)."""

    def __init__(self, num_classes: int, steps: list[int]) -> None:
        super().__init__()
        self.segmentation = torch.nn.ModuleDict(
            {str(t): SegmentationMetric(num_classes) for t in steps}
        )
        self.recon_error = torch.nn.ModuleDict({str(t): MeanMetric() for t in steps})
        self.tag_map = tag_average_precision(num_classes)
        self.stopped, self.samples = SumMetric(), SumMetric()
