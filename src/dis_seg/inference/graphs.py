"""CUDA graphs of whole descents: captured once per shapes and settings, then replayed.

On a GPU the arithmetic of a step on C×h×w tensors takes microseconds; launching its few dozen
kernels from Python takes far longer. A descent never reads a value on the host and its shapes
follow from its inputs' (:mod:`dis_seg.inference.descent`), so all of its steps can be recorded
once as one CUDA graph and replayed for every later batch of the same shapes, with one launch.

A descent is captured the second time its key (the method, the input shapes, the settings and
where the network's parameters live) comes up, so shapes met once (evaluation images of many
sizes) run eagerly without the cost of a capture. Each network keeps its last
``GRAPHS_PER_NETWORK`` graphs.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol

import torch
from torch import nn

from dis_seg.inference.descent import DescentOutput

GRAPHS_PER_NETWORK = 8
KEYS_REMEMBERED = 64


class Descent(Protocol):
    """A descent method (:class:`~dis_seg.inference.fast.FastDescent`, ...)."""

    def __call__(self, *inputs: torch.Tensor | None) -> DescentOutput: ...

    def read_by_graphs(self) -> tuple: ...


class CapturedDescent:
    """One descent recorded as a CUDA graph for inputs of fixed shapes.

    The inputs are copied into the graph's own input tensors before each replay, and the
    outputs copied out after it, so every call returns tensors of its own.
    """

    def __init__(self, descent: Descent, inputs: tuple[torch.Tensor | None, ...]) -> None:
        self.inputs = tuple(None if t is None else t.clone() for t in inputs)
        self.read = descent.read_by_graphs()
        device = next(t for t in inputs if t is not None).device
        current = torch.cuda.current_stream(device)
        warm_up = torch.cuda.Stream(device)
        warm_up.wait_stream(current)
        with torch.cuda.stream(warm_up):
            descent(*self.inputs)  # cuDNN picks its algorithms, autograd starts its thread
        current.wait_stream(warm_up)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (a data loader pinning memory) may use CUDA meanwhile
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.outputs = descent(*self.inputs)

    def __call__(self, inputs: tuple[torch.Tensor | None, ...]) -> DescentOutput:
        for own, given in zip(self.inputs, inputs, strict=True):
            if own is not None:
                own.copy_(given)
        self.graph.replay()
        return self.outputs.clone()


class GraphCache:
    """The captured descents of one network, by key, the most recently used last."""

    def __init__(self) -> None:
        self.graphs: OrderedDict[Hashable, CapturedDescent] = OrderedDict()
        self.seen: OrderedDict[Hashable, None] = OrderedDict()

    def run(
        self, key: Hashable, descent: Descent, inputs: tuple[torch.Tensor | None, ...]
    ) -> DescentOutput:
        """``descent(*inputs)``: replayed from its graph, captured now if ``key`` came up
        before, else run eagerly."""
        graph = self.graphs.pop(key, None)
        if graph is None:
            if key not in self.seen:
                _remember(self.seen, key, None, KEYS_REMEMBERED)
                return descent(*inputs)
            graph = CapturedDescent(descent, inputs)
        _remember(self.graphs, key, graph, GRAPHS_PER_NETWORK)
        return graph(inputs)


def _remember(cache: OrderedDict, key: Hashable, value, capacity: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > capacity:
        cache.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[nn.Module, GraphCache] = weakref.WeakKeyDictionary()


def run_captured(
    model: nn.Module, key: Hashable, descent: Descent, inputs: tuple[torch.Tensor | None, ...]
) -> DescentOutput:
    """Run ``descent`` on ``inputs`` (CUDA tensors) through ``model``'s graph cache."""
    return _CACHES.setdefault(model, GraphCache()).run(key, descent, inputs)


def graph_key(
    modules: list[nn.Module],
    descent: Descent,
    descent_settings: Hashable,
    inputs: tuple[torch.Tensor | None, ...],
) -> Hashable:
    """What decides whether a captured graph can serve: the descent's settings, the inputs'
    shapes and types, the objects it reads besides them (``descent.read_by_graphs()``) and the
    memory of every parameter of the ``modules`` the descent runs (a graph reads them by
    address, so it follows in-place updates but not replaced tensors)."""
    layout = tuple(None if t is None else (t.shape, t.dtype) for t in inputs)
    read = tuple(id(thing) for thing in descent.read_by_graphs())
    parameters = tuple(p.data_ptr() for module in modules for p in module.parameters())
    return descent_settings, layout, read, parameters
