"""The one schema of dis-seg's configs: the type and range of every key of the train, evaluate,
predict and diagnose configs, checked before a run creates anything.

Each config is a pydantic model that forbids keys it does not know, so a key added to a YAML
file without its place here is refused by the tests that validate every shipped config. Values
are read as Hydra composed them (no coercion: ``seed=abc`` is a string, not a seed). Nodes that
are instantiated and check their own arguments (``trainer``, ``logger``, ``callbacks``) are
taken as they are; the Trainer is built before the run by :mod:`dis_seg.runs.preflight`.

:func:`validate` raises :class:`~dis_seg.errors.ConfigError` with one line naming the first
key at fault and what was expected, e.g. ``data.batch_size: expected an integer ≥ 1, got 0``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from dis_seg.data.partitions import check_partition, partition_name
from dis_seg.errors import ConfigError
from dis_seg.inference.options import METHODS
from dis_seg.models.backbone import RESNETS
from dis_seg.models.dis_net import RECON_SCALES
from dis_seg.stages import STAGES
from dis_seg.stages.optim import OPTIMIZERS
from dis_seg.stages.reconstruction import RECON_FITS

MISSING = "???"
DIAGNOSED_SPLITS = ("val", "test/voc", "test/idw")


def _checked(check: Callable[[Any], str | None], optional: bool) -> Any:
    """A field type whose value ``check`` judges: it returns what was expected, or ``None``
    when the value is right; ``optional`` also admits ``null``."""

    def validate(value: Any) -> Any:
        _refuse_unknowable(value)
        if value is None and optional:
            return value
        expected = check(value)
        if expected is not None:
            raise ValueError(f"{expected}, got {value!r}")
        return value

    return Annotated[Any, PlainValidator(validate)]


class Unresolved:
    """A value whose interpolation could not be resolved, and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _refuse_unknowable(value: Any) -> None:
    """Raise for a missing (``???``) or unresolvable value, which no check can judge."""
    if isinstance(value, Unresolved):
        raise ValueError(f"cannot be resolved ({value.reason})")
    if value == MISSING:
        raise ValueError(MISSING)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int = 0, optional: bool = False) -> Any:
    """An integer ≥ ``minimum``."""
    expected = f"expected an integer ≥ {minimum}"
    return _checked(lambda v: None if _is_int(v) and v >= minimum else expected, optional)


def number(
    low: float | None = 0,
    high: float | None = None,
    *,
    low_open: bool = True,
    high_open: bool = False,
    optional: bool = False,
) -> Any:
    """A finite number between ``low`` and ``high`` (either end open or closed)."""
    if high is None:
        expected = f"expected a number {'>' if low_open else '≥'} {low:g}"
    else:
        expected = (
            f"expected a number in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}"
        )

    def within(value: Any) -> bool:
        above = low is None or (value > low if low_open else value >= low)
        below = high is None or (value < high if high_open else value <= high)
        return above and below

    return _checked(lambda v: None if _is_number(v) and within(v) else expected, optional)


def choice(values: Sequence[Any], optional: bool = False) -> Any:
    """One of ``values`` (booleans are not the integers 0 and 1 here)."""

    def check(value: Any) -> str | None:
        known = not isinstance(value, bool) and value in values
        return None if known else f"unknown value {value!r}; expected one of {tuple(values)}"

    def validate(value: Any) -> Any:
        _refuse_unknowable(value)
        if value is None and optional:
            return value
        expected = check(value)
        if expected is not None:
            raise ValueError(expected)
        return value

    return Annotated[Any, PlainValidator(validate)]


def flag(optional: bool = False) -> Any:
    """``true`` or ``false``."""
    return _checked(lambda v: None if isinstance(v, bool) else "expected true or false", optional)


def text(optional: bool = False) -> Any:
    """A string that is not empty (a name or a path)."""
    expected = "expected a non-empty string"
    return _checked(lambda v: None if isinstance(v, str) and v else expected, optional)


