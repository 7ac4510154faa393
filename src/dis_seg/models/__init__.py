"""The DIS network."""

from dis_seg.models.backbone import RESNETS, ResNetBackbone
from dis_seg.models.dis_net import DISNet, DISOutput, upsample_logits

__all__ = ["RESNETS", "DISNet", "DISOutput", "ResNetBackbone", "upsample_logits"]
