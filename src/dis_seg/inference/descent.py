"""The descent loop shared by both methods, and the energy it lowers.

The loop never reads a tensor value on the host: which samples stopped at a non-finite energy
is tracked on the device, and every shape depends on the input shapes alone, so one call can
be captured as a CUDA graph and replayed (:mod:`dis_seg.inference.graphs`). A step is one
function of tensors (:func:`take_step`), so it can also run through ``torch.compile``, which
fuses its element-wise work (:func:`compiled_step`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import torch
from torch import nn

from dis_seg.models.losses import reconstruction_loss, tag_loss

State = tuple[torch.Tensor, ...]
# Compiled steps kept per process: methods × with and without tags × step settings × shapes.
COMPILED_VARIANTS = 64


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

    def accepts(
        self,
        energy: torch.Tensor,
        previous_energy: torch.Tensor,
        u3: torch.Tensor,
        initial_u3: torch.Tensor | None,
    ) -> torch.Tensor | None:
        """B bool: the samples whose new iterate (energy B, u3 B×C×h×w) the limits accept,
        ``None`` when nothing limits them; ``initial_u3`` is read only with a ``max_change``."""
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


class DescentMethod(Protocol):
    """What the descent needs of a method (:class:`~dis_seg.inference.fast.FastDescent`,
    :class:`~dis_seg.inference.autograd.AutogradDescent`): its settings, and how its per-sample
    ``state``, B×… tensors, is scored (``energy``) and moved (``advance``).

    ``compiled``: every step but the first evaluation runs as one ``torch.compile``-d function
    (fused kernels; :func:`compiled_step`).
    """

    steps: int
    step_size: float
    record: frozenset[int]
    control: StepControl
    compiled: bool

    def differentiated(self, with_tags: bool) -> tuple[int, ...]:
        """The positions in the state of the tensors the energy is differentiated against."""
        ...

    def energy(
        self, state: State, target: torch.Tensor, tags: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample energy B, u3 B×C×h×w, v3 B×C and z3 B×3×sh×sw of an iterate."""
        ...

    def advance(self, state: State, steps: State) -> State:
        """The state moved by ``−steps`` (aligned with :meth:`differentiated`)."""
        ...


class Iterate(NamedTuple):
    """An iterate of the descent: the method's ``state``, its energy B, u3, v3, z3, and the
    step-scaled gradients of the energy against the differentiated state tensors (``None`` when
    no step follows)."""

    state: State
    energy: torch.Tensor
    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    gradients: State | None


def descend(
    method: DescentMethod, state: State, target: torch.Tensor, tags: torch.Tensor | None
) -> DescentOutput:
    """The descent loop with its non-finite guard and step control, over any method, from
    ``state`` (the method's B×… tensors) towards the reconstruction ``target`` B×3×sh×sw and
    the ``tags`` B×C (or ``None``).

    Each of ``method.steps`` steps moves the state by ``−step_size`` × the energy's gradients
    against its differentiated tensors, 0 for samples that stopped. A sample whose energy turns
    non-finite, or whose new iterate ``method.control`` rejects, goes back to its previous
    iterate (state, energy, u3, v3; z3 after the last step, as before it z3 is only carried
    along) and stays there; one that the control halts keeps its new iterate.
    """
    steps, record, control = method.steps, method.record, method.control
    leaves = method.differentiated(tags is not None)
    batch = len(state[0])
    seed = torch.full((batch,), method.step_size, dtype=state[0].dtype, device=state[0].device)
    current = evaluate(method, state, target, tags, leaves, seed if steps else None)
    diverged = ~(current.energy.abs() < math.inf)  # false for ±inf and NaN; two kernels, not four
    active = ~diverged
    # only a max_change reads it; a copy, so that no step is given one tensor twice
    initial_u3 = current.u3.clone() if control.max_change is not None else None
    energies = [current.energy]
    u3_at = {0: current.u3} if 0 in record else {}
    step_function = compiled_step() if method.compiled else take_step
    for step in range(1, steps + 1):
        current, active, diverged = step_function(
            method,
            current,
            active,
            diverged,
            initial_u3,
            target,
            tags,
            leaves,
            seed if step < steps else None,
            control,
        )
        energies.append(current.energy)
        if step in record:
            u3_at[step] = current.u3
    return DescentOutput(
        state=current.state,
        u3=current.u3,
        v3=current.v3,
        z3=current.z3,
        energy=torch.stack(energies),
        stopped=diverged,
        u3_at=u3_at,
    )


