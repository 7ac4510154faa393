"""Why iterative inference helps or hurts a checkpoint: three diagnostics.

- **Energy**: does the reconstruction energy prefer the truth? The energy of the ground-truth
  labelmap, fed to subnet-2 as it would see a labelmap (per-cell class fractions on the grid of
  u3), against that of the prediction before and after the steps, per image.
- **Changes**: what the steps change. Per step t, the pixels that turn right→wrong and
  wrong→right against t = 0, split by the change of predicted class (background→object,
  object→background, object→object) and by region (within ``boundary_radius`` pixels of a
  class edge of the truth, or interior); per-class IoU at t = 0 and at the last step.
- **Tags**: the noisy tags of tag-only images and those that ``ttr`` steps clean, each against
  the clean tags: precision, recall and F1 per class and over all (micro).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.inference import StepOptions, predict, step_schedule
from dis_seg.inference.iterative import reconstruction_size
from dis_seg.inference.options import DEFAULT_STEPS
from dis_seg.models import DISNet, upsample_logits
from dis_seg.models.losses import downsample_image, reconstruction_loss
from dis_seg.models.metrics import SegmentationMetric, TagAgreement
from dis_seg.stages.pseudo_labels import make_pseudo_labels
from dis_seg.stages.reconstruction import reconstruct_truth, truth_fractions

DIRECTIONS = ("right_to_wrong", "wrong_to_right")
KINDS = ("background_to_object", "object_to_background", "object_to_object")
REGIONS = ("boundary", "interior")


def boundary_mask(labelmap: torch.Tensor, radius: int) -> torch.Tensor:
    """B×H×W bool: pixels within ``radius`` pixels (a (2r+1)² window) of a pixel of another
    class in the labelmap B×H×W (ignored pixels count as a class of their own)."""
    values = labelmap.float()[:, None]
    window = 2 * radius + 1
    highest = F.max_pool2d(values, window, stride=1, padding=radius)
    lowest = -F.max_pool2d(-values, window, stride=1, padding=radius)
    return (highest != lowest)[:, 0]


@dataclass
class StepChanges:
    """Pixel counts per step t: ``counts[t]`` is a 2×3×2 tensor over (direction, kind, region)
    in the orders of :data:`DIRECTIONS`, :data:`KINDS` and :data:`REGIONS`; ``pixels``: the
    labelled pixels seen."""

    counts: dict[int, torch.Tensor] = field(default_factory=dict)
    pixels: int = 0

    def update(
        self,
        initial: torch.Tensor,
        refined: dict[int, torch.Tensor],
        truth: torch.Tensor,
        boundary: torch.Tensor,
    ) -> None:
        """initial, refined[t], truth, boundary: B×H×W (class ids, class ids, labelmap, bool)."""
        valid = truth != IGNORE_INDEX
        self.pixels += int(valid.sum())
        was_right = initial == truth
        for t, labels in refined.items():
            is_right = labels == truth
            direction = torch.stack([was_right & ~is_right, ~was_right & is_right])
            kind = torch.stack(
                [
                    (initial == 0) & (labels > 0),
                    (initial > 0) & (labels == 0),
                    (initial > 0) & (labels > 0) & (initial != labels),
                ]
            )
            region = torch.stack([boundary, ~boundary])
            cells = direction[:, None, None] & kind[None, :, None] & region[None, None] & valid
            counts = cells.flatten(3).sum(dim=3).cpu()
            self.counts[t] = self.counts.get(t, torch.zeros_like(counts)) + counts

    def totals(self) -> dict[int, dict[str, int]]:
        """Per t: right→wrong and wrong→right over all kinds and regions, and each split."""
        table: dict[int, dict[str, int]] = {}
        for t in sorted(self.counts):
            counts = self.counts[t]
            row = {d: int(counts[i].sum()) for i, d in enumerate(DIRECTIONS)}
            for i, direction in enumerate(DIRECTIONS):
                for j, kind in enumerate(KINDS):
                    row[f"{direction}/{kind}"] = int(counts[i, j].sum())
                for k, region in enumerate(REGIONS):
                    row[f"{direction}/{region}"] = int(counts[i, :, k].sum())
            table[t] = row
        return table


@dataclass
class EnergyDiagnostics:
    """Per-image reconstruction energies: of the truth, of the prediction at t = 0 and after
    the last step (lists of floats, in image order)."""

    truth: list[float] = field(default_factory=list)
    initial: list[float] = field(default_factory=list)
    refined: list[float] = field(default_factory=list)

    def truth_below(self, prediction: list[float]) -> float:
        """The share of images whose truth has a lower energy than their ``prediction``."""
        pairs = list(zip(self.truth, prediction, strict=True))
        return sum(truth < predicted for truth, predicted in pairs) / max(len(pairs), 1)

    def summary(self) -> dict[str, float]:
        def mean(values: list[float]) -> float:
            return sum(values) / max(len(values), 1)

        return {
            "images": len(self.truth),
            "truth": mean(self.truth),
            "prediction_t0": mean(self.initial),
            "prediction_tts": mean(self.refined),
            "truth_below_prediction_t0": self.truth_below(self.initial),
            "truth_below_prediction_tts": self.truth_below(self.refined),
        }


class SegmentationDiagnostics:
    """The energy and step-change diagnostics of one labelled split, batch by batch.

    Args:
        model: the network (eval mode).
        steps: ``tts``, the steps taken; ``record``: the schedule of steps t whose changes are
            counted (:func:`~dis_seg.inference.step_schedule`: those up to
            ``steps``, and ``steps`` itself).
        boundary_radius: the width in pixels of the boundary band around class edges.
        step_size: the gradient step of the iterative inference.
        options: how its steps are taken (:class:`~dis_seg.inference.StepOptions`).
    """

    def __init__(
        self,
        model: DISNet,
        steps: int,
        step_size: float,
        record: Iterable[int],
        boundary_radius: int,
        options: StepOptions = DEFAULT_STEPS,
    ) -> None:
        self.model, self.steps, self.step_size = model, steps, step_size
        self.record = [t for t in step_schedule(steps, record) if t > 0]
        self.boundary_radius, self.options = boundary_radius, options
        self.energy = EnergyDiagnostics()
        self.changes = StepChanges()
        self.iou = {t: SegmentationMetric(model.num_classes) for t in {0, steps}}

    def update(self, images: torch.Tensor, labelmap: torch.Tensor) -> None:
        """images B×3×H×W (normalised), labelmap B×H×W."""
        prediction = predict(
            self.model,
            images,
            steps=self.steps,
            step_size=self.step_size,
            record_steps=(0, *self.record),
            options=self.options,
        )
        grid = reconstruction_size(self.model, prediction.result.u3_at[0].shape[-2:])
        target = downsample_image(images, grid)
        fractions = truth_fractions(labelmap, grid, self.model.num_classes)
        predicted = upsample_logits(prediction.result.u3_at[0], grid).softmax(dim=1)
        fractions = torch.where(fractions.isnan(), predicted, fractions)
        with torch.no_grad():
            z3 = reconstruct_truth(self.model, fractions)
            truth_energy = reconstruction_loss(z3, target, reduction="none")
        energies = prediction.result.energy
        self.energy.truth += truth_energy.tolist()
        self.energy.initial += energies[0].tolist()
        self.energy.refined += energies[-1].tolist()
        initial = prediction.labelmap(0)
        refined = {t: prediction.labelmap(t) for t in self.record}
        boundary = boundary_mask(labelmap, self.boundary_radius)
        self.changes.update(initial, refined, labelmap, boundary)
        self.iou[0].update(initial, labelmap)
        if self.steps:
            self.iou[self.steps].update(refined[self.steps], labelmap)

    def results(self, class_names: list[str]) -> dict[str, Any]:
        """The energy summary and per-image values, the change counts per t, and mIoU and
        per-class IoU at t = 0 and t = ``steps``."""
        iou = {}
        for t, metric in self.iou.items():
            scores = metric.compute()
            per_class = scores["per_class_IoU"].tolist()
            iou[t] = {
                "mIoU": float(scores["mIoU"]),
                "per_class_IoU": dict(zip(class_names, per_class, strict=True)),
            }
        return {
            "steps": self.steps,
            "step_size": self.step_size,
            "energy": {**self.energy.summary(), "per_image": vars(self.energy)},
            "changes": {"pixels": self.changes.pixels, "per_step": self.changes.totals()},
            "iou": iou,
        }


class TagDiagnostics:
    """Noisy against cleaned tags of tag-only images, each against their clean tags, and their
    pseudo labels before and after the steps against their hidden labelmaps.

    Cleaned tags and pseudo labels are those of stage 3 (:func:`make_pseudo_labels`): ``ttr``
    steps of iterative inference with the noisy tags, then the rule of ``tag_threshold`` and
    ``tag_margin`` on the refined scores (the pseudo labels restricted to the cleaned tags with
    ``suppress_absent``); ``options``: how the steps are taken
    (:class:`~dis_seg.inference.StepOptions`).
    """

    def __init__(
        self,
        model: DISNet,
        ttr: int,
        step_size: float,
        tag_weight: float,
        tag_threshold: float,
        tag_margin: float = 0.0,
        suppress_absent: bool = True,
        options: StepOptions = DEFAULT_STEPS,
    ) -> None:
        self.model, self.ttr, self.step_size = model, ttr, step_size
        self.tag_weight, self.tag_threshold = tag_weight, tag_threshold
        self.tag_margin, self.suppress_absent = tag_margin, suppress_absent
        self.options = options
        classes = model.num_classes
        self.agreement = {
            (name, average): TagAgreement(classes, average=average)
            for name in ("noisy", "cleaned")
            for average in ("micro", "none")
        }
        self.pseudo_iou = {t: SegmentationMetric(classes) for t in ("t0", "ttr")}
        self.saw_hidden = False

    def update(
        self,
        images: torch.Tensor,
        tags: torch.Tensor,
        clean_tags: torch.Tensor,
        hidden_labelmap: torch.Tensor | None = None,
    ) -> None:
        """images B×3×H×W, noisy tags and clean tags B×C (multi-hot), and the hidden labelmaps
        B×H×W where the data has them (255 where not)."""
        with torch.no_grad():
            u1, v1 = self.model.encode(images)
        pseudo = make_pseudo_labels(
            self.model,
            u1,
            v1,
            images,
            tags,
            ttr=self.ttr,
            step_size=self.step_size,
            tag_weight=self.tag_weight,
            tag_threshold=self.tag_threshold,
            tag_margin=self.tag_margin,
            suppress_absent=self.suppress_absent,
            options=self.options,
        )
        for (name, _), agreement in self.agreement.items():
            agreement.update(tags if name == "noisy" else pseudo.tags, clean_tags)
        if hidden_labelmap is not None:
            self.saw_hidden = True
            self.pseudo_iou["t0"].update(pseudo.initial_labelmap, hidden_labelmap)
            self.pseudo_iou["ttr"].update(pseudo.labelmap, hidden_labelmap)

    def results(self, class_names: list[str]) -> dict[str, Any]:
        """Per tag set (noisy, cleaned): micro precision/recall/F1 and each per object class;
        with hidden labelmaps, the pseudo labels' mIoU at t = 0 and t = ``ttr``."""
        results: dict[str, Any] = {
            "ttr": self.ttr,
            "tag_weight": self.tag_weight,
            "tag_threshold": self.tag_threshold,
            "tag_margin": self.tag_margin,
        }
        for name in ("noisy", "cleaned"):
            overall = self.agreement[(name, "micro")].compute()
            per_class = self.agreement[(name, "none")].compute()
            results[name] = {score: float(value) for score, value in overall.items()}
            results[name]["per_class"] = {
                class_name: {score: float(values[index]) for score, values in per_class.items()}
                for index, class_name in enumerate(class_names[1:])
            }
        if self.saw_hidden:
            results["pseudo_labels"] = {
                f"mIoU_{t}": float(metric.compute()["mIoU"])
                for t, metric in self.pseudo_iou.items()
            }
        return results
