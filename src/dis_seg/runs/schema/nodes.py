"""The nodes of the schema: one pydantic model per config node, each forbidding keys it does
not know, and one model per app's config (:data:`SCHEMAS`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dis_seg.inference.options import METHODS
from dis_seg.models.backbone import RESNETS
from dis_seg.models.dis_net import RECON_SCALES
from dis_seg.runs.compare import ARMS
from dis_seg.runs.schema.data_nodes import Data
from dis_seg.runs.schema.values import (
    Node,
    choice,
    device,
    flag,
    integer,
    integers,
    names,
    number,
    positive_integers,
    positive_numbers,
    text,
)
from dis_seg.stages import STAGES
from dis_seg.stages.batch_statistics import BN_STATISTICS
from dis_seg.stages.optim import OPTIMIZERS
from dis_seg.stages.reconstruction import RECON_FITS

DIAGNOSED_SPLITS = ("val", "test/voc", "test/idw")


class Paths(Node):
    root_dir: text()
    data_dir: text()
    voc_root: text()
    idw_root: text()
    coco_root: text()
    output_root: text()
    output_dir: text()


class Model(Node):
    backbone: choice(RESNETS)
    num_classes: integer(2)
    output_stride: choice((8, 16))
    pretrained: text(optional=True)
    fusion: choice(("sum", "concat"))
    recon_input: choice(("probs", "logits"))
    recon_channels: positive_integers()
    recon_scale: choice(RECON_SCALES)
    channels_last: flag()
    compile_backbone: flag()


class Control(Node):
    monotone: flag()
    max_change: number(optional=True)
    stall_tolerance: number(optional=True)


class Inference(Node):
    """The ``inference`` group; evaluate, predict and diagnose may leave ``step_size`` and
    ``tag_weight`` to the checkpoint (``null``)."""

    step_size: number(optional=True)
    tag_weight: number(low_open=False, optional=True)
    method: choice(METHODS)
    cuda_graphs: flag()
    compile_steps: flag()
    control: Control
    schedule: integers(0)


class TrainInference(Inference):
    step_size: number()
    tag_weight: number(low_open=False)


class Evaluation(Node):
    mode: choice(("whole", "slide"))
    window: integer(1, optional=True)
    stride: integer(1, optional=True)
    scales: positive_numbers()
    flip: flag()
    per_image: flag()


class Optimizer(Node):
    name: choice(tuple(OPTIMIZERS))
    lr: number()
    momentum: number(0, 1, low_open=False, high_open=True)
    weight_decay: number(low_open=False)
    head_lr_mult: number()
    poly_power: number(low_open=False)


class Epochs(Node):
    stage1: integer(1)
    stage2: integer(1)
    stage3: integer(1)


class Checkpoints(Node):
    dir: text()
    every_n_steps: integer(0)


class Module(Node):
    """What every stage's LightningModule takes."""

    target: text() = Field(alias="_target_")
    model: Model
    optimizer: Optimizer
    class_names: names()


class Stage1Module(Module):
    seg_weight: number(low_open=False)
    tag_weight: number(low_open=False)
    bn_statistics: choice(BN_STATISTICS)
    lr_epochs_after: integer(0)


class Stage2Module(Module):
    recon_fit: choice(RECON_FITS)


class StepOptions(Node):
    method: choice(METHODS)
    cuda_graphs: flag()
    control: Control
    compile_steps: flag()


class Stage3Module(Module):
    ttr: integer(0)
    step_size: number()
    inference_tag_weight: number(low_open=False)
    tag_threshold: number(0, 1, high_open=True)
    tag_margin: number(0, 1, low_open=False, high_open=True)
    suppress_absent: flag()
    pseudo_confidence: number(0, 1, low_open=False, high_open=True)
    step_options: StepOptions
    pseudo_features: choice(("eval", "train"))
    bn_statistics: choice(BN_STATISTICS)
    recon_fit: choice(RECON_FITS)
    seg_weight: number(low_open=False)
    pseudo_seg_weight: number(low_open=False)
    tag_weight: number(low_open=False)
    recon_weight: number(low_open=False)
    lr_mult: number()
    lr_epochs_before: integer(0)
    warmup_steps: integer(0)


class Stage(Node):
    init_from: text(optional=True)
    test_tts: integer(0)


class Stage1(Stage):
    module: Stage1Module


class Stage2(Stage):
    module: Stage2Module


class Stage3(Stage):
    module: Stage3Module


class Stages(Node):
    s1: Stage1
    s2: Stage2
    s3: Stage3


Instantiated = dict[str, Any] | None


class TrainConfig(Node):
    stage: choice(STAGES)
    stage_config: Any
    run_name: text()
    run_dir: text()
    experiment_name: text()
    seed: integer(0)
    ttr: integer(0)
    tts: integer(0)
    recon_fit: choice(RECON_FITS)
    epochs: Epochs
    optimizer: Optimizer
    ckpt_path: text(optional=True)
    checkpoints: Checkpoints
    paths: Paths
    data: Data
    model: Model
    trainer: Instantiated
    logger: Instantiated
    callbacks: Instantiated
    inference: TrainInference
    evaluation: Evaluation
    stages: Stages


class EvaluateConfig(Node):
    ckpt_path: text()
    tts: integer(0)
    ttr: integer(0, optional=True)
    seed: integer(0)
    paths: Paths
    data: Data
    trainer: Instantiated
    inference: Inference
    evaluation: Evaluation


class PredictConfig(Node):
    ckpt_path: text()
    input_dir: text()
    output_dir: text()
    tts: integer(0)
    inference: Inference
    overlays: flag()
    overlay_alpha: number(0, 1, low_open=False)
    tags_json: flag()
    class_names: names()
    device: device()
    overwrite: flag()


class DiagnoseConfig(Node):
    ckpt_path: text()
    split: choice(DIAGNOSED_SPLITS)
    tts: integer(0)
    ttr: integer(0, optional=True)
    boundary_radius: integer(1, optional=True)
    tag_threshold: number(0, 1, high_open=True, optional=True)
    tag_margin: number(0, 1, low_open=False, high_open=True, optional=True)
    suppress_absent: flag(optional=True)
    device: device()
    seed: integer(0)
    paths: Paths
    data: Data
    inference: Inference
    logger: Instantiated
    # a debug config may set it for every app; diagnosing builds no Trainer
    trainer: Instantiated = None


class CompareConfig(Node):
    arm: choice(ARMS)
    data_seed: integer(0)
    train: names(optional=False)
    seeded: names(optional=False)
    compare_dir: text()
    paths: Paths


SCHEMAS: dict[str, type[Node]] = {
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "predict": PredictConfig,
    "diagnose": DiagnoseConfig,
    "compare": CompareConfig,
}
"""The schema of each app's config, by the name of its config file."""
