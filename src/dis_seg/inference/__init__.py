"""Iterative inference: the descent loop (:mod:`.descent`), its two methods (:mod:`.autograd`,
:mod:`.fast`), CUDA-graph replay (:mod:`.graphs`), the call that picks among them
(:mod:`.iterative`) and the one prediction call built on it (:mod:`.prediction`). Imports run
one way: prediction → iterative → graphs, methods → descent."""

from dis_seg.inference.descent import StepControl
from dis_seg.inference.fast import fast_inference_obstacle, supports_fast_inference
from dis_seg.inference.iterative import (
    METHODS,
    IterativeInferenceResult,
    Method,
    iterative_inference,
    resolve_method,
    warn_if_stopped,
)
from dis_seg.inference.prediction import Prediction, predict

__all__ = [
    "METHODS",
    "IterativeInferenceResult",
    "Method",
    "Prediction",
    "StepControl",
    "fast_inference_obstacle",
    "iterative_inference",
    "predict",
    "resolve_method",
    "supports_fast_inference",
    "warn_if_stopped",
]
