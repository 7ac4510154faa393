"""Fast exact iterative inference: the gradient steps on (u1, v1) taken in the C channels of u3.

E depends on (u1, v1) only through u3 and v3, both affine. Subnet-1: ``u3 = J_u u1 + J_v v1 + b``,
a zero-padded size-preserving conv (K = kh·kw taps) whose tap a, at offset o_a, has the weight
``W_a = (W_u,a, W_v,a)`` (C×2D), so ``(J_v v1)(y) = Σ_a m_a(y) W_v,a v1`` with
``m_a(y) = [y + o_a inside h×w]``. Subnet-3 (sum or concat fusion, then a linear layer):
``v3 = A v1 + B p + c`` with ``p = avgpool(u1)``, A and B C×D. With ``g = ∂E/∂u3`` (B×C×h×w,
autograd through subnet-2 only), ``h = ∂E/∂v3`` (B×C) and the tap sums
``G_a = Σ_y m_a(y) g(y)`` (B×C)::

    ∇u1 = J_uᵀ g + Bᵀ h / hw          ∇v1 = Σ_a W_v,aᵀ G_a + Aᵀ h
    mean(∇u1) = (Σ_a W_u,aᵀ G_a + Bᵀ h) / hw

so the step ``(u1, v1) ← (u1, v1) − η (∇u1, ∇v1)`` moves

    u3 by −η Σ_a m_a(y) (t_a(y + o_a) + c_a)   with t_a = W_u,a J_uᵀ g,
                                                c_a = W_u,a Bᵀ h / hw + W_v,a ∇v1,
    v3 by −η (A ∇v1 + B mean(∇u1)),

and (c, Δv3) is one fixed ((K+1)C)² matrix applied to (G, h). Every t_a comes from one conv
C → K·C with kernels ``W_u,a W_u,bᵀ``; adding c_a and summing ``m_a(y) (…)(y + o_a)`` over the
taps is one grouped conv with one-hot kernels, whose zero padding is exactly m_a: exact at the
border for any h×w, hence for output stride 8 and 16. A step thus costs subnet-2's forward and
backward plus O(K·C²) per pixel, never a 2D-channel conv. The refined features follow from the
accumulated η·g and η·h in one pass: ``u1_T = u1_0 − J_uᵀ Σ η g − Bᵀ Σ η h / hw`` and
``v1_T = v1_0 − Σ_a W_v,aᵀ G_a(Σ η g) − Aᵀ Σ η h``.

The operators depend on the subnet-1 and subnet-3 weights only: :func:`fast_operators` keeps
them per network and refreshes them, in place, when those weights change (an optimizer step, a
loaded state dict), so a captured CUDA graph that reads them stays valid. Taps are ordered
class-major: index c·K + a.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from dis_seg.inference.descent import (
    NO_CONTROL,
    DescentOutput,
    State,
    StepControl,
    descend,
    sample_energy,
)
from dis_seg.models import DISNet
from dis_seg.models.dis_net import TagFusion

GRIDS_PER_NETWORK = 64


def fast_inference_obstacle(model: nn.Module) -> str | None:
    """Why ``model`` cannot take fast steps, or ``None`` when it can.

    Fast steps need a :class:`DISNet` whose subnet-1 is a plain zero-padded, size-preserving,
    stride-1 ``nn.Conv2d`` and whose subnet-3 is a :class:`TagFusion` and an ``nn.Linear``
    (affine in v1 and avgpool(u1)).
    """
    if not isinstance(model, DISNet):
        return f"it is a {type(model).__name__}, not a DISNet"
    if type(model).segment is not DISNet.segment or type(model).classify is not DISNet.classify:
        return "it overrides DISNet.segment or DISNet.classify"
    if type(model.tag_fusion) is not TagFusion or type(model.tag_head) is not nn.Linear:
        return "subnet-3 is not a TagFusion followed by an nn.Linear"
    head = model.labelmap_head
    if type(head) is not nn.Conv2d or head.groups != 1 or head.stride != (1, 1):
        return "subnet-1 is not a stride-1, ungrouped nn.Conv2d"
    size_preserving = isinstance(head.padding, tuple) and all(
        2 * pad == dil * (k - 1)
        for pad, dil, k in zip(head.padding, head.dilation, head.kernel_size, strict=True)
    )
    if head.padding_mode != "zeros" or not size_preserving:
        return "subnet-1 does not pad with zeros to keep the size"
    return None


def supports_fast_inference(model: nn.Module) -> bool:
    """Whether ``model`` can take fast steps (see :func:`fast_inference_obstacle`)."""
    return fast_inference_obstacle(model) is None


def _linear_weights(model: DISNet) -> list[torch.Tensor]:
    """The parameters the operators are built from: subnet-1's conv weight and subnet-3's."""
    subnet3 = [*model.tag_fusion.parameters(), model.tag_head.weight]
    return [model.labelmap_head.weight, *subnet3]


class SubnetOperators:
    """The size-independent operators of one network, refreshed in place when its subnet-1 or
    subnet-3 weights change (``version`` counts the refreshes).

    N = C·K + C; ``coupling_v`` and ``coupling_u`` N×N (``mixing = coupling_v +
    coupling_u / hw`` for an h×w grid); ``rows_v1`` N×D; ``tag_pooled`` B C×D;
    ``weight_u`` C×D×kh×kw; ``gram_kernel`` C·K×C×kh×kw; ``shift_kernel`` C×K×kh×kw one-hot.
    """

    def __init__(self, model: DISNet, dtype: torch.dtype) -> None:
        conv = model.labelmap_head
        self.dtype = dtype
        self.padding, self.dilation = conv.padding, conv.dilation
        classes, _, kh, kw = conv.weight.shape
        self.classes, self.taps = classes, kh * kw
        self.version = 0
        for name, value in self._compute(model).items():
            setattr(self, name, value)
        self.weights_key = _weights_key(model)
        taps = torch.eye(self.taps, dtype=dtype, device=conv.weight.device)
        self.tap_kernel = taps.view(self.taps, 1, kh, kw)
        self.shift_kernel = taps.view(1, self.taps, kh, kw).repeat(classes, 1, 1, 1)
        self.grids: OrderedDict[tuple[int, int], GridOperators] = OrderedDict()

    def refresh(self, model: DISNet) -> None:
        """Recompute the operators into their own memory if the weights changed."""
        key = _weights_key(model)
        if key == self.weights_key:
            return
        for name, value in self._compute(model).items():
            getattr(self, name).copy_(value)
        self.weights_key = key
        self.version += 1

    def grid(self, size: tuple[int, int]) -> GridOperators:
        """The operators of an h×w grid (the last ``GRIDS_PER_NETWORK`` sizes are kept)."""
        size = (int(size[0]), int(size[1]))
        grid = self.grids.pop(size, None) or GridOperators(self, size)
        self.grids[size] = grid
        while len(self.grids) > GRIDS_PER_NETWORK:
            self.grids.popitem(last=False)
        grid.refresh()
        return grid

    @torch.no_grad()
    def _compute(self, model: DISNet) -> dict[str, torch.Tensor]:
        weight = model.labelmap_head.weight.detach().to(self.dtype)
        classes, channels, kh, kw = weight.shape
        features, taps = channels // 2, kh * kw
        # row c·K + a: W_a[c] (2D)
        tap_rows = weight.flatten(2).transpose(1, 2).reshape(classes * taps, channels)
        tag_v1, tag_pooled = _tag_jacobians(model, weight.new_zeros(classes, features))
        rows_v1 = torch.cat([tap_rows[:, features:], tag_v1])
        rows_pooled = torch.cat([tap_rows[:, :features], tag_pooled])
        coupling_u = rows_pooled @ rows_pooled.T
        # t_(c,a)(z) = Σ_b (W_u,a W_u,bᵀ)[c] g(z − o_b): a conv whose tap at −o_b is that block.
        gram_kernel = (
            coupling_u[: classes * taps, : classes * taps]
            .reshape(classes * taps, classes, kh, kw)
            .flip(-2, -1)
            .contiguous()
        )
        coupling_u[: classes * taps, : classes * taps] = 0  # J_u J_uᵀ, applied by the convs
        return {
            "weight_u": weight[:, :features].contiguous(),
            "rows_v1": rows_v1,
            "tag_pooled": tag_pooled,
            "coupling_v": rows_v1 @ rows_v1.T,
            "coupling_u": coupling_u,
            "gram_kernel": gram_kernel,
        }


class GridOperators:
    """The operators of one network on an h×w grid: ``masks`` K×h×w holds m_a, ``mixing``
    N×N maps (G, h) to (c, Δv3)."""

    def __init__(self, subnets: SubnetOperators, size: tuple[int, int]) -> None:
        self.subnets = subnets
        self.pixels = size[0] * size[1]
        ones = subnets.coupling_u.new_ones(1, 1, *size)
        self.masks = self._conv(ones, subnets.tap_kernel)[0].flatten(1)
        self.mixing = subnets.coupling_v + subnets.coupling_u / self.pixels
        self.version = subnets.version

    def refresh(self) -> None:
        if self.version != self.subnets.version:
            subnets = self.subnets
            torch.add(subnets.coupling_v, subnets.coupling_u / self.pixels, out=self.mixing)
            self.version = subnets.version

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int = 1) -> torch.Tensor:
        subnets = self.subnets
        return F.conv2d(
            x, weight, padding=subnets.padding, dilation=subnets.dilation, groups=groups
        )

    def tap_sums(self, g: torch.Tensor) -> torch.Tensor:
        """G: B×C×h×w → B×C·K, G_(c,a) = Σ_y m_a(y) g_c(y)."""
        return (g.flatten(2) @ self.masks.T).flatten(1)

    def step(self, g: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """How much a step −(∇u1, ∇v1) lowers u3 (B×C×h×w) and v3 (B×C), given g (B×C×h×w)
        and h (B×C, or ``None`` for an energy without tags)."""
        coupled = self.subnets.classes * self.subnets.taps
        x = self.tap_sums(g)
        if h is None:
            mixing = self.mixing[:, :coupled]
        else:
            x, mixing = torch.cat([x, h], dim=1), self.mixing
        # A product and sum rather than a matmul: no sample's result depends on the batch size.
        y = (x[:, None, :] * mixing).sum(dim=-1)
        per_tap = self._conv(g, self.subnets.gram_kernel) + y[:, :coupled, None, None]
        shifted = self._conv(per_tap, self.subnets.shift_kernel, groups=self.subnets.classes)
        return shifted, y[:, coupled:]

    def refined_u1(
        self, u1: torch.Tensor, sum_g: torch.Tensor, sum_h: torch.Tensor | None
    ) -> torch.Tensor:
        """u1 (B×D×h×w) after steps whose g and h sum to ``sum_g`` B×C×h×w and ``sum_h`` B×C."""
        subnets = self.subnets
        shift = F.conv_transpose2d(
            sum_g, subnets.weight_u, padding=subnets.padding, dilation=subnets.dilation
        )
        if sum_h is not None:
            shift += (sum_h @ subnets.tag_pooled / self.pixels)[:, :, None, None]
        return u1 - shift

    def refined_v1(
        self, v1: torch.Tensor, sum_g: torch.Tensor, sum_h: torch.Tensor | None
    ) -> torch.Tensor:
        """v1 (B×D) after steps whose g and h sum to ``sum_g`` B×C×h×w and ``sum_h`` B×C."""
        x = self.tap_sums(sum_g)
        rows = self.subnets.rows_v1
        if sum_h is None:
            return v1 - x @ rows[: x.shape[1]]
        return v1 - torch.cat([x, sum_h], dim=1) @ rows


def _weights_key(model: DISNet) -> tuple:
    """Changes whenever a weight the operators use changes: in place (its version) or by being
    replaced (its memory)."""
    return tuple((w.data_ptr(), w._version, w.dtype) for w in _linear_weights(model))


def _tag_jacobians(model: DISNet, zeros: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A = ∂v3/∂v1 and B = ∂v3/∂p (C×D each, like ``zeros``) of subnet-3, affine in (v1, p)."""
    with torch.enable_grad():
        v1, pooled = zeros.clone().requires_grad_(), zeros.clone().requires_grad_()
        v3 = model.tag_head(model.tag_fusion(v1, pooled))
        one_hot = torch.eye(len(zeros), dtype=zeros.dtype, device=zeros.device)
        jacobians = torch.autograd.grad(v3, (v1, pooled), grad_outputs=one_hot)
    return jacobians[0].detach(), jacobians[1].detach()


