"""LightningModules of the three DIS training stages."""

from dis_seg.modules.base import DISModule
from dis_seg.modules.stages import Stage1Module, Stage2Module, Stage3Module

STAGE_MODULES = {1: Stage1Module, 2: Stage2Module, 3: Stage3Module}

__all__ = ["STAGE_MODULES", "DISModule", "Stage1Module", "Stage2Module", "Stage3Module"]
