"""Evaluation protocols: how a labelled image becomes a labelmap. ``whole`` runs the network on
the whole image; ``slide`` on windows of it, averaging the logits where windows overlap; each
at every scale of ``scales`` and, with ``flip``, mirrored too, averaging the class
probabilities of those views. The iterative-inference steps run on every window and view
before the merge, so every view is refined as the network sees it.

Papers evaluate VOC in all of these ways, and the scores differ by points: a result is named by
its protocol (:attr:`EvaluationProtocol.name`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dis_seg.inference.options import DEFAULT_STEPS, StepOptions
from dis_seg.inference.prediction import predict
from dis_seg.models import upsample_logits

Mode = Literal["whole", "slide"]


@dataclass(frozen=True)
class EvaluationProtocol:
    """mode: ``whole`` or ``slide``; window, stride: the side of a sliding window and the step
    between windows, in pixels of the scaled image (``slide`` only); scales: the image scales
    evaluated; flip: also evaluate every scale mirrored left to right."""

    mode: Mode = "whole"
    window: int = 321
    stride: int = 214
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False

    @property
    def name(self) -> str:
        """E.g. ``whole``, ``slide 321/214``, ``whole, scales 0.75/1/1.25, flip``."""
        parts = ["whole" if self.mode == "whole" else f"slide {self.window}/{self.stride}"]
        if tuple(self.scales) != (1.0,):
            parts.append("scales " + "/".join(f"{scale:g}" for scale in self.scales))
        if self.flip:
            parts.append("flip")
        return ", ".join(parts)


WHOLE = EvaluationProtocol()


@dataclass
class ViewsPrediction:
    """The merged prediction of a batch of B images of H×W.

    scores_at: step t → B×C×H×W, the labelmap logits of a single view (averaged where its
    windows overlap), else the mean class probabilities of the views; energy: (steps+1)×B,
    each sample's energy before every step and after the last, averaged over its views;
    stopped: B bool, samples of which a view met a non-finite energy; tag_scores: B×C tag
    probabilities of the plain prediction (t = 0), the highest over the windows of a view,
    averaged over the views.
    """

    scores_at: dict[int, torch.Tensor]
    energy: torch.Tensor
    stopped: torch.Tensor
    tag_scores: torch.Tensor

    def labelmap(self, t: int) -> torch.Tensor:
        """B×H×W class ids after ``t`` steps."""
        return self.scores_at[t].argmax(dim=1)


@dataclass
class _Window:
    """The logits of one window at every recorded step, and its plain tag scores."""

    top: int
    left: int
    logits_at: dict[int, torch.Tensor]
    energy: torch.Tensor
    stopped: torch.Tensor
    tag_scores: torch.Tensor = field(repr=False)


def window_origins(size: int, window: int, stride: int) -> list[int]:
    """The starts of the windows that cover ``size`` pixels: every ``stride`` pixels, the last
    flush with the end (one window at 0 when the image is no larger than ``window``)."""
    if size <= window:
        return [0]
    last = size - window
    return sorted({*range(0, last, stride), last})


def predict_views(
    model: nn.Module,
    images: torch.Tensor,
    protocol: EvaluationProtocol = WHOLE,
    *,
    steps: int,
    step_size: float,
    record_steps: Iterable[int] = (),
    options: StepOptions = DEFAULT_STEPS,
) -> ViewsPrediction:
    """The labelmaps of normalised images B×3×H×W under ``protocol``, after every step t of
    ``record_steps`` (and ``steps``) of iterative inference; ``step_size`` and ``options`` as
    in :func:`~dis_seg.inference.iterative_inference`. Non-finite energies are not warned
    about here but returned in ``stopped``."""
    record = sorted({*record_steps, steps})
    size = tuple(images.shape[-2:])
    views = [
        _merge_windows(windows, size, record)
        for windows in _views(model, images, protocol, steps, step_size, record, options)
    ]
    if len(views) == 1:
        return views[0]
    count = len(views)
    return ViewsPrediction(
        scores_at={t: sum(v.scores_at[t].softmax(dim=1) for v in views) / count for t in record},
        energy=sum(view.energy for view in views) / count,
        stopped=torch.stack([view.stopped for view in views]).any(dim=0),
        tag_scores=sum(view.tag_scores for view in views) / count,
    )


def _views(
    model: nn.Module,
    images: torch.Tensor,
    protocol: EvaluationProtocol,
    steps: int,
    step_size: float,
    record: list[int],
    options: StepOptions,
) -> Iterator[list[_Window]]:
    """Per view (scale, then flip): its windows, their logits mapped back onto the image."""
    height, width = images.shape[-2:]
    for scale in protocol.scales:
        scaled = images
        if scale != 1.0:
            target = (max(1, round(height * scale)), max(1, round(width * scale)))
            scaled = F.interpolate(images, size=target, mode="bilinear", align_corners=False)
        for flipped in (False, True) if protocol.flip else (False,):
            view = scaled.flip(-1) if flipped else scaled
            windows = list(_windows(model, view, protocol, steps, step_size, record, options))
            yield [_unview(window, view.shape[-2:], (height, width), flipped) for window in windows]


def _windows(
    model: nn.Module,
    view: torch.Tensor,
    protocol: EvaluationProtocol,
    steps: int,
    step_size: float,
    record: list[int],
    options: StepOptions,
) -> Iterator[_Window]:
    """The refined logits of each window of ``view`` (B×3×h×w), at the window's size."""
    height, width = view.shape[-2:]
    if protocol.mode == "whole":
        tops, lefts, side = [0], [0], (height, width)
    else:
        tops = window_origins(height, protocol.window, protocol.stride)
        lefts = window_origins(width, protocol.window, protocol.stride)
        side = (min(protocol.window, height), min(protocol.window, width))
    for top in tops:
        for left in lefts:
            crop = view[:, :, top : top + side[0], left : left + side[1]]
            with torch.no_grad():
                u1, v1 = model.encode(crop)
                tag_scores = model.classify(u1, v1).sigmoid()
            prediction = predict(
                model,
                crop,
                steps=steps,
                step_size=step_size,
                features=(u1, v1),
                record_steps=record,
                options=options,
                warn_non_finite=False,
            )
            result = prediction.result
            logits_at = {t: upsample_logits(result.u3_at[t], side) for t in record}
            yield _Window(top, left, logits_at, result.energy, result.stopped, tag_scores)


