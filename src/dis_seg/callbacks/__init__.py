"""Lightning callbacks of dis-seg."""

from dis_seg.callbacks.iterative_inference import IterativeInferenceCallback, step_schedule
from dis_seg.callbacks.wandb_images import WandbImageCallback

__all__ = ["IterativeInferenceCallback", "WandbImageCallback", "step_schedule"]
