"""One prediction call: backbone, iterative inference, labelmaps at the image size.

Evaluation, prediction of a folder of images, stage 3's pseudo labels and the notebooks all go
through :func:`predict`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from dis_seg.inference.iterative import IterativeInferenceResult, iterative_inference
from dis_seg.inference.options import DEFAULT_STEPS, StepOptions
from dis_seg.models import upsample_logits


@dataclass
class Prediction:
    """What :func:`predict` returns: the iterative-inference ``result`` (its ``u3_at`` holds
    every recorded step t and the last one) and the image size H×W the labelmaps take."""

    result: IterativeInferenceResult
    size: tuple[int, int]

    @property
    def steps(self) -> int:
        """The number of steps taken."""
        return len(self.result.energy) - 1

    def logits(self, t: int | None = None, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """B×C×H×W labelmap logits after ``t`` steps (default: all of them), upsampled to the
        image size; −inf for the classes that ``allowed`` (B×C, nonzero for allowed) leaves out."""
        logits = upsample_logits(self.result.u3_at[self.steps if t is None else t], self.size)
        if allowed is not None:
            logits = logits.masked_fill(~allowed.bool()[:, :, None, None], float("-inf"))
        return logits

    def labelmap(self, t: int | None = None, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """B×H×W class ids after ``t`` steps (default: all of them): the argmax of
        :meth:`logits` over the classes that ``allowed`` leaves, or over all."""
        return self.logits(t, allowed).argmax(dim=1)

    def tag_scores(self) -> torch.Tensor:
        """B×C refined tag probabilities, sigmoid(v3) after the last step."""
        return self.result.v3.sigmoid()


def predict(
    model: nn.Module,
    images: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    features: tuple[torch.Tensor, torch.Tensor] | None = None,
    tags: torch.Tensor | None = None,
    tag_weight: float = 1.0,
    record_steps: Iterable[int] = (),
    options: StepOptions = DEFAULT_STEPS,
    warn_non_finite: bool = True,
) -> Prediction:
    """Labelmaps of normalised images B×3×H×W after ``steps`` steps of iterative inference.

    ``features``: (u1, v1) that ``model.encode(images)`` already gave, to save a backbone
    pass; otherwise the backbone runs here, without gradients. The other arguments are those
    of :func:`~dis_seg.inference.iterative_inference`; labelmaps are available after every
    step of ``record_steps`` and after the last.
    """
    if features is None:
        with torch.no_grad():
            features = model.encode(images)
    result = iterative_inference(
        model,
        *features,
        images,
        steps=steps,
        step_size=step_size,
        tags=tags,
        tag_weight=tag_weight,
        record_steps={*record_steps, steps},
        options=options,
        return_features=False,
        warn_non_finite=warn_non_finite,
    )
    return Prediction(result, tuple(images.shape[-2:]))
