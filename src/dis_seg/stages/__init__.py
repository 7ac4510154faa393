"""The three DIS training stages as LightningModules, and the pseudo labels of stage 3."""

from dis_seg.stages.base import DISModule
from dis_seg.stages.stage1 import Stage1Module
from dis_seg.stages.stage2 import Stage2Module
from dis_seg.stages.stage3 import Stage3Module

STAGES = (1, 2, 3)
"""The training stages, in order: stage N starts from the network of stage N − 1."""

__all__ = ["STAGES", "DISModule", "Stage1Module", "Stage2Module", "Stage3Module"]
