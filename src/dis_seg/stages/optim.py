"""DeepLab-style optimisation: SGD with momentum (or AdamW), poly LR, 10× LR on the heads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class OptimizerConfig:
    """``name``: a key of :data:`OPTIMIZERS`; ``head_lr_mult`` multiplies the LR of the
    subnets; ``poly_power``: LR = lr · (1 − step / total)^power over the run's optimizer
    steps."""

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    head_lr_mult: float = 10.0
    poly_power: float = 0.9


OPTIMIZERS: dict[str, Callable[[list[dict], OptimizerConfig], torch.optim.Optimizer]] = {
    "sgd": lambda groups, config: torch.optim.SGD(
        groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    ),
    "adamw": lambda groups, config: torch.optim.AdamW(
        groups, lr=config.lr, weight_decay=config.weight_decay
    ),
}
"""Optimizer name → a function of the parameter groups and the config: adding an optimizer is
one entry here."""


def build_optimizer(
    backbone: nn.Module, heads: list[nn.Module], config: OptimizerConfig
) -> torch.optim.Optimizer:
    """An optimizer over the trainable parameters of ``backbone`` (lr) and ``heads`` (lr × mult)."""
    groups = [
        {"params": _trainable(backbone), "lr": config.lr},
        {
            "params": [p for head in heads for p in _trainable(head)],
            "lr": config.lr * config.head_lr_mult,
        },
    ]
    return OPTIMIZERS[config.name]([group for group in groups if group["params"]], config)


def poly_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    power: float,
    *,
    steps_before: int = 0,
    steps_after: int = 0,
    warmup_steps: int = 0,
) -> torch.optim.lr_scheduler.LRScheduler:
    """Poly decay stepped once per optimizer step, over a schedule of ``steps_before +
    total_steps + steps_after`` steps of which this run takes the middle ``total_steps``:
    LR = lr · w · (1 − (steps_before + step) / span)^power, with w rising linearly from
    1 / warmup_steps to 1 over the first ``warmup_steps`` (w = 1 without)."""
    span = max(steps_before + total_steps + steps_after, 1)

    def factor(step: int) -> float:
        warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        return warmup * max(0.0, 1.0 - (steps_before + step) / span) ** power

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]