def evaluate(
    method: DescentMethod,
    state: State,
    target: torch.Tensor,
    tags: torch.Tensor | None,
    leaves: tuple[int, ...],
    seed: torch.Tensor | None,
    functional: bool = False,
) -> Iterate:
    """The iterate at ``state``, all detached; with a ``seed`` (B, the step size of each sample)
    also the seed-weighted gradients of its energy against the state tensors at ``leaves``:
    by ``torch.autograd.grad``, or with ``functional`` by ``torch.func.grad``, which
    ``torch.compile`` can trace and which gives the same gradients."""
    if seed is None:
        with torch.no_grad():
            return Iterate(state, *method.energy(state, target, tags), gradients=None)
    if functional:

        def weighted_energy(*differentiated: torch.Tensor):
            inputs = list(state)
            for position, tensor in zip(leaves, differentiated, strict=True):
                inputs[position] = tensor
            energy, u3, v3, z3 = method.energy(tuple(inputs), target, tags)
            return (energy * seed).sum(), (energy, u3, v3, z3)

        positions = tuple(range(len(leaves)))
        gradient = torch.func.grad(weighted_energy, argnums=positions, has_aux=True)
        gradients, scores = gradient(*(state[position] for position in leaves))
        return Iterate(state, *scores, gradients=gradients)
    inputs = tuple(
        t.detach().requires_grad_(position in leaves) for position, t in enumerate(state)
    )
    scores = method.energy(inputs, target, tags)
    differentiated = [inputs[position] for position in leaves]
    gradients = torch.autograd.grad(scores[0], differentiated, grad_outputs=seed)
    # a score that is a state tensor (the fast method's u3 and v3) stays that very tensor
    own = {id(t): state[position] for position, t in enumerate(inputs)}
    scores = (own.get(id(t), t.detach()) for t in scores)
    return Iterate(state, *scores, gradients=gradients)


def take_step(
    method: DescentMethod,
    current: Iterate,
    active: torch.Tensor,
    diverged: torch.Tensor,
    initial_u3: torch.Tensor | None,
    target: torch.Tensor,
    tags: torch.Tensor | None,
    leaves: tuple[int, ...],
    seed: torch.Tensor | None,
    control: StepControl,
    functional: bool = False,
) -> tuple[Iterate, torch.Tensor, torch.Tensor]:
    """One step from the accepted iterate ``current``: the active samples (B bool) move by its
    gradients, the new iterate is scored (with gradients unless ``seed`` is ``None``, the last
    step) and each sample keeps it or goes back. Returns the accepted iterate, the samples still
    active and those that met a non-finite energy (``diverged``, B bool)."""
    moved = method.advance(current.state, gated(current.gradients, active))
    new = evaluate(method, moved, target, tags, leaves, seed, functional)
    finite = new.energy.abs() < math.inf
    diverged = diverged | ~finite
    limits = control.accepts(new.energy, current.energy, new.u3, initial_u3)
    accepted = finite if limits is None else finite & limits
    pairs = [*zip(new.state, current.state, strict=True)]
    pairs += [(new.energy, current.energy), (new.u3, current.u3), (new.v3, current.v3)]
    if seed is None:
        pairs.append((new.z3, current.z3))
    kept = keep_accepted(accepted, pairs)
    state, (energy, u3, v3, *z3) = tuple(kept[: len(moved)]), kept[len(moved) :]
    going_on = control.continues(energy, current.energy)
    if going_on is not None:
        accepted = accepted & going_on
    kept_iterate = Iterate(state, energy, u3, v3, z3[0] if z3 else new.z3, new.gradients)
    return kept_iterate, active & accepted, diverged


@functools.cache
def compiled_step() -> Callable[..., tuple[Iterate, torch.Tensor, torch.Tensor]]:
    """:func:`take_step` through ``torch.compile``, with ``torch.func`` gradients: one graph
    (``fullgraph``, so a break is an error, not a silent slowdown) per method, settings and
    input shapes, up to :data:`COMPILED_VARIANTS` of them. It runs under ``no_grad``, so that
    the outputs do not depend on the network's parameters for autograd."""
    compiled = torch.compile(take_step, fullgraph=True)

    def step(*arguments) -> tuple[Iterate, torch.Tensor, torch.Tensor]:
        with torch.no_grad(), torch._dynamo.config.patch(recompile_limit=COMPILED_VARIANTS):
            return compiled(*arguments, functional=True)

    return step


def keep_accepted(
    accepted: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor]]
) -> list[torch.Tensor]:
    """Per pair (new, old), both B×…: per sample the new tensor where ``accepted`` (B bool),
    else the old one; a new tensor met twice (a state tensor that is also the iterate's u3) is
    chosen once."""
    chosen: list[tuple[torch.Tensor, torch.Tensor]] = []
    kept = []
    for new, old in pairs:
        earlier = [result for tensor, result in chosen if tensor is new]
        if not earlier:
            mask = accepted.view(-1, *([1] * (new.dim() - 1)))
            earlier = [torch.where(mask, new, old)]
            chosen.append((new, earlier[0]))
        kept.append(earlier[0])
    return kept


def gated(gradients: State, active: torch.Tensor) -> State:
    """Each gradient (B×…) for the active samples (B bool), 0 for the others (whose gradient
    may be non-finite)."""
    return tuple(torch.where(active.view(-1, *([1] * (g.dim() - 1))), g, 0.0) for g in gradients)