def names(optional: bool = True) -> Any:
    """A list of non-empty strings."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        return None if ok else "expected a list of names"

    return _checked(check, optional)


def integers(minimum: int = 0) -> Any:
    """A list of integers ≥ ``minimum``."""

    def validate(value: Any) -> Any:
        _refuse_unknowable(value)
        if not isinstance(value, list):
            raise ValueError(f"expected a list of integers ≥ {minimum}, got {value!r}")
        for item in value:
            if not (_is_int(item) and item >= minimum):
                raise ValueError(f"expected integers ≥ {minimum}, got {item!r}")
        return value

    return Annotated[Any, PlainValidator(validate)]


def positive_numbers() -> Any:
    """A non-empty list of finite numbers > 0."""

    def validate(value: Any) -> Any:
        _refuse_unknowable(value)
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list of numbers > 0, got {value!r}")
        for item in value:
            if not (_is_number(item) and item > 0):
                raise ValueError(f"expected numbers > 0, got {item!r}")
        return value

    return Annotated[Any, PlainValidator(validate)]


def device() -> Any:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` of a GPU this machine has."""

    def check(value: Any) -> str | None:
        if value == "auto":
            return None
        try:
            chosen = torch.device(value)
        except (RuntimeError, TypeError):
            chosen = None
        if chosen is None or chosen.type not in ("cpu", "cuda"):
            return "unknown device; expected auto, cpu, cuda or cuda:N"
        if chosen.type == "cuda" and not torch.cuda.is_available():
            return "this machine has no CUDA GPU; expected auto or cpu"
        count = torch.cuda.device_count() if chosen.type == "cuda" else 0
        if chosen.type == "cuda" and (chosen.index or 0) >= count:
            return f"this machine has {count} CUDA GPU(s)"
        return None

    return _checked(check, optional=False)


def _synthetic(value: Any) -> Any:
    _refuse_unknowable(value)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected the generator's parameters or null, got {value!r}")
    return value


def _partition(value: Any) -> Any:
    _refuse_unknowable(value)
    try:
        partition_name(value)
    except ConfigError as error:
        raise ValueError(str(error).removeprefix("data.partition: ")) from None
    return value


def _inconsistent(key: str, message: str) -> PydanticCustomError:
    """The error of a check across the keys of a node, naming ``key`` within it."""
    return PydanticCustomError("inconsistent", "{key}: {message}", {"key": key, "message": message})


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


class Data(Node):
    target: text() = Field(alias="_target_")
    voc_root: text(optional=True)
    train_split: text()
    val_split: text(optional=True)
    test_split: text(optional=True)
    idw_root: text(optional=True)
    idw_annotations: text()
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
    synthetic: Annotated[Any, PlainValidator(_synthetic)]
    partition: Annotated[Any, PlainValidator(_partition)]
    tag_only_rest: flag()
    tag_noise: TagNoise | None

    @model_validator(mode="after")
    def _consistent(self) -> Data:
        if self.labelled_per_batch > self.batch_size:
            raise _inconsistent(
                "labelled_per_batch",
                f"expected at most data.batch_size ({self.batch_size}), "
                f"got {self.labelled_per_batch}",
            )
        if len(self.scale_range) != 2 or self.scale_range[0] > self.scale_range[1]:
            raise _inconsistent("scale_range", f"expected [low, high], got {self.scale_range}")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise _inconsistent(
                "class_names",
                f"{len(self.class_names)} names for data.num_classes {self.num_classes}",
            )
        if self.generate_if_missing and not self.synthetic:
            raise _inconsistent("generate_if_missing", "true needs data.synthetic, the generator's")
        try:
            check_partition(self.partition, self.train_split, self.labelled_fraction)
        except ConfigError as error:
            raise _inconsistent("partition", str(error).removeprefix("data.partition: ")) from None
        return self


