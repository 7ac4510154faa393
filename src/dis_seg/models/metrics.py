"""Segmentation and tag metrics on top of torchmetrics (synced across DDP ranks)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torchmetrics.classification import (
    MulticlassConfusionMatrix,
    MultilabelAveragePrecision,
    MultilabelF1Score,
    MultilabelPrecision,
    MultilabelRecall,
)

from dis_seg.data.images import IGNORE_INDEX


def segmentation_scores(confmat: torch.Tensor) -> dict[str, torch.Tensor]:
    """VOC protocol scores of a C×C confusion matrix (rows: truth, columns: prediction).

    ``mIoU`` averages IoU over the classes present in the ground truth or the prediction;
    ``per_class_IoU`` (C) is NaN for classes present in neither; ``pixel_accuracy`` is the
    fraction of correct labelled pixels.
    """
    confmat = confmat.double()
    hits = confmat.diagonal()
    union = confmat.sum(0) + confmat.sum(1) - hits
    present = union > 0
    iou = torch.where(present, hits / union.clamp(min=1), torch.full_like(hits, float("nan")))
    return {
        "mIoU": iou[present].mean() if present.any() else torch.tensor(0.0, dtype=torch.double),
        "per_class_IoU": iou,
        "pixel_accuracy": hits.sum() / confmat.sum().clamp(min=1),
    }


class SegmentationMetric(nn.Module):
    """A confusion matrix over all pixels of a split (255 ignored) and its VOC scores."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.confmat = MulticlassConfusionMatrix(
            num_classes, ignore_index=IGNORE_INDEX, validate_args=False
        )

    def update(self, prediction: torch.Tensor, labelmap: torch.Tensor) -> None:
        """prediction, labelmap: B×H×W class ids (labelmap may hold 255)."""
        self.confmat.update(prediction.flatten(), labelmap.flatten().long())

    def compute(self) -> dict[str, torch.Tensor]:
        return segmentation_scores(self.confmat.compute())

    def reset(self) -> None:
        self.confmat.reset()


def tag_average_precision(num_classes: int) -> MultilabelAveragePrecision:
    """Macro mAP over the object classes of B×C tag scores (background, column 0, excluded)."""
    return MultilabelAveragePrecision(num_labels=num_classes - 1, average="macro")


class TagAgreement(nn.Module):
    """Precision, recall and F1 of B×C binary tags against reference tags: over all object
    classes (``average="micro"``, scalars) or per object class (``"none"``, C−1 each).

    Background (column 0) is always present and therefore excluded.
    """

    def __init__(self, num_classes: int, average: Literal["micro", "none"] = "micro") -> None:
        super().__init__()
        kwargs = {"num_labels": num_classes - 1, "average": average, "validate_args": False}
        self.precision = MultilabelPrecision(**kwargs)
        self.recall = MultilabelRecall(**kwargs)
        self.f1 = MultilabelF1Score(**kwargs)

    def update(self, tags: torch.Tensor, reference: torch.Tensor) -> None:
        for metric in (self.precision, self.recall, self.f1):
            metric.update(tags[:, 1:], reference[:, 1:].long())

    def compute(self) -> dict[str, torch.Tensor]:
        return {
            "precision": self.precision.compute(),
            "recall": self.recall.compute(),
            "F1": self.f1.compute(),
        }

    def reset(self) -> None:
        for metric in (self.precision, self.recall, self.f1):
            metric.reset()
