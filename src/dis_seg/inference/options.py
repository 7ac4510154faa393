"""How the steps of iterative inference are taken (:class:`StepOptions`) and at which steps t
the evaluation reports (:func:`step_schedule`): the ``inference`` config group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from dis_seg.inference.descent import NO_CONTROL, StepControl

Method = Literal["auto", "fast", "autograd"]
METHODS: tuple[str, ...] = get_args(Method)


@dataclass(frozen=True)
class StepOptions:
    """How a descent takes its steps; none of them changes the steps themselves, only their
    cost, except ``control``.

    method: ``"auto"`` takes fast steps wherever the network allows them
        (:func:`~dis_seg.inference.fast.fast_inference_obstacle`), else autograd steps;
        ``"fast"`` takes them in the C channels of u3, exact up to float rounding;
        ``"autograd"`` back-propagates through subnet-1 at every step (the reference).
    cuda_graphs: on CUDA, replay the whole descent from a CUDA graph, captured the second time
        the same shapes and settings come up (:mod:`dis_seg.inference.graphs`); no effect on
        the CPU.
    control: per-sample limits on the steps (:class:`~dis_seg.inference.descent.StepControl`);
        by default every step is taken.
    compile_steps: take the steps through ``torch.compile`` (fused kernels; compiled once per
        input shapes and settings, which takes seconds to a minute; docs/MODEL.md).
    """

    method: Method = "auto"
    cuda_graphs: bool = True
    control: StepControl = NO_CONTROL
    compile_steps: bool = False

    @classmethod
    def from_config(cls, inference: Mapping[str, Any]) -> StepOptions:
        """The options that an ``inference`` config group (or any mapping) sets: its
        ``method``, ``cuda_graphs``, ``control`` (the keyword arguments of
        :class:`~dis_seg.inference.descent.StepControl`) and ``compile_steps``; its other keys
        are not options of the steps."""
        values = {f.name: inference[f.name] for f in fields(cls) if f.name in inference}
        if "control" in values:
            values["control"] = StepControl(**values["control"])
        return cls(**values)


DEFAULT_STEPS = StepOptions()


def step_schedule(tts: int, schedule: Iterable[int]) -> list[int]:
    """The steps t to evaluate: ``schedule`` ∩ [0, tts], plus ``tts`` itself."""
    if tts < 0:
        raise ValueError(f"tts: expected ≥ 0, got {tts}")
    return sorted({t for t in schedule if 0 <= t <= tts} | {tts})
