"""Iterative inference: refine the features (u1, v1) by gradient descent on the DIS energy.

With every network parameter fixed, ``(u1, v1) ← (u1, v1) − step_size · ∇E`` where, per sample,
``E = reconstruction_loss(z3, image) [+ tag_weight · tag_loss(v3, tags)]``. The refined
labelmap is subnet-1 on the final features; ``sigmoid(v3)`` are the refined (cleaned) tags.

Two methods take the same steps: ``"autograd"`` back-propagates through subnet-1 (the
reference, :mod:`dis_seg.inference.autograd`), ``"fast"`` takes them exactly in the C channels
of u3 (:mod:`dis_seg.inference.fast`). On CUDA a descent is replayed from a CUDA graph
(:mod:`dis_seg.inference.graphs`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn

from dis_seg.inference.autograd import AutogradDescent
from dis_seg.inference.descent import Refined
from dis_seg.inference.fast import FastDescent, fast_inference_obstacle
from dis_seg.inference.graphs import graph_key, run_captured
from dis_seg.inference.options import DEFAULT_STEPS, METHODS, StepOptions
from dis_seg.models.losses import downsample_image


@dataclass(kw_only=True)
class IterativeInferenceResult(Refined):
    """Features and predictions after the last step: u1 B×D×h×w (``None`` when not asked
    for), v1 B×D, and those of :class:`~dis_seg.inference.descent.Refined` (u3_at for the
    requested ``record_steps``)."""

    u1: torch.Tensor | None
    v1: torch.Tensor


def descent_modules(model: nn.Module) -> list[nn.Module]:
    """The modules a descent runs: a DISNet's three subnets (never its backbone), else the
    whole model."""
    head_modules = getattr(model, "head_modules", None)
    return list(head_modules()) if callable(head_modules) else [model]


@contextlib.contextmanager
def eval_mode(modules: list[nn.Module]) -> Iterator[None]:
    """Put ``modules`` and their submodules in eval mode, then restore each one's own mode."""
    modes = {module: module.training for root in modules for module in root.modules()}
    for module in modes:
        module.training = False
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def resolve_method(model: nn.Module, method: str, steps: int) -> Literal["fast", "autograd"]:
    """The method that runs ``steps`` steps. ``"auto"``: ``"fast"`` wherever the network allows
    it and there is a step to take, else ``"autograd"``. Measured (docs/BENCHMARKS.md): fast
    steps cost a fraction of autograd steps on the CPU and on CUDA; with no step, both give the
    plain prediction, which the autograd descent computes within its one CUDA graph while the
    fast one first builds u3 and v3 outside it. ``"fast"`` on a network that does not allow it
    is an error."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if method == "autograd" or (method == "auto" and steps == 0):
        return "autograd"
    obstacle = fast_inference_obstacle(model)
    if obstacle is not None and method == "fast":
        raise ValueError(f"method 'fast': this network cannot take fast steps: {obstacle}")
    return "autograd" if obstacle is not None else "fast"


def reconstruction_size(model: nn.Module, size: tuple[int, int]) -> tuple[int, int]:
    """The size of the reconstruction z3 of an h×w map u3: ``size`` × ``model.recon_scale``."""
    scale = getattr(model, "recon_scale", 1)
    return size[0] * scale, size[1] * scale


def step_dtype(model: nn.Module) -> torch.dtype:
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
    options: StepOptions = DEFAULT_STEPS,
    return_features: bool = True,
    warn_non_finite: bool = True,
) -> IterativeInferenceResult:
    """Take ``steps`` gradient steps on (u1, v1) of each sample's energy.

    Args:
        model: a :class:`~dis_seg.models.DISNet`; its parameters and buffers are left untouched
            (no ``.grad`` either) and its subnets run in eval mode, so samples never interact.
        u1, v1: initial features, B×D×h×w and B×D (from ``model.encode``).
        images: the normalised input images, B×3×H×W (the reconstruction target).
        steps: number of gradient steps, ≥ 0 (0 returns the initial prediction).
        step_size: the gradient-descent step η > 0.
        tags: optional multi-hot tags B×C; adds ``tag_weight`` × tag loss to the energy.
        record_steps: steps t at which to keep u3 in ``result.u3_at``.
        options: how the steps are taken (:class:`~dis_seg.inference.options.StepOptions`:
            method, CUDA graphs, step control, ``torch.compile``).
        return_features: compute the refined u1; when false ``result.u1`` is ``None``, which
            saves the fast method a D-channel transposed conv. v1, u3, v3 and z3 are always
            returned.
        warn_non_finite: warn when a sample's energy turns non-finite; callers that run many
            batches pass false and warn once over all of them from ``result.stopped``.

    Works under ``torch.no_grad()`` and ``torch.inference_mode()``; the steps run in fp32 (fp64
    for a model with fp64 parameters) with autocast off. A sample whose energy turns non-finite
    keeps its last finite iterate (and energy) from then on. No step reads a value back to the
    host: the only synchronisation is the warning's count, after the last step.
    """
    if steps < 0:
        raise ValueError(f"steps: expected ≥ 0, got {steps}")
    if step_size <= 0:
        raise ValueError(f"step_size: expected > 0, got {step_size}")
    chosen = resolve_method(model, options.method, steps)
    control, compile_steps = options.control, options.compile_steps
    record = frozenset(record_steps)
    modules = descent_modules(model)
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autocast(images.device.type, enabled=False))
        stack.enter_context(eval_mode(modules))
        dtype = step_dtype(model)
        u1, v1 = u1.to(dtype), v1.to(dtype)
        size = tuple(u1.shape[-2:])
        with torch.no_grad():
            target = downsample_image(images.to(dtype), reconstruction_size(model, size))
        tags = None if tags is None else tags.to(dtype)
        if chosen == "fast":
            descent = FastDescent(
                model, size, dtype, tag_weight, steps, step_size, record, control, compile_steps
            )
        else:
            descent = AutogradDescent(
                model, tag_weight, steps, step_size, record, control, compile_steps
            )
        inputs = descent.inputs(u1, v1, target, tags)
        if options.cuda_graphs and u1.is_cuda:
            settings = (chosen, steps, record, step_size, tag_weight, control, compile_steps)
            key = graph_key(modules, descent, settings, inputs)
            output = run_captured(model, key, descent, inputs)
        else:
            output = descent(*inputs)
        refined_u1, refined_v1 = descent.features(output, u1, v1, return_features)
    predictions = {field.name: getattr(output, field.name) for field in fields(Refined)}
    result = IterativeInferenceResult(u1=refined_u1, v1=refined_v1, **predictions)
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
