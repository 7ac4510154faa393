"""The schema's nodes of the ``data`` config: the data module's keys, the synthetic
generator's and the tag noise of descriptions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator

from dis_seg.data.partitions import check_partition, partition_name
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.errors import ConfigError
from dis_seg.runs.schema.values import (
    Node,
    choice,
    flag,
    inconsistent,
    integer,
    names,
    number,
    positive_numbers,
    probabilities,
    refuse_unknowable,
    text,
)


def _partition(value: Any) -> Any:
    refuse_unknowable(value)
    try:
        partition_name(value)
    except ConfigError as error:
        raise ValueError(str(error).removeprefix("data.partition: ")) from None
    return value


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
