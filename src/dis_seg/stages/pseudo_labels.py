"""Stage 3's targets for tag-only images: iterative inference with their tags."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dis_seg.inference import predict
from dis_seg.models import DISNet


@dataclass
class PseudoLabels:
    """labelmap: B×H×W class ids (detached); tags: B×C cleaned multi-hot tags;
    initial_labelmap: B×H×W, the plain prediction before any step (same suppression);
    stopped: B bool, the samples whose refinement stopped at a non-finite energy."""

    labelmap: torch.Tensor
    tags: torch.Tensor
    initial_labelmap: torch.Tensor
    stopped: torch.Tensor


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
    suppress_absent: bool = True,
    method: str = "auto",
    cuda_graphs: bool = True,
) -> PseudoLabels:
    """Refine (u1 B×D×h×w, v1 B×D) by ``ttr`` steps on reconstruction + the given tags (B×C).

    Cleaned tags: sigmoid(v3) ≥ ``tag_threshold`` after the steps, background always on; with
    ``ttr = 0`` nothing is refined and the given tags are kept as they are. With
    ``suppress_absent`` the pseudo labelmap only uses classes of the cleaned tags; it is the
    argmax of the refined u3 upsampled to the image size H×W. Non-finite energies are not
    warned about here but returned in ``stopped``, for a count over the epoch. ``method`` and
    ``cuda_graphs`` are those of :func:`~dis_seg.inference.iterative_inference`.
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
        method=method,
        cuda_graphs=cuda_graphs,
        warn_non_finite=False,
    )
    refined = prediction.tag_scores() >= tag_threshold
    cleaned = tags.clone() if ttr == 0 else refined.to(tags.dtype)
    cleaned[:, 0] = 1.0
    allowed = cleaned if suppress_absent else None
    return PseudoLabels(
        labelmap=prediction.labelmap(allowed=allowed),
        tags=cleaned,
        initial_labelmap=prediction.labelmap(0, allowed=allowed),
        stopped=prediction.result.stopped,
    )
