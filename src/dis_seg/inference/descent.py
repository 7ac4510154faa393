"""The descent loop shared by both methods, and the energy it lowers.

The loop never reads a tensor value on the host: which samples stopped at a non-finite energy
is tracked on the device, and every shape depends on the input shapes alone, so one call can
be captured as a CUDA graph and replayed (:mod:`dis_seg.inference.graphs`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dis_seg.losses import reconstruction_loss, tag_loss

State = tuple[torch.Tensor, ...]


@dataclass
class Evaluation:
    """One iterate: per-sample energy B, its u3 B×C×h×w, v3 B×C and z3 B×3×h×w, and the
    tensors (``leaves``) that the energy is differentiated against."""

    energy: torch.Tensor
    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    leaves: State


@dataclass(kw_only=True)
class Refined:
    """The predictions after the last step.

    u3: B×C×h×w labelmap logits; v3: B×C tag logits; z3: B×3×h×w;
    energy: (steps+1)×B, each sample's energy before every step and after the last;
    stopped: B bool, the samples whose energy turned non-finite (they keep their last finite
    iterate); u3_at: step t → B×C×h×w labelmap logits after t steps, for the recorded steps
    (a sample that :class:`StepControl` halted keeps its last accepted iterate there).
    """

    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    energy: torch.Tensor
    stopped: torch.Tensor
    u3_at: dict[int, torch.Tensor] = field(default_factory=dict)


@dataclass(kw_only=True)
class DescentOutput(Refined):
    """What a descent leaves: the predictions and its final ``state`` (the method's
    per-sample tensors)."""

    state: State

    def clone(self) -> DescentOutput:
        """A copy that owns its memory (a replayed CUDA graph overwrites its outputs)."""
        return DescentOutput(
            state=tuple(t.clone() for t in self.state),
            u3=self.u3.clone(),
            v3=self.v3.clone(),
            z3=self.z3.clone(),
            energy=self.energy.clone(),
            stopped=self.stopped.clone(),
            u3_at={t: u3.clone() for t, u3 in self.u3_at.items()},
        )


@dataclass(frozen=True)
class StepControl:
    """Per-sample limits on the descent; the default takes every step.

    monotone: a step that raises a sample's energy is undone and the sample stops there.
    max_change: a sample stops at its last iterate whose u3 lies within this root-mean-square
        distance (logit units) of its initial u3; ``None``: no limit.
    stall_tolerance: a sample stops after a step that lowers its energy by less than this
        fraction of it; ``None``: never.
    """

    monotone: bool = False
    max_change: float | None = None
    stall_tolerance: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_change", "stall_tolerance"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"inference.control.{name}: expected > 0 or null, got {value}")

    def accepts(
        self,
        energy: torch.Tensor,
        previous_energy: torch.Tensor,
        u3: torch.Tensor,
        initial_u3: torch.Tensor,
    ) -> torch.Tensor | None:
        """B bool: the samples whose new iterate (energy B, u3 B×C×h×w) the limits accept,
        ``None`` when nothing limits them."""
        accepted = None
        if self.monotone:
            accepted = energy <= previous_energy
        if self.max_change is not None:
            distance = (u3.detach() - initial_u3).square().flatten(1).mean(dim=1).sqrt()
            within = distance <= self.max_change
            accepted = within if accepted is None else accepted & within
        return accepted

    def continues(self, energy: torch.Tensor, previous_energy: torch.Tensor) -> torch.Tensor | None:
        """B bool: the samples that go on after a step from ``previous_energy`` to ``energy``
        (both B), ``None`` when all do."""
        if self.stall_tolerance is None:
            return None
        return previous_energy - energy >= self.stall_tolerance * previous_energy.abs()


NO_CONTROL = StepControl()


def sample_energy(
    model: nn.Module,
    u3: torch.Tensor,
    v3: torch.Tensor,
    target: torch.Tensor,
    tags: torch.Tensor | None,
    tag_weight: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample energy B of labelmap logits u3 (B×C×h×w) and tag logits v3 (B×C) against the
    reconstruction target B×3×h×w (the images, downsampled once before the descent), and the
    reconstruction z3 B×3×h×w."""
    z3 = model.reconstruct(u3)
    energy = reconstruction_loss(z3, target, reduction="none")
    if tags is not None:
        energy = energy + tag_weight * tag_loss(v3, tags, reduction="none")
    return energy, z3


