"""Stage 3's targets for tag-only images: iterative inference with their tags."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dis_seg.data.images import IGNORE_INDEX
from dis_seg.inference import StepOptions, predict
from dis_seg.inference.options import DEFAULT_STEPS
from dis_seg.models import DISNet


@dataclass
class PseudoLabels:
    """labelmap: B×H×W class ids (detached); tags: B×C cleaned multi-hot tags;
    initial_labelmap: B×H×W, the plain prediction before any step (same suppression);
    stopped: B bool, the samples whose refinement stopped at a non-finite energy;
    confident: B×H×W bool, the pixels whose labelmap class has a probability of at least
    ``confidence`` (all of them with ``confidence`` 0)."""

    labelmap: torch.Tensor
    tags: torch.Tensor
    initial_labelmap: torch.Tensor
    stopped: torch.Tensor
    confident: torch.Tensor

    def target(self) -> torch.Tensor:
        """B×H×W: the labelmap a segmentation loss learns, 255 (ignored) where not confident."""
        return self.labelmap.masked_fill(~self.confident, IGNORE_INDEX)


def make_pseudo_labels(
    model: DISNet,
    u1: torch.Tensor,
    v1: torch.Tensor,
    images: torch.Tensor,
    tags: torch.Tensor,
    *,
    ttr: int,
    step_size: float,
    tag_weight: float = 1.0,
    tag_threshold: float = 0.5,
    tag_margin: float = 0.0,
    suppress_absent: bool = True,
    confidence: float = 0.0,
    options: StepOptions = DEFAULT_STEPS,
) -> PseudoLabels:
    """Refine (u1 B×D×h×w, v1 B×D) by ``ttr`` steps on reconstruction + the given tags (B×C).

    Cleaned tags, from the refined scores sigmoid(v3) after the steps: a given tag stays when
    its score is at least ``tag_threshold − tag_margin``, another class joins when its score is
    at least ``tag_threshold + tag_margin`` (with no margin: the classes scoring at least
    ``tag_threshold``); background is always on. With ``ttr = 0`` nothing is refined and the
    given tags are kept as they are. With
    ``suppress_absent`` the pseudo labelmap only uses classes of the cleaned tags; it is the
    argmax of the refined u3 upsampled to the image size H×W; its pixels whose class has a
    softmax probability (over those classes) under ``confidence`` are not ``confident``.
    Non-finite energies are not warned about here but returned in ``stopped``, for a count
    over the epoch. ``options``: how the steps are taken (:class:`~dis_seg.inference.StepOptions`).
    """
    prediction = predict(
        model,
        images,
        steps=ttr,
        step_size=step_size,
        features=(u1, v1),
        tags=tags,
        tag_weight=tag_weight,
        record_steps=(0,),
        options=options,
        warn_non_finite=False,
    )
    scores = prediction.tag_scores()
    refined = torch.where(
        tags > 0, scores >= tag_threshold - tag_margin, scores >= tag_threshold + tag_margin
    )
    cleaned = tags.clone() if ttr == 0 else refined.to(tags.dtype)
    cleaned[:, 0] = 1.0
    allowed = cleaned if suppress_absent else None
    probabilities, labelmap = prediction.logits(allowed=allowed).softmax(dim=1).max(dim=1)
    return PseudoLabels(
        labelmap=labelmap,
        tags=cleaned,
        initial_labelmap=prediction.labelmap(0, allowed=allowed),
        stopped=prediction.result.stopped,
        confident=probabilities >= confidence,
    )