class Model(Node):
    backbone: choice(RESNETS)
    num_classes: integer(2)
    output_stride: choice((8, 16))
    pretrained: text(optional=True)
    fusion: choice(("sum", "concat"))
    recon_input: choice(("probs", "logits"))
    recon_channels: Annotated[Any, PlainValidator(lambda v: _each_positive(v))]
    recon_scale: choice(RECON_SCALES)
    channels_last: flag()
    compile_backbone: flag()


def _each_positive(value: Any) -> Any:
    _refuse_unknowable(value)
    if not isinstance(value, list) or not all(_is_int(v) and v >= 1 for v in value):
        raise ValueError(f"expected a list of integers ≥ 1, got {value!r}")
    return value


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


SCHEMAS: dict[str, type[Node]] = {
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "predict": PredictConfig,
    "diagnose": DiagnoseConfig,
}
"""The schema of each app's config, by the name of its config file."""


def validate(cfg: DictConfig, app: str) -> None:
    """Raise :class:`~dis_seg.errors.ConfigError` naming the first key of ``cfg`` (the task
    config of ``app``: ``train``, ``evaluate``, ``predict`` or ``diagnose``) that breaks its
    schema."""
    container = resolved(cfg)
    try:
        SCHEMAS[app].model_validate(container)
    except ValidationError as error:
        raise ConfigError(_first_problem(error, container)) from None
    for key, value in _leaves(container):
        if isinstance(value, Unresolved):
            raise ConfigError(f"{key}: cannot be resolved ({value.reason})")


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """``cfg`` as plain values, every interpolation resolved, a missing value (``???``) kept
    as such; an interpolation that cannot be resolved becomes :class:`Unresolved`, except one
    that reads Hydra's runtime outside a run (left as written)."""
    raw = OmegaConf.to_container(cfg, resolve=False)

    def walk(node: Any, prefix: str) -> Any:
        if isinstance(node, dict):
            return {name: walk(value, f"{prefix}{name}.") for name, value in node.items()}
        key = prefix[:-1]
        if node == MISSING:
            return node
        try:
            value = OmegaConf.select(cfg, key, throw_on_missing=False)
            return (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        except OmegaConfBaseException as error:
            if "HydraConfig was not set" in str(error):
                return node
            return Unresolved(str(error).splitlines()[0])

    return walk(raw, "")


def _first_problem(error: ValidationError, container: dict[str, Any]) -> str:
    """One line for the first error pydantic found: the dotted key, then what is wrong."""
    problem = error.errors(include_url=False)[0]
    location = [str(part) for part in problem["loc"]]
    key = ".".join("_target_" if part == "target" else part for part in location)
    kind = problem["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key; {_guess(key, container)}"
    if kind == "missing":
        return f"{key}: missing; set it ({key}=...)"
    if kind == "inconsistent":
        return f"{key}.{problem['msg']}" if key else problem["msg"]
    cause = problem.get("ctx", {}).get("error")
    message = str(cause) if cause is not None else problem["msg"]
    if message == MISSING:
        return f"{key}: missing; set it on the command line ({key}=...)"
    return f"{key}: {message}"


def _guess(key: str, container: dict[str, Any]) -> str:
    """``did you mean X?`` for an unknown dotted key, from the keys the config has."""
    known = [other for other in dotted_keys(container) if other != key]
    guesses = difflib.get_close_matches(key, known, n=3)
    return f"did you mean {' or '.join(guesses)}?" if guesses else "--cfg job lists the keys"


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf of a config container."""
    if not isinstance(node, dict) or not node:
        return [(prefix[:-1], node)] if prefix else []
    return [leaf for name, value in node.items() for leaf in _leaves(value, f"{prefix}{name}.")]


def dotted_keys(node: Any) -> list[str]:
    """Every leaf key of a config container, dotted."""
    return [key for key, _ in _leaves(node)]
