"""Lightning callbacks of dis-seg."""

from dis_seg.callbacks.evaluation import IterativeInferenceCallback, step_schedule
from dis_seg.callbacks.interrupt_checkpoint import InterruptCheckpoint
from dis_seg.callbacks.wandb_images import WandbImageCallback

__all__ = [
    "InterruptCheckpoint",
    "IterativeInferenceCallback",
    "WandbImageCallback",
    "step_schedule",
]