_OPERATORS: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def fast_operators(model: DISNet, size: tuple[int, int], dtype: torch.dtype) -> GridOperators:
    """The operators of ``model`` on an h×w grid in ``dtype``, current with its weights; built
    once per set of weights and kept with the network."""
    per_network = _OPERATORS.setdefault(model, {})
    key = (dtype, model.labelmap_head.weight.device)
    subnets = per_network.get(key)
    if subnets is None:
        subnets = per_network[key] = SubnetOperators(model, dtype)
    else:
        subnets.refresh(model)
    return subnets.grid(size)


class FastDescent:
    """The descent of :func:`~dis_seg.inference.iterative_inference` in C channels.

    Inputs: u3 B×C×h×w and v3 B×C of the initial features, the reconstruction target
    B×3×sh×sw and the tags B×C (or ``None``). State: u3, v3 and the step-scaled sums Σ η g
    (B×C×h×w) and, with tags, Σ η h (B×C). ``control`` limits the steps per sample;
    ``compiled`` runs them through ``torch.compile``
    (:func:`~dis_seg.inference.descent.compiled_step`).
    """

    name = "fast"

    def __init__(
        self,
        model: DISNet,
        size: tuple[int, int],
        dtype: torch.dtype,
        tag_weight: float,
        steps: int,
        step_size: float,
        record: frozenset[int],
        control: StepControl = NO_CONTROL,
        compiled: bool = False,
    ) -> None:
        self.model, self.tag_weight = model, tag_weight
        self.steps, self.step_size, self.record = steps, step_size, record
        self.control, self.compiled = control, compiled
        self.operators = fast_operators(model, size, dtype)

    def inputs(
        self, u1: torch.Tensor, v1: torch.Tensor, target: torch.Tensor, tags: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        with torch.no_grad():
            u3, v3 = self.model.segment(u1, v1), self.model.classify(u1, v1)
        return u3, v3, target, tags

    def __call__(
        self, u3: torch.Tensor, v3: torch.Tensor, target: torch.Tensor, tags: torch.Tensor | None
    ) -> DescentOutput:
        state = (u3, v3, torch.zeros_like(u3))
        if tags is not None:
            state += (torch.zeros_like(v3),)
        return descend(self, state, target, tags)

    def differentiated(self, with_tags: bool) -> tuple[int, ...]:
        """u3, and v3 when the energy has tags."""
        return (0, 1) if with_tags else (0,)

    def energy(
        self, state: State, target: torch.Tensor, tags: torch.Tensor | None
    ) -> tuple[torch.Tensor, ...]:
        u3, v3 = state[:2]
        energy, z3 = sample_energy(self.model, u3, v3, target, tags, self.tag_weight)
        return energy, u3, v3, z3

    def advance(self, state: State, steps: State) -> State:
        g, h = steps if len(steps) == 2 else (steps[0], None)
        delta_u3, delta_v3 = self.operators.step(g, h)
        u3, v3, sum_g, *sum_h = state
        moved = (u3 - delta_u3, v3 - delta_v3, sum_g + g)
        return moved if h is None else (*moved, sum_h[0] + h)

    def features(
        self, output: DescentOutput, u1: torch.Tensor, v1: torch.Tensor, with_u1: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The refined u1 (``None`` unless ``with_u1``) and v1."""
        sum_g, *sum_h = output.state[2:]
        sum_h = sum_h[0] if sum_h else None
        with torch.no_grad():
            refined_u1 = self.operators.refined_u1(u1, sum_g, sum_h) if with_u1 else None
            return refined_u1, self.operators.refined_v1(v1, sum_g, sum_h)

    def read_by_graphs(self) -> tuple:
        """What a captured graph of this descent reads besides its inputs and the network's
        parameters (kept alive with the graph; refreshed in place)."""
        return (self.operators,)
