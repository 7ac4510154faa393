"""Iterative inference: refine the features (u1, v1) by gradient descent on the DIS energy.

With every network parameter fixed, ``(u1, v1) ← (u1, v1) − step_size · ∇E`` where, per sample,
``E = reconstruction_loss(z3, image) [+ tag_weight · tag_loss(v3, tags)]``. The refined
labelmap is subnet-1 on the final features; ``sigmoid(v3)`` are the refined (cleaned) tags.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from dis_seg.losses import reconstruction_loss, tag_loss


@dataclass
class IterativeInferenceResult:
    """Features and predictions after the last step.

    u1: B×D×h×w; v1: B×D; u3: B×C×h×w labelmap logits; v3: B×C tag logits; z3: B×3×h×w;
    energy: (steps+1)×B, each sample's energy before every step and after the last;
    u3_at: step t → B×C×h×w labelmap logits after t steps, for the requested ``record_steps``.
    """

    u1: torch.Tensor
    v1: torch.Tensor
    u3: torch.Tensor
    v3: torch.Tensor
    z3: torch.Tensor
    energy: torch.Tensor
    u3_at: dict[int, torch.Tensor] = field(default_factory=dict)


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


def _plain(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A detached fp32 copy usable by autograd, also for tensors made under inference mode."""
    return None if tensor is None else tensor.detach().float().clone()


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

    Works under ``torch.no_grad()`` and ``torch.inference_mode()``; the steps run in fp32 with
    autocast off. A sample whose energy turns non-finite keeps its last finite iterate (and
    energy) from then on; a warning gives the number of such samples.
    """
    if steps < 0:
        raise ValueError(f"steps: expected ≥ 0, got {steps}")
    if step_size <= 0:
        raise ValueError(f"step_size: expected > 0, got {step_size}")
    record = set(record_steps)
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autocast(images.device.type, enabled=False))
        stack.enter_context(eval_mode(model))
        u1, v1, images, tags = (_plain(t) for t in (u1, v1, images, tags))
        return _descend(model, u1, v1, images, tags, tag_weight, steps, step_size, record)


def _energy(model, u1, v1, images, tags, tag_weight):
    """Per-sample energy B, with u3, v3, z3 of the current iterate."""
    u3 = model.segment(u1, v1)
    z3 = model.reconstruct(u3)
    v3 = model.classify(u1, v1)
    energy = reconstruction_loss(z3, images, reduction="none")
    if tags is not None:
        energy = energy + tag_weight * tag_loss(v3, tags, reduction="none")
    return energy, u3, v3, z3


def _descend(model, u1, v1, images, tags, tag_weight, steps, step_size, record):
    active = torch.ones(u1.shape[0], dtype=torch.bool, device=u1.device)
    energies: list[torch.Tensor] = []
    u3_at: dict[int, torch.Tensor] = {}
    previous_u1, previous_v1 = u1, v1
    for step in range(steps + 1):
        u1, v1 = u1.requires_grad_(step < steps), v1.requires_grad_(step < steps)
        energy, u3, v3, z3 = _energy(model, u1, v1, images, tags, tag_weight)
        diverged = active & ~torch.isfinite(energy.detach())
        if diverged.any():
            active &= ~diverged
            u1 = _where_sample(diverged, previous_u1, u1).requires_grad_(step < steps)
            v1 = _where_sample(diverged, previous_v1, v1).requires_grad_(step < steps)
            energy, u3, v3, z3 = _energy(model, u1, v1, images, tags, tag_weight)
        energies.append(energy.detach())
        if step in record:
            u3_at[step] = u3.detach()
        if step == steps:
            break
        grad_u1, grad_v1 = torch.autograd.grad(energy.sum(), (u1, v1))
        previous_u1, previous_v1 = u1.detach(), v1.detach()
        scale = step_size * active.to(u1.dtype)
        u1 = previous_u1 - scale[:, None, None, None] * grad_u1
        v1 = previous_v1 - scale[:, None] * grad_v1
    stopped = int((~active).sum())
    if stopped:
        warnings.warn(
            f"iterative inference: the energy of {stopped} of {len(active)} samples became "
            "non-finite; they keep their last finite iterate (lower step_size)",
            RuntimeWarning,
            stacklevel=3,
        )
    return IterativeInferenceResult(
        u1=u1.detach(),
        v1=v1.detach(),
        u3=u3.detach(),
        v3=v3.detach(),
        z3=z3.detach(),
        energy=torch.stack(energies),
        u3_at=u3_at,
    )


def _where_sample(mask: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """Per-sample choice: ``old`` where ``mask`` (B) is true, else ``new`` (both B×…), detached."""
    return torch.where(mask.view(-1, *([1] * (new.dim() - 1))), old, new.detach())
