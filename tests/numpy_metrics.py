"""Reference metrics in plain numpy, independent of dis_seg.models.metrics."""

from __future__ import annotations

import numpy as np


def numpy_miou(predictions, labelmaps, num_classes: int) -> float:
    """VOC mIoU of H×W class-id arrays against labelmaps (255 ignored): IoU from one confusion
    matrix over all pixels, averaged over the classes in the truth or the prediction."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for prediction, labelmap in zip(predictions, labelmaps, strict=True):
        keep = labelmap != 255
        pairs = labelmap[keep].astype(np.int64) * num_classes + prediction[keep]
        confusion += np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, -1)
    hits = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - hits
    return float((hits[union > 0] / union[union > 0]).mean())
