"""Iterative inference: the descent loop (:mod:`.descent`), its two methods (:mod:`.autograd`,
:mod:`.fast`), CUDA-graph replay (:mod:`.graphs`) and the call that picks among them
(:mod:`.iterative`). Imports run one way: iterative → graphs, methods → descent."""

from dis_seg.inference.fast import fast_inference_obstacle, supports_fast_inference
from dis_seg.inference.iterative import (
    METHODS,
    IterativeInferenceResult,
    Method,
    iterative_inference,
    resolve_method,
    warn_if_stopped,
)

__all__ = [
    "METHODS",
    "IterativeInferenceResult",
    "Method",
    "fast_inference_obstacle",
    "iterative_inference",
    "resolve_method",
    "supports_fast_inference",
    "warn_if_stopped",
]