def descend(
    state: State,
    evaluate: Callable[[State, bool], Evaluation],
    advance: Callable[[State, State], State],
    steps: int,
    step_size: float,
    record: frozenset[int],
    control: StepControl = NO_CONTROL,
) -> DescentOutput:
    """The descent loop with its non-finite guard and step ``control``, over any per-sample
    state.

    ``state`` holds B×… tensors; ``evaluate(state, with_grad)`` scores an iterate;
    ``advance(state, steps)`` moves it by ``−steps``, where ``steps`` are ``step_size`` × the
    energy's gradients against the iterate's ``leaves``, 0 for samples that stopped. A sample
    whose energy turns non-finite, or whose new iterate ``control`` rejects, goes back to its
    previous iterate (state, energy, u3, v3; z3 after the last step, as before it z3 is only
    carried along) and stays there; one that ``control`` halts keeps its new iterate.
    """
    active = torch.ones(len(state[0]), dtype=torch.bool, device=state[0].device)
    diverged = torch.zeros_like(active)
    seed = torch.full((len(state[0]),), step_size, dtype=state[0].dtype, device=state[0].device)
    energies: list[torch.Tensor] = []
    u3_at: dict[int, torch.Tensor] = {}
    previous: tuple[State, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    previous_z3 = initial_u3 = None
    for step in range(steps + 1):
        evaluation = evaluate(state, step < steps)
        energy = evaluation.energy.detach()
        finite = energy.abs() < math.inf  # false for ±inf and NaN; two kernels, not four
        u3, v3, z3 = evaluation.u3, evaluation.v3, evaluation.z3
        diverged = diverged | ~finite
        accepted = finite
        if previous is None:
            initial_u3 = u3.detach()
        else:
            limits = control.accepts(energy, previous[1], u3, initial_u3)
            accepted = finite if limits is None else finite & limits
            keep = _KeepAccepted(accepted)
            state = tuple(keep(new, old) for new, old in zip(state, previous[0], strict=True))
            pairs = zip((energy, u3, v3), previous[1:], strict=True)
            energy, u3, v3 = (keep(new, old) for new, old in pairs)
            if step == steps:
                z3 = keep(z3, previous_z3)
            going_on = control.continues(energy, previous[1])
            if going_on is not None:
                accepted = accepted & going_on
        active = active & accepted
        energies.append(energy)
        if step in record:
            u3_at[step] = u3.detach()
        if step == steps:
            break
        previous, previous_z3 = (state, energy, u3, v3), z3.detach()
        gradients = torch.autograd.grad(evaluation.energy, evaluation.leaves, grad_outputs=seed)
        state = advance(state, gated(gradients, active))
    return DescentOutput(
        state=tuple(t.detach() for t in state),
        u3=u3.detach(),
        v3=v3.detach(),
        z3=z3.detach(),
        energy=torch.stack(energies),
        stopped=diverged,
        u3_at=u3_at,
    )


class _KeepAccepted:
    """Per sample, the new tensor where the new iterate is accepted, else the old one (both
    B×…, detached); a tensor met twice (a state tensor that is also the iterate's u3) is chosen
    once."""

    def __init__(self, accepted: torch.Tensor) -> None:
        self.accepted = accepted
        self.chosen: dict[int, torch.Tensor] = {}

    def __call__(self, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
        if id(new) not in self.chosen:
            mask = self.accepted.view(-1, *([1] * (new.dim() - 1)))
            self.chosen[id(new)] = torch.where(mask, new.detach(), old)
        return self.chosen[id(new)]


def gated(gradients: State, active: torch.Tensor) -> State:
    """Each gradient (B×…) for the active samples (B bool), 0 for the others (whose gradient
    may be non-finite)."""
    return tuple(torch.where(active.view(-1, *([1] * (g.dim() - 1))), g, 0.0) for g in gradients)
