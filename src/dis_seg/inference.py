"""Iterative inference: refine the features (u1, v1) by gradient descent on the DIS energy.

With every network parameter fixed, ``(u1, v1) ← (u1, v1) − step_size · ∇E`` where, per sample,
``E = reconstruction_loss(z3, image) [+ tag_weight · tag_loss(v3, tags)]``. The refined
labelmap is subnet-1 on the final features; ``sigmoid(v3)`` are the refined (cleaned) tags.

Two methods take the same steps: ``"autograd"`` back-propagates through subnet-1 (the
reference), ``"fast"`` takes them exactly in the C channels of u3 (:mod:`dis_seg.fast_inference`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from dis_seg.losses import reconstruction_loss, tag_loss

Method = Literal["fast", "autograd"]
State = tuple[torch.Tensor, ...]


@dataclass
class IterativeInferenceResult:
    """Features and predictions after the last step.

    u1: B×D×h×w (``None`` when not asked for); v1: B×D; u3: B×C×h×w labelmap logits;
    v3: B×C tag logits; z3: B×3×h×w;
    energy: (steps+1)×B, each sample's energy before every step and after the last;
    stopped: B bool, the samples whose energy turned non-finite (they keep their last finite
    iterate); u3_at: step t → B×C×h×w labelmap logits after t steps, for the requested
    ``record_steps``.
    """

    u1: torch.Tensor | None
    v1: torch.Tensor
    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    energy: torch.Tensor
    stopped: torch.Tensor
    u3_at: dict[int, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of_descent(
        cls,
        u1: torch.Tensor | None,
        v1: torch.Tensor,
        last: Evaluation,
        energy: torch.Tensor,
        stopped: torch.Tensor,
        u3_at: dict[int, torch.Tensor],
    ) -> IterativeInferenceResult:
        """The result of a descent: the refined features and the last iterate, detached."""
        return cls(
            u1=None if u1 is None else u1.detach(),
            v1=v1.detach(),
            u3=last.u3.detach(),
            v3=last.v3.detach(),
            z3=last.z3.detach(),
            energy=energy,
            stopped=stopped,
            u3_at=u3_at,
        )


@dataclass
class Evaluation:
    """One iterate: per-sample energy B, its u3, v3, z3, and the tensors (``leaves``) that the
    energy is differentiated against."""

    energy: torch.Tensor
    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    leaves: State


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode, then restore each one's own mode."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def _plain(tensor: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A detached copy in ``dtype`` usable by autograd, also for tensors made under inference
    mode."""
    return None if tensor is None else tensor.detach().to(dtype).clone()


def _step_dtype(model: nn.Module) -> torch.dtype:
    """fp64 for a model with fp64 parameters, else fp32."""
    parameter = next(model.parameters(), None)
    is_double = parameter is not None and parameter.dtype == torch.float64
    return torch.float64 if is_double else torch.float32


def iterative_inference(
    model: nn.Module,
    u1: torch.Tensor,
    v1: torch.Tensor,
    images: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    tags: torch.Tensor | None = None,
    tag_weight: float = 1.0,
    record_steps: Iterable[int] = (),
    method: Method = "fast",
    return_features: bool = True,
    warn_non_finite: bool = True,
) -> IterativeInferenceResult:
    """Take ``steps`` gradient steps on (u1, v1) of each sample's energy.

    Args:
        model: a :class:`~dis_seg.models.DISNet`; its parameters and buffers are left untouched
            (no ``.grad`` either) and it runs in eval mode, so samples never interact.
        u1, v1: initial features, B×D×h×w and B×D (from ``model.encode``).
        images: the normalised input images, B×3×H×W (the reconstruction target).
        steps: number of gradient steps, ≥ 0 (0 returns the initial prediction).
        step_size: the gradient-descent step η > 0.
        tags: optional multi-hot tags B×C; adds ``tag_weight`` × tag loss to the energy.
        record_steps: steps t at which to keep u3 in ``result.u3_at``.
        method: ``"fast"`` (default) takes the same steps in the C channels of u3, exact up to
            float rounding; it falls back to ``"autograd"`` for a model it does not support
            (see :func:`~dis_seg.fast_inference.supports_fast_inference`). ``"autograd"``
            back-propagates through subnet-1 at every step.
        return_features: compute the refined u1; when false ``result.u1`` is ``None``, which
            saves ``"fast"`` a D-channel transposed conv (about half an autograd step). v1,
            u3, v3 and z3 are always returned.
        warn_non_finite: warn when a sample's energy turns non-finite; callers that run many
            batches pass false and warn once over all of them from ``result.stopped``.

    Works under ``torch.no_grad()`` and ``torch.inference_mode()``; the steps run in fp32 (fp64
    for a model with fp64 parameters) with autocast off. A sample whose energy turns non-finite
    keeps its last finite iterate (and energy) from then on.
    """
    # Imported here: dis_seg.fast_inference builds on this module.
    from dis_seg.fast_inference import fast_descent, supports_fast_inference

    if steps < 0:
        raise ValueError(f"steps: expected ≥ 0, got {steps}")
    if step_size <= 0:
        raise ValueError(f"step_size: expected > 0, got {step_size}")
    if method not in ("fast", "autograd"):
        raise ValueError(f"method: expected 'fast' or 'autograd', got {method!r}")
    fast = method == "fast" and supports_fast_inference(model)
    descent = fast_descent if fast else _autograd_descent
    record = set(record_steps)
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autocast(images.device.type, enabled=False))
        stack.enter_context(eval_mode(model))
        dtype = _step_dtype(model)
        u1, v1, images, tags = (_plain(t, dtype) for t in (u1, v1, images, tags))
        result = descent(
            model, u1, v1, images, tags, tag_weight, steps, step_size, record, return_features
        )
    if warn_non_finite:
        warn_if_stopped(int(result.stopped.sum()), len(result.stopped), "iterative inference")
    return result