def _unview(
    window: _Window, view_size: tuple[int, int], size: tuple[int, int], flipped: bool
) -> _Window:
    """``window`` as a window of the image: the view's flip undone, and its position and
    logits taken from the scaled view to the image's H×W."""
    view_height, view_width = view_size
    logits_at = window.logits_at
    top, left = window.top, window.left
    if flipped:
        logits_at = {t: logits.flip(-1) for t, logits in logits_at.items()}
        left = view_width - left - next(iter(logits_at.values())).shape[-1]
    if (view_height, view_width) != tuple(size):
        scale_y, scale_x = size[0] / view_height, size[1] / view_width
        window_height, window_width = next(iter(logits_at.values())).shape[-2:]
        bottom = round((top + window_height) * scale_y)
        right = round((left + window_width) * scale_x)
        top, left = round(top * scale_y), round(left * scale_x)
        logits_at = {
            t: upsample_logits(logits, (bottom - top, right - left))
            for t, logits in logits_at.items()
        }
    return _Window(top, left, logits_at, window.energy, window.stopped, window.tag_scores)


def _merge_windows(
    windows: list[_Window], size: tuple[int, int], record: list[int]
) -> ViewsPrediction:
    """One view's windows as one prediction over the image: the mean of the logits of the
    windows that cover each pixel."""
    if len(windows) == 1 and tuple(next(iter(windows[0].logits_at.values())).shape[-2:]) == size:
        window = windows[0]
        return ViewsPrediction(window.logits_at, window.energy, window.stopped, window.tag_scores)
    first = next(iter(windows[0].logits_at.values()))
    batch, classes = first.shape[:2]
    counts = first.new_zeros(1, 1, *size)
    sums = {t: first.new_zeros(batch, classes, *size) for t in record}
    for window in windows:
        height, width = next(iter(window.logits_at.values())).shape[-2:]
        rows = slice(window.top, window.top + height)
        columns = slice(window.left, window.left + width)
        counts[..., rows, columns] += 1
        for t in record:
            sums[t][..., rows, columns] += window.logits_at[t]
    return ViewsPrediction(
        scores_at={t: sums[t] / counts.clamp(min=1) for t in record},
        energy=torch.stack([window.energy for window in windows]).mean(dim=0),
        stopped=torch.stack([window.stopped for window in windows]).any(dim=0),
        tag_scores=torch.stack([window.tag_scores for window in windows]).amax(dim=0),
    )
