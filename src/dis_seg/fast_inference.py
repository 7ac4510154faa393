"""Fast exact iterative inference: the gradient steps on (u1, v1) taken in the C channels of u3.

E depends on (u1, v1) only through u3 and v3, both affine. Subnet-1: ``u3 = J_u u1 + J_v v1 + b``,
a zero-padded size-preserving conv (3×3, K = 9 taps) whose tap at offset a is
``W_a = (W_u,a, W_v,a)`` (C×2D), so
``(J_v v1)(y) = Σ_a m_a(y) W_v,a v1`` with ``m_a(y) = [y + a inside h×w]``. Subnet-3 (sum or
concat fusion, then a linear layer): ``v3 = A v1 + B p + c`` with ``p = avgpool(u1)``, A and B C×D.
With ``g = ∂E/∂u3`` (B×C×h×w, autograd through subnet-2 only), ``h = ∂E/∂v3`` (B×C) and the
tap sums ``G_a = Σ_y m_a(y) g(y)`` (B×C)::

    ∇u1 = J_uᵀ g + Bᵀ h / hw          ∇v1 = Σ_a W_v,aᵀ G_a + Aᵀ h
    mean(∇u1) = (Σ_a W_u,aᵀ G_a + Bᵀ h) / hw

so the step ``(u1, v1) ← (u1, v1) − η (∇u1, ∇v1)`` moves

    u3 by −η (J_u J_uᵀ g + Σ_a m_a c_a)   with c_a = W_u,a Bᵀ h / hw + W_v,a ∇v1,
    v3 by −η (A ∇v1 + B mean(∇u1)),

and (c, Δv3) is one fixed ((K+1)C)² matrix applied to (G, h). ``J_u J_uᵀ g(y) =
Σ_a m_a(y) W_u,a (J_uᵀ g)(y + a)`` is a C → K·C conv with kernels ``W_u,a W_u,bᵀ`` followed
by a shift-and-sum over the taps: exact at the border for any h×w, hence for output
stride 8 and 16. A step thus costs subnet-2's forward and backward plus O(K·C²) per pixel,
never a 2D-channel conv. The refined features follow from the accumulated η·g and η·h in one
pass: ``u1_T = u1_0 − J_uᵀ Σ η g − Bᵀ Σ η h / hw`` and ``v1_T = v1_0 − Σ_a W_v,aᵀ G_a(Σ η g)
− Aᵀ Σ η h``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dis_seg.inference import (
    Evaluation,
    IterativeInferenceResult,
    State,
    descend,
    sample_energy,
)
from dis_seg.models import DISNet
from dis_seg.models.dis_net import TagFusion


def supports_fast_inference(model: nn.Module) -> bool:
    """Whether ``model`` is a :class:`DISNet` with the subnets :func:`fast_descent` relies on:
    subnet-1 a plain zero-padded, size-preserving, stride-1 ``nn.Conv2d``; subnet-3 a
    :class:`TagFusion` and an ``nn.Linear`` (affine in v1 and avgpool(u1))."""
    if not isinstance(model, DISNet):
        return False
    if type(model).segment is not DISNet.segment or type(model).classify is not DISNet.classify:
        return False
    if type(model.tag_fusion) is not TagFusion or type(model.tag_head) is not nn.Linear:
        return False
    head = model.labelmap_head
    return (
        type(head) is nn.Conv2d
        and head.groups == 1
        and head.stride == (1, 1)
        and head.padding_mode == "zeros"
        and isinstance(head.padding, tuple)
        and all(
            2 * pad == dil * (k - 1)
            for pad, dil, k in zip(head.padding, head.dilation, head.kernel_size, strict=True)
        )
    )


class LinearSubnets:
    """Subnet-1 and subnet-3 of ``model`` as the linear maps of one step on an h×w grid.

    K = kh·kw taps of subnet-1's conv (weight C×2D×kh×kw); ``masks`` K×h×w holds m_a.
    """

    def __init__(self, model: DISNet, size: tuple[int, int], dtype: torch.dtype) -> None:
        conv = model.labelmap_head
        weight = conv.weight.detach().to(dtype)
        classes, channels, kh, kw = weight.shape
        features, taps, pixels = channels // 2, kh * kw, size[0] * size[1]
        self.padding, self.dilation = conv.padding, conv.dilation
        self.weight_u = weight[:, :features]
        tap_rows = weight.flatten(2).permute(2, 0, 1).reshape(taps * classes, channels)
        self.tag_v1, self.tag_pooled = _tag_jacobians(model, weight.new_zeros(classes, features))
        self.rows_v1 = torch.cat([tap_rows[:, features:], self.tag_v1])
        rows_pooled = torch.cat([tap_rows[:, :features], self.tag_pooled])
        coupling_u = rows_pooled @ rows_pooled.T
        # t_a(z) = Σ_b W_u,a W_u,bᵀ g(z − b): a conv whose tap at offset −b is W_u,a W_u,bᵀ.
        self.gram_kernel = (
            coupling_u[: taps * classes, : taps * classes]
            .view(taps, classes, kh, kw, classes)
            .permute(0, 1, 4, 2, 3)
            .reshape(taps * classes, classes, kh, kw)
            .flip(-2, -1)
        )
        coupling_u[: taps * classes, : taps * classes] = 0  # J_u J_uᵀ, applied by gram()
        self.mixing = self.rows_v1 @ self.rows_v1.T + coupling_u / pixels
        one_hot = torch.eye(taps, dtype=dtype, device=weight.device).view(taps, 1, kh, kw)
        self.masks = self._conv(weight.new_ones(1, 1, *size), one_hot)[0]
        self.tap_starts = [
            (i * self.dilation[0], j * self.dilation[1]) for i in range(kh) for j in range(kw)
        ]
        self.pixels = pixels

    def _conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, padding=self.padding, dilation=self.dilation)

    def _conv_transpose(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, weight, padding=self.padding, dilation=self.dilation)

    def gram(self, g: torch.Tensor) -> torch.Tensor:
        """J_u J_uᵀ g: B×C×h×w → B×C×h×w.

        One conv gives every tap's t_a = W_u,a J_uᵀ g (B×K·C×h×w); the zero-padded shifted
        slices then sum Σ_a m_a(y) t_a(y + a).
        """
        batch, classes, height, width = g.shape
        (pad_h, pad_w), taps = self.padding, len(self.tap_starts)
        per_tap = F.pad(self._conv(g, self.gram_kernel), (pad_w, pad_w, pad_h, pad_h))
        per_tap = per_tap.view(batch, taps, classes, height + 2 * pad_h, width + 2 * pad_w)
        return sum(
            per_tap[:, tap, :, i : i + height, j : j + width]
            for tap, (i, j) in enumerate(self.tap_starts)
        )

    def tap_sums(self, g: torch.Tensor) -> torch.Tensor:
        """G: B×C×h×w → B×K·C (tap-major), G_a = Σ_y m_a(y) g(y)."""
        return (g.flatten(2) @ self.masks.flatten(1).T).transpose(1, 2).flatten(1)

    def step(self, g: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The changes of u3 (B×C×h×w) and v3 (B×C) for a step −(∇u1, ∇v1) given g, h."""
        x = torch.cat([self.tap_sums(g), h], dim=1)
        # A product and sum rather than a matmul: no sample's result depends on the batch size.
        y = (x[:, None, :] * self.mixing).sum(dim=-1)
        taps, classes = len(self.masks), g.shape[1]
        spread = y[:, : taps * classes].view(-1, taps, classes).transpose(1, 2)
        delta_u3 = self.gram(g) + (spread @ self.masks.flatten(1)).view_as(g)
        return -delta_u3, -y[:, taps * classes :]

    def refined_u1(
        self, u1: torch.Tensor, sum_g: torch.Tensor, sum_h: torch.Tensor
    ) -> torch.Tensor:
        """u1 (B×D×h×w) after steps whose g and h sum to ``sum_g`` B×C×h×w and ``sum_h`` B×C."""
        shift = self._conv_transpose(sum_g, self.weight_u)
        shift += (sum_h @ self.tag_pooled / self.pixels)[:, :, None, None]
        return u1 - shift

    def refined_v1(
        self, v1: torch.Tensor, sum_g: torch.Tensor, sum_h: torch.Tensor
    ) -> torch.Tensor:
        """v1 (B×D) after steps whose g and h sum to ``sum_g`` B×C×h×w and ``sum_h`` B×C."""
        return v1 - torch.cat([self.tap_sums(sum_g), sum_h], dim=1) @ self.rows_v1


