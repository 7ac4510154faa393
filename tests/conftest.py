"""Fixtures shared by the whole suite."""

import pytest
import torch

from dis_seg.models import DISNet


@pytest.fixture
def tiny_model() -> DISNet:
    """A random-init ResNet-18 DIS network with 5 classes (D = 512)."""
    torch.manual_seed(0)
    return DISNet("resnet18", num_classes=5, output_stride=8)
