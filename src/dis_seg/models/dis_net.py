"""The DIS network: a dilated ResNet and three subnets (labelmap, reconstruction, tags)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from dis_seg.models.backbone import ResNetBackbone

RECON_SCALES = (1, 2, 4)
"""The factors by which subnet-2 may upsample u3 (``recon_scale``)."""


@dataclass
class DISOutput:
    """What the network computes for a batch.

    u1: B×D×h×w pixel features; v1: B×D image features; u3: B×C×h×w labelmap logits;
    z3: B×3×h×w reconstruction (normalised image space); v3: B×C tag logits;
    logits: B×C×H×W labelmap logits upsampled to the input size.
    """

    u1: torch.Tensor
    v1: torch.Tensor
    u3: torch.Tensor
    z3: torch.Tensor
    v3: torch.Tensor
    logits: torch.Tensor


class TagFusion(nn.Module):
    """Subnet-3's fusion of v1 and p = avgpool(u1) into v2 (B×D each).

    ``sum``: v2 = v1 + p (no parameters). ``concat``: v2 = linear(concat(v1, p)), 2D → D.
    """

    def __init__(self, channels: int, mode: Literal["sum", "concat"] = "sum") -> None:
        super().__init__()
        if mode not in ("sum", "concat"):
            raise ValueError(f"model.fusion: expected 'sum' or 'concat', got {mode!r}")
        self.mode = mode
        self.linear = nn.Linear(2 * channels, channels) if mode == "concat" else None

    def forward(self, v1: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        if self.linear is None:
            return v1 + pooled
        return self.linear(torch.cat([v1, pooled], dim=1))


def reconstruction_subnet(num_classes: int, channels: tuple[int, ...]) -> nn.Sequential:
    """Subnet-2: 3×3 convs C → channels[0] → ... → 3 with ReLU between them."""
    widths = (num_classes, *channels, 3)
    layers: list[nn.Module] = []
    for index, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
        if index > 0:
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1))
    return nn.Sequential(*layers)


class DISNet(nn.Module):
    """DIS (Luo et al., ICCV 2017) on a torchvision ResNet.

    Args:
        backbone: ``resnet18|34|50|101|152``.
        num_classes: C, background included.
        output_stride: 8 or 16 (layer3/layer4 dilated).
        pretrained: ``None`` (random init), ``"imagenet"`` (torchvision weights, downloaded), or
            the path of a local ResNet state dict.
        fusion: subnet-3's fusion of v1 and avgpool(u1): ``"sum"`` or ``"concat"``.
        recon_input: subnet-2 reads ``"probs"`` (softmax of u3) or ``"logits"`` (u3 itself).
        recon_channels: hidden widths of subnet-2 (three convs for two widths).
        recon_scale: subnet-2 reads u3 bilinearly upsampled by this factor (1, 2 or 4) and
            reconstructs the image at that size, so that it sees the shapes of small objects.
        channels_last: keep conv weights, and the images ``encode`` reads, in channels-last
            memory format (faster convs on GPUs with tensor cores and on many CPUs).
        compile_backbone: ``torch.compile`` the backbone in place (compiled on first use; the
            state dict keeps its keys).
    """

    def __init__(
        self,
        backbone: str = "resnet101",
        num_classes: int = 21,
        output_stride: int = 8,
        pretrained: str | Path | None = None,
        fusion: Literal["sum", "concat"] = "sum",
        recon_input: Literal["probs", "logits"] = "probs",
        recon_channels: tuple[int, ...] = (64, 64),
        recon_scale: int = 1,
        channels_last: bool = False,
        compile_backbone: bool = False,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"model.num_classes: expected at least 2, got {num_classes}")
        if recon_input not in ("probs", "logits"):
            raise ValueError(
                f"model.recon_input: expected 'probs' or 'logits', got {recon_input!r}"
            )
        if recon_scale not in RECON_SCALES:
            raise ValueError(f"model.recon_scale: expected 1, 2 or 4, got {recon_scale!r}")
        self.num_classes = num_classes
        self.recon_input = recon_input
        self.recon_scale = recon_scale
        self.backbone = ResNetBackbone(backbone, output_stride, pretrained)
        channels = self.backbone.out_channels
        self.labelmap_head = nn.Conv2d(2 * channels, num_classes, kernel_size=3, padding=1)
        self.reconstruction_head = reconstruction_subnet(num_classes, tuple(recon_channels))
        self.tag_fusion = TagFusion(channels, fusion)
        self.tag_head = nn.Linear(channels, num_classes)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if compile_backbone:
            self.backbone.compile()

    def head_modules(self) -> list[nn.Module]:
        """The three subnets (everything but the backbone)."""
        return [self.labelmap_head, self.reconstruction_head, self.tag_fusion, self.tag_head]

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features: images B×3×H×W → (u1 B×D×h×w, v1 B×D, the global average of u1)."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        u1 = self.backbone(images)
        return u1, u1.mean(dim=(2, 3))

    def segment(self, u1: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
        """Subnet-1: u3 = conv3x3(concat(u1, broadcast(v1))); B×D×h×w, B×D → B×C×h×w.

        For a zero-padded ``nn.Conv2d`` (the default) the same sum without the 2D-channel
        concatenation: conv(u1) over the u1 half of the weight, plus the broadcast half, whose
        tap a adds ``W_v,a v1`` wherever it falls inside the map: one conv of a map of ones
        with a kernel per sample.
        """
        head = self.labelmap_head
        if type(head) is not nn.Conv2d or head.padding_mode != "zeros" or head.groups != 1:
            broadcast = v1[:, :, None, None].expand(-1, -1, *u1.shape[2:])
            return head(torch.cat([u1, broadcast], dim=1))
        features, geometry = u1.shape[1], (head.stride, head.padding, head.dilation)
        weight_u, weight_v = head.weight[:, :features], head.weight[:, features:]
        classes, _, kh, kw = weight_v.shape
        # a product and sum rather than a matmul: no sample's result depends on the batch size
        taps = (v1[:, :, None] * weight_v.transpose(0, 1).flatten(1)).sum(dim=1)
        per_sample = taps.view(-1, 1, kh, kw)
        ones = u1.new_ones(1, 1, *u1.shape[2:])
        broadcast = F.conv2d(ones, per_sample, None, *geometry)
        broadcast = broadcast.view(len(v1), classes, *broadcast.shape[2:])
        return F.conv2d(u1, weight_u, head.bias, *geometry) + broadcast

    def reconstruct(self, u3: torch.Tensor) -> torch.Tensor:
        """Subnet-2: labelmap logits u3 B×C×h×w → image reconstruction z3 B×3×sh×sw
        (s = ``recon_scale``)."""
        if self.recon_scale > 1:
            u3 = F.interpolate(
                u3, scale_factor=self.recon_scale, mode="bilinear", align_corners=False
            )
        return self.reconstruct_labelmap(u3.softmax(dim=1) if self.recon_input == "probs" else u3)

    def reconstruct_labelmap(self, labelmap: torch.Tensor) -> torch.Tensor:
        """Subnet-2 alone on a labelmap as it reads one, B×C×sh×sw: class probabilities
        (``recon_input="probs"``) or logits → z3 B×3×sh×sw."""
        return self.reconstruction_head(labelmap)

    def classify(self, u1: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
        """Subnet-3: tag logits v3 B×C from v1 B×D and the spatial average of u1 B×D×h×w."""
        return self.tag_head(self.tag_fusion(v1, u1.mean(dim=(2, 3))))

    def decode(self, u1: torch.Tensor, v1: torch.Tensor, size: tuple[int, int]) -> DISOutput:
        """All three subnets on given features; labelmap logits upsampled to ``size`` (H, W)."""
        u3 = self.segment(u1, v1)
        return DISOutput(
            u1=u1,
            v1=v1,
            u3=u3,
            z3=self.reconstruct(u3),
            v3=self.classify(u1, v1),
            logits=upsample_logits(u3, size),
        )

    def forward(self, images: torch.Tensor) -> DISOutput:
        """images B×3×H×W (normalised) → :class:`DISOutput`."""
        u1, v1 = self.encode(images)
        return self.decode(u1, v1, images.shape[-2:])


def upsample_logits(u3: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of B×C×h×w logits to B×C×H×W."""
    return F.interpolate(u3, size=tuple(size), mode="bilinear", align_corners=False)