def warn_if_stopped(stopped: int, total: int, where: str) -> None:
    """Warn that ``stopped`` of ``total`` samples met a non-finite energy in ``where``."""
    if stopped:
        warnings.warn(
            f"{where}: the energy of {stopped} of {total} samples became non-finite; they keep "
            "their last finite iterate (lower the step size)",
            RuntimeWarning,
            stacklevel=3,
        )


def sample_energy(
    model: nn.Module,
    u3: torch.Tensor,
    v3: torch.Tensor,
    images: torch.Tensor,
    tags: torch.Tensor | None,
    tag_weight: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample energy B of labelmap logits u3 (B×C×h×w) and tag logits v3 (B×C), with z3."""
    z3 = model.reconstruct(u3)
    energy = reconstruction_loss(z3, images, reduction="none")
    if tags is not None:
        energy = energy + tag_weight * tag_loss(v3, tags, reduction="none")
    return energy, z3


def descend(
    state: State,
    evaluate: Callable[[State, bool], Evaluation],
    advance: Callable[[State, Evaluation, torch.Tensor], State],
    steps: int,
    step_size: float,
    record: set[int],
) -> tuple[State, Evaluation, torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """The descent loop with its non-finite guard, over any per-sample state.

    ``state`` holds B×… tensors; ``evaluate(state, with_grad)`` scores an iterate;
    ``advance(state, evaluation, scale)`` takes one step of size ``scale`` (B: the step size,
    0 for stopped samples). Returns the final state, its evaluation, the energy (steps+1)×B,
    the stopped samples (B bool) and the recorded u3.
    """
    active = torch.ones(len(state[0]), dtype=torch.bool, device=state[0].device)
    energies: list[torch.Tensor] = []
    u3_at: dict[int, torch.Tensor] = {}
    previous = state
    for step in range(steps + 1):
        evaluation = evaluate(state, step < steps)
        diverged = active & ~torch.isfinite(evaluation.energy.detach())
        if diverged.any():
            active &= ~diverged
            pairs = zip(previous, state, strict=True)
            state = tuple(_where_sample(diverged, old, new) for old, new in pairs)
            evaluation = evaluate(state, step < steps)
        energies.append(evaluation.energy.detach())
        if step in record:
            u3_at[step] = evaluation.u3.detach()
        if step == steps:
            break
        previous = state
        state = advance(state, evaluation, step_size * active.to(evaluation.energy.dtype))
    return state, evaluation, torch.stack(energies), ~active, u3_at


def _autograd_descent(
    model, u1, v1, images, tags, tag_weight, steps, step_size, record, return_features
):
    """Autograd descent: state (u1 B×D×h×w, v1 B×D), gradients through all three subnets."""

    def evaluate(state: State, with_grad: bool) -> Evaluation:
        u1, v1 = (t.detach().requires_grad_(with_grad) for t in state)
        u3, v3 = model.segment(u1, v1), model.classify(u1, v1)
        energy, z3 = sample_energy(model, u3, v3, images, tags, tag_weight)
        return Evaluation(energy, u3, v3, z3, leaves=(u1, v1))

    def advance(state: State, evaluation: Evaluation, scale: torch.Tensor) -> State:
        grad_u1, grad_v1 = torch.autograd.grad(evaluation.energy.sum(), evaluation.leaves)
        u1, v1 = state
        return u1 - scale[:, None, None, None] * grad_u1, v1 - scale[:, None] * grad_v1

    (u1, v1), last, energy, stopped, u3_at = descend(
        (u1, v1), evaluate, advance, steps, step_size, record
    )
    return IterativeInferenceResult.of_descent(
        u1 if return_features else None, v1, last, energy, stopped, u3_at
    )


def _where_sample(mask: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """Per-sample choice: ``old`` where ``mask`` (B) is true, else ``new`` (both B×…), detached."""
    return torch.where(mask.view(-1, *([1] * (new.dim() - 1))), old, new.detach())