def _tag_jacobians(model: DISNet, zeros: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A = ∂v3/∂v1 and B = ∂v3/∂p (C×D each, like ``zeros``) of subnet-3, affine in (v1, p)."""
    v1, pooled = zeros.clone().requires_grad_(), zeros.clone().requires_grad_()
    v3 = model.tag_head(model.tag_fusion(v1, pooled))
    one_hot = torch.eye(len(zeros), dtype=zeros.dtype, device=zeros.device)
    return torch.autograd.grad(v3, (v1, pooled), grad_outputs=one_hot)


def fast_descent(
    model: DISNet,
    u1: torch.Tensor,
    v1: torch.Tensor,
    images: torch.Tensor,
    tags: torch.Tensor | None,
    tag_weight: float,
    steps: int,
    step_size: float,
    record: set[int],
    return_features: bool,
) -> IterativeInferenceResult:
    """The descent of :func:`~dis_seg.inference.iterative_inference` in C channels.

    State: u3 B×C×h×w, v3 B×C and the step-scaled sums Σ η g (B×C×h×w) and Σ η h (B×C).
    """
    subnets = LinearSubnets(model, u1.shape[-2:], u1.dtype)
    with torch.no_grad():
        u3, v3 = model.segment(u1, v1), model.classify(u1, v1)

    def evaluate(state: State, with_grad: bool) -> Evaluation:
        u3, v3 = (t.detach() for t in state[:2])
        leaves = (u3, v3) if tags is not None else (u3,)
        for leaf in leaves:
            leaf.requires_grad_(with_grad)
        energy, z3 = sample_energy(model, u3, v3, images, tags, tag_weight)
        return Evaluation(energy, u3, v3, z3, leaves)

    def advance(state: State, evaluation: Evaluation, scale: torch.Tensor) -> State:
        u3, v3, sum_g, sum_h = state
        grads = torch.autograd.grad(evaluation.energy.sum(), evaluation.leaves)
        g = scale[:, None, None, None] * grads[0]
        h = scale[:, None] * grads[1] if tags is not None else torch.zeros_like(v3)
        delta_u3, delta_v3 = subnets.step(g, h)
        return u3 + delta_u3, v3 + delta_v3, sum_g + g, sum_h + h

    state = (u3, v3, torch.zeros_like(u3), torch.zeros_like(v3))
    (*_, sum_g, sum_h), last, energy, stopped, u3_at = descend(
        state, evaluate, advance, steps, step_size, record
    )
    return IterativeInferenceResult.of_descent(
        subnets.refined_u1(u1, sum_g, sum_h) if return_features else None,
        subnets.refined_v1(v1, sum_g, sum_h),
        last,
        energy,
        stopped,
        u3_at,
    )
