"""Dilated torchvision ResNet backbones with output stride 8 or 16."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")

# Which of layer3/layer4 trade their stride for dilation, per output stride.
_DILATED_LAYERS = {8: ("layer3", "layer4"), 16: ("layer4",)}


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its classifier, dilated to a given output stride.

    ``forward(images)`` maps B×3×H×W to B×D×h×w with h = ceil(H / output_stride),
    D = 512 (ResNet-18/34) or 2048 (ResNet-50/101/152).
    """

    def __init__(
        self,
        name: str = "resnet101",
        output_stride: int = 8,
        pretrained: str | Path | None = None,
    ) -> None:
        super().__init__()
        if name not in RESNETS:
            raise ValueError(
                f"model.backbone: unknown backbone {name!r}; expected one of {RESNETS}"
            )
        if output_stride not in _DILATED_LAYERS:
            raise ValueError(f"model.output_stride: expected 8 or 16, got {output_stride!r}")
        resnet = getattr(torchvision.models, name)(weights=None)
        if pretrained == "imagenet":  # torchvision's own loading would unpickle arbitrary objects
            weights = torchvision.models.get_model_weights(name).DEFAULT
            resnet.load_state_dict(weights.get_state_dict(check_hash=True, weights_only=True))
        elif pretrained is not None:
            load_state_dict_file(resnet, Path(pretrained), strict_keys=_classifier_keys(resnet))
        dilation = 1
        for layer_name in ("layer3", "layer4"):
            if layer_name in _DILATED_LAYERS[output_stride]:
                dilation = dilate_resnet_layer(getattr(resnet, layer_name), dilation)
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.layer3, self.layer4 = resnet.layer3, resnet.layer4
        self.out_channels = resnet.fc.in_features
        self.output_stride = output_stride

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)
        x = self.layer2(self.layer1(x))
        return self.layer4(self.layer3(x))


def dilate_resnet_layer(layer: nn.Sequential, previous_dilation: int) -> int:
    """Replace the stride 2 of a ResNet layer by dilation, in place; return the new dilation.

    Works for BasicBlock and Bottleneck layers alike: the strided 3×3 conv of the first block
    keeps the previous dilation with stride 1, every later 3×3 conv gets twice that dilation
    (the same result as torchvision's ``replace_stride_with_dilation`` for Bottleneck nets).
    """
    dilation = previous_dilation * 2
    first_conv = True
    for block in layer:
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)
        block.stride = 1
        for conv in block.modules():
            if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (3, 3):
                continue
            d = previous_dilation if first_conv else dilation
            conv.stride, conv.dilation, conv.padding = (1, 1), (d, d), (d, d)
            first_conv = False
    return dilation


def _classifier_keys(resnet: nn.Module) -> frozenset[str]:
    return frozenset(name for name in resnet.state_dict() if name.startswith("fc."))


def load_state_dict_file(
    module: nn.Module, path: Path, strict_keys: frozenset[str] = frozenset()
) -> None:
    """Load a local state dict into ``module``; errors name the file and the keys that differ.

    Keys in ``strict_keys`` (e.g. a classifier the caller discards) may be missing from the file.
    """
    if not path.is_file():
        raise FileNotFoundError(f"model.pretrained: no state dict file at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ValueError(f"model.pretrained: state dict {path} does not fit: {error}") from error
    missing = [key for key in result.missing_keys if key not in strict_keys]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"model.pretrained: state dict {path} does not fit {type(module).__name__}: "
            f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, "
            f"unexpected keys {result.unexpected_keys[:10]}"
            f"{' ...' if len(result.unexpected_keys) > 10 else ''}"
        )
