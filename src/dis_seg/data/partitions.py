"""The labelled partitions of semi-supervised VOC segmentation (``data.partition``).

Each partition is a published list of VOC 2012 image ids whose labelmaps are kept; the rest of
the training split is served as tag-only images. Two protocols:

- *classic* ``92``, ``183``, ``366``, ``732``, ``1464``: that many images of VOC ``train`` (the
  1,464 finely annotated ones; ``1464`` is the whole of it);
- *blended* ``1_16``, ``1_8``, ``1_4``: 662, 1,323 and 2,646 images drawn from the 10,582 of
  ``train_aug`` (VOC train with SBD's annotations).

In the literature both protocols take the rest of ``train_aug`` as the unlabelled images, so
both default to ``data.train_split=train_aug``; a classic partition may also take the rest of
VOC ``train`` alone (``train_split=train``). The lists ship with the package
(``partition_lists/pascal/<name>.txt``, README there for their source), with the reference
``train_aug.txt`` they are drawn from.

Hydra reads an unquoted ``1_16`` as the integer 116 (``_`` groups digits), so the names are
also accepted as those integers and as ``1/16``, ``1/8``, ``1/4``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

from dis_seg.data.files import read_text, report
from dis_seg.errors import ConfigError, DataError, MissingFileError

CLASSIC = ("92", "183", "366", "732", "1464")
BLENDED = ("1_16", "1_8", "1_4")
PARTITIONS = CLASSIC + BLENDED
# The training splits whose images hold each protocol's partitions.
TRAIN_SPLITS = {"classic": ("train_aug", "train"), "blended": ("train_aug",)}
LISTS = files(__package__) / "partition_lists" / "pascal"
_SPELLINGS = {
    **{name: name for name in PARTITIONS},
    **{name.replace("_", ""): name for name in BLENDED},
    **{name.replace("_", "/"): name for name in BLENDED},
}


def partition_name(value: str | int | None) -> str | None:
    """The partition ``data.partition`` names (module docstring), or None for null."""
    if value is None:
        return None
    if isinstance(value, bool) or str(value) not in _SPELLINGS:
        raise ConfigError(
            f"data.partition: expected null or one of {', '.join(PARTITIONS)}, got {value!r}"
        )
    return _SPELLINGS[str(value)]


def check_partition(
    value: str | int | None, train_split: str, labelled_fraction: float = 1.0
) -> str | None:
    """The partition's name, once ``train_split`` holds its images and no
    ``labelled_fraction`` < 1 competes with it; a :class:`ConfigError` otherwise."""
    name = partition_name(value)
    if name is None:
        return None
    if labelled_fraction != 1:
        raise ConfigError(
            f"data.partition: {name} and data.labelled_fraction={labelled_fraction} both choose "
            "the labelled images; set one of them (data.labelled_fraction=1.0 or "
            "data.partition=null)"
        )
    protocol = "classic" if name in CLASSIC else "blended"
    splits = TRAIN_SPLITS[protocol]
    if train_split not in splits:
        raise ConfigError(
            f"data.partition: {name} is drawn from VOC {splits[-1]}, which data.train_split="
            f"{train_split} does not hold; set data.train_split={' or '.join(splits)}"
        )
    return name


def partition_file(name: str) -> Path:
    """The shipped id list of partition ``name`` (or of the reference ``train_aug``)."""
    return Path(str(LISTS / f"{name}.txt"))


def partition_ids(name: str) -> list[str]:
    """The VOC image ids of partition ``name``, in the list's order."""
    return read_text(partition_file(name)).split()


def split_by_partition(
    ids: Sequence[str],
    name: str,
    split_list: Path,
    listed: Sequence[str] | None = None,
    on_error: Callable[[DataError], None] | None = None,
) -> tuple[list[int], list[int]]:
    """Positions in ``ids`` (a split's readable images) of partition ``name`` and of the rest.

    An id of the partition missing from ``listed`` (the ids ``split_list`` names; ``ids`` by
    default) is a :class:`MissingFileError` naming the partition list and the id; one listed
    but not readable was reported by the split's reader and is left out here.
    """
    position = {image_id: i for i, image_id in enumerate(ids)}
    listed = set(ids if listed is None else listed)
    chosen = set()
    for number, image_id in enumerate(partition_ids(name), start=1):
        if image_id in position:
            chosen.add(position[image_id])
        elif image_id not in listed:
            message = (
                f"{partition_file(name)}:{number}: image {image_id} of partition {name} is not "
                f"in {split_list}"
            )
            report(MissingFileError(message), on_error)
    rest = [i for i in range(len(ids)) if i not in chosen]
    return sorted(chosen), rest
