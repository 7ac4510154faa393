"""The three DIS training stages as LightningModules, and the pseudo labels of stage 3."""

from dis_seg.stages.base import DISModule
from dis_seg.stages.stage1 import Stage1Module
from dis_seg.stages.stage2 import Stage2Module
from dis_seg.stages.stage3 import Stage3Module

__all__ = ["DISModule", "Stage1Module", "Stage2Module", "Stage3Module"]
