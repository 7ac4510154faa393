"""The nodes of the schema: one pydantic model per config node, each forbidding keys it does
not know, and one model per app's config (:data:`SCHEMAS`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from dis_seg.data.partitions import check_partition, partition_name
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import ConfigError
from dis_seg.inference.options import METHODS
from dis_seg.models.backbone import RESNETS
from dis_seg.models.dis_net import RECON_SCALES
from dis_seg.runs.compare import ARMS
from dis_seg.runs.schema.values import (
    choice,
    device,
    flag,
    inconsistent,
    integer,
    integers,
    names,
    number,
    positive_integers,
    positive_numbers,
    probabilities,
    refuse_unknowable,
    text,
)
from dis_seg.stages import STAGES
from dis_seg.stages.batch_statistics import BN_STATISTICS
from dis_seg.stages.optim import OPTIMIZERS
from dis_seg.stages.reconstruction import RECON_FITS

DIAGNOSED_SPLITS = ("val", "test/voc", "test/idw")


def _partition(value: Any) -> Any:
    refuse_unknowable(value)
    try:
        partition_name(value)
    except ConfigError as error:
        raise ValueError(str(error).removeprefix("data.partition: ")) from None
    return value


class Node(BaseModel):
    """A config node: every key known, none missing, values as composed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Paths(Node):
    root_dir: text()
    data_dir: text()
    voc_root: text()
    idw_root: text()
    coco_root: text()
    output_root: text()
    output_dir: text()


class TagNoise(Node):
    small_area: number(0, 1, low_open=False)
    drop_small: number(0, 1, low_open=False)
    drop_large: number(0, 1, low_open=False)
    add: number(0, 1, low_open=False)


class Synthetic(Node):
    """The generator's parameters (dis_seg.data.synthetic.generate)."""

    out: text()
    seed: integer(0)
    size: integer(16)
    num_labelled: integer(1)
    num_tag_only: integer(1)
    num_val: integer(1)
    num_test: integer(1)
    num_idw_test: integer(1)
    tag_noise: probabilities(2)
    classes: names()

    @model_validator(mode="after")
    def _known_classes(self) -> Synthetic:
        unknown = [name for name in self.classes or () if name not in VOC_CLASSES[1:]]
        if unknown or self.classes == []:
            raise inconsistent("classes", f"expected VOC object classes or null, got {unknown}")
        return self


class Data(Node):
    target: text() = Field(alias="_target_")
    voc_root: text(optional=True)
    train_split: text()
    val_split: text(optional=True)
    test_split: text(optional=True)
    idw_root: text(optional=True)
    idw_annotations: text(optional=True)
    idw_images: text()
    idw_hidden_labelmaps: text(optional=True)
    idw_clean_tags: text(optional=True)
    idw_test_annotations: text(optional=True)
    idw_test_labelmaps: text(optional=True)
    batch_size: integer(1)
    labelled_per_batch: integer(1)
    labelled_fraction: number(0, 1)
    eval_batch_size: integer(1)
    crop_size: integer(1)
    scale_range: positive_numbers()
    hflip_prob: number(0, 1, low_open=False)
    colour_jitter: number(0, 1, low_open=False)
    output_stride: choice((8, 16), optional=True)
    num_classes: integer(2)
    class_names: names()
    seed: integer(0)
    num_workers: integer(0)
    pin_memory: flag()
    persistent_workers: flag()
    generate_if_missing: flag()
    synthetic: Synthetic | None
    partition: Annotated[Any, PlainValidator(_partition)]
    tag_only_rest: flag()
    tag_noise: TagNoise | None

    @model_validator(mode="after")
    def _consistent(self) -> Data:
        if self.labelled_per_batch > self.batch_size:
            raise inconsistent(
                "labelled_per_batch",
                f"expected at most data.batch_size ({self.batch_size}), "
                f"got {self.labelled_per_batch}",
            )
        if len(self.scale_range) != 2 or self.scale_range[0] > self.scale_range[1]:
            raise inconsistent("scale_range", f"expected [low, high], got {self.scale_range}")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise inconsistent(
                "class_names",
                f"{len(self.class_names)} names for data.num_classes {self.num_classes}",
            )
        if self.generate_if_missing and not self.synthetic:
            raise inconsistent("generate_if_missing", "true needs data.synthetic, the generator's")
        try:
            check_partition(self.partition, self.train_split, self.labelled_fraction)
        except ConfigError as error:
            raise inconsistent("partition", str(error).removeprefix("data.partition: ")) from None
        return self


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
    step_options: StepOptions
    pseudo_features: choice(("eval", "train"))
    recon_fit: choice(RECON_FITS)
    seg_weight: number(low_open=False)
    pseudo_seg_weight: number(low_open=False)
    tag_weight: number(low_open=False)
    recon_weight: number(low_open=False)


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
