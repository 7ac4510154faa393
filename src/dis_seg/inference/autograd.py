"""The reference descent: autograd through subnet-1 and subnet-3 to (u1, v1) at every step."""

from __future__ import annotations

import torch
from torch import nn

from dis_seg.inference.descent import (
    NO_CONTROL,
    DescentOutput,
    State,
    StepControl,
    descend,
    sample_energy,
)


class AutogradDescent:
    """The descent of :func:`~dis_seg.inference.iterative_inference` on the features.

    Inputs: u1 B×D×h×w and v1 B×D, the reconstruction target B×3×sh×sw and the tags B×C (or
    ``None``). State: (u1, v1). ``control`` limits the steps per sample; ``compiled`` runs
    them through ``torch.compile`` (:func:`~dis_seg.inference.descent.compiled_step`).
    """

    name = "autograd"

    def __init__(
        self,
        model: nn.Module,
        tag_weight: float,
        steps: int,
        step_size: float,
        record: frozenset,
        control: StepControl = NO_CONTROL,
        compiled: bool = False,
    ) -> None:
        self.model, self.tag_weight = model, tag_weight
        self.steps, self.step_size, self.record = steps, step_size, record
        self.control, self.compiled = control, compiled

    def inputs(
        self, u1: torch.Tensor, v1: torch.Tensor, target: torch.Tensor, tags: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        # features made under inference mode cannot become autograd leaves: copies of them can
        u1, v1 = (t.clone() if t.is_inference() else t for t in (u1, v1))
        return u1, v1, target, tags

    def __call__(
        self, u1: torch.Tensor, v1: torch.Tensor, target: torch.Tensor, tags: torch.Tensor | None
    ) -> DescentOutput:
        return descend(self, (u1, v1), target, tags)

    def differentiated(self, with_tags: bool) -> tuple[int, ...]:  # noqa: ARG002 (DescentMethod)
        """u1 and v1."""
        return (0, 1)

    def energy(
        self, state: State, target: torch.Tensor, tags: torch.Tensor | None
    ) -> tuple[torch.Tensor, ...]:
        u1, v1 = state
        u3, v3 = self.model.segment(u1, v1), self.model.classify(u1, v1)
        energy, z3 = sample_energy(self.model, u3, v3, target, tags, self.tag_weight)
        return energy, u3, v3, z3

    def advance(self, state: State, steps: State) -> State:
        return tuple(t - step for t, step in zip(state, steps, strict=True))

    def features(
        self,
        output: DescentOutput,
        u1: torch.Tensor,  # noqa: ARG002 (DescentMethod's signature)
        v1: torch.Tensor,  # noqa: ARG002
        with_u1: bool,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The refined u1 (``None`` unless ``with_u1``) and v1."""
        refined_u1, refined_v1 = output.state
        return (refined_u1 if with_u1 else None), refined_v1

    def read_by_graphs(self) -> tuple:
        """Nothing besides its inputs and the network's parameters."""
        return ()
