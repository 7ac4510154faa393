"""Iterative inference: the descent loop (:mod:`.descent`), its two methods (:mod:`.autograd`,
:mod:`.fast`), CUDA-graph replay (:mod:`.graphs`), how steps are taken and reported
(:mod:`.options`), the call that picks among them (:mod:`.iterative`) and the one prediction
call built on it (:mod:`.prediction`). Imports run one way: prediction → iterative → options,
graphs, methods → descent."""

from dis_seg.inference.descent import StepControl
from dis_seg.inference.fast import fast_inference_obstacle, supports_fast_inference
from dis_seg.inference.iterative import (
    IterativeInferenceResult,
    iterative_inference,
    resolve_method,
    warn_if_stopped,
)
from dis_seg.inference.options import METHODS, Method, StepOptions, step_schedule
from dis_seg.inference.prediction import Prediction, predict

__all__ = [
    "METHODS",
    "IterativeInferenceResult",
    "Method",
    "Prediction",
    "StepControl",
    "StepOptions",
    "fast_inference_obstacle",
    "iterative_inference",
    "predict",
    "resolve_method",
    "step_schedule",
    "supports_fast_inference",
    "warn_if_stopped",
]
