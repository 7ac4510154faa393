"""Inspect a prepared data set without training (the checks of ``dis-seg-check-data``).

Reads every sample of each split a ``data`` config (the DISDataModule arguments) names, through
the data readers and their own checks:

- ``train``, ``val``, ``test``: the VOC lists ``data.train_split``, ``val_split`` and
  ``test_split`` under ``data.voc_root`` (a list named twice is read once); with
  ``data.partition``, every id of the partition must be listed by ``train_split``;
- ``idw``: the IDW tag-only images of ``data.idw_annotations`` under ``data.idw_root``;
- ``idw_test``: the labelled IDW test split ``data.idw_test_annotations``, when set.

Problems are collected, not stopped at: each image counts once, under the first problem found
(``missing`` file, ``unreadable image``, ``bad mask``: unreadable, wrong size, a value outside
``0..C-1`` and 255, RGB; ``unknown tag``; ``bad entry``: any other problem of a list line
or record); a split that cannot be listed at all (missing folder or list, a malformed list,
an image listed twice) counts under ``listing``. The report is a table of counts per split,
then the problems, each naming its file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm import tqdm

from dis_seg.data.idw import IDWTags
from dis_seg.data.images import read_rgb
from dis_seg.data.partitions import check_partition, split_by_partition
from dis_seg.data.tags import VOC_CLASSES
from dis_seg.data.voc import VOCSegmentation
from dis_seg.errors import DataError, MissingFileError, UnknownTagError

MISSING = "missing"
UNREADABLE = "unreadable image"
BAD_MASK = "bad mask"
UNKNOWN_TAG = "unknown tag"
BAD_ENTRY = "bad entry"
LISTING = "listing"
KINDS = (MISSING, UNREADABLE, BAD_MASK, UNKNOWN_TAG, BAD_ENTRY, LISTING)
# Problems listed per split and kind; a problem repeated over a whole split shows its pattern
# in the first few.
SHOWN = 20
OnError = Callable[[DataError], None]


@dataclass
class Split:
    """A split to check: its name, what it reads, and how to open its reader with
    ``open(on_error=...)``."""

    name: str
    source: str
    open: Callable[..., Dataset]


@dataclass
class SplitReport:
    """The images read without a problem, and the problems as (kind, error) pairs."""

    name: str
    source: str
    ok: int = 0
    problems: list[tuple[str, DataError]] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.problems if k == kind)


def _voc(
    root: str | None,
    split: str,
    class_names: Sequence[str],
    on_error: OnError,
    partition: str | None = None,
) -> VOCSegmentation:
    if root is None:
        raise DataError("data.voc_root is not set: point it (or VOC_ROOT) at a VOC2012 folder")
    reader = VOCSegmentation(root, split, class_names=class_names, on_error=on_error)
    if partition is not None:
        split_by_partition(reader.ids, partition, reader.list_file, reader.listed, on_error)
    return reader


def _idw(root: str | None, annotations: str, on_error: OnError, **kwargs) -> IDWTags:
    if root is None:
        raise DataError("data.idw_root is not set: point it (or IDW_ROOT) at an IDW folder")
    return IDWTags(root, annotations, on_error=on_error, **kwargs)


def configured_splits(data: DictConfig) -> list[Split]:
    """The splits that the ``data`` config (the DISDataModule arguments) reads; a
    :class:`~dis_seg.errors.ConfigError` for a partition its ``train_split`` cannot hold."""
    class_names = tuple(data.class_names or VOC_CLASSES)
    partition = check_partition(
        data.get("partition"), data.train_split, data.get("labelled_fraction", 1.0)
    )
    roles: dict[str, list[str]] = {}
    for role in ("train", "val", "test"):
        if data[f"{role}_split"]:
            roles.setdefault(data[f"{role}_split"], []).append(role)
    splits = []
    for split, names in roles.items():
        chosen = partition if "train" in names else None
        source = f"VOC {split}" + (f", partition {chosen}" if chosen else "")
        reader = partial(_voc, data.voc_root, split, class_names, partition=chosen)
        splits.append(Split(", ".join(names), source, reader))

    def idw_split(name: str, annotations: str, **files: str | None) -> Split:
        reader = partial(
            _idw,
            data.idw_root,
            annotations,
            images=data.idw_images,
            class_names=class_names,
            **files,
        )
        return Split(name, f"IDW {annotations}", reader)

    if data.idw_root:
        hidden = {"hidden_labelmaps": data.idw_hidden_labelmaps, "clean_tags": data.idw_clean_tags}
        splits.append(idw_split("idw", data.idw_annotations, **hidden))
    if data.idw_test_annotations:
        labelmaps = data.idw_test_labelmaps
        splits.append(idw_split("idw_test", data.idw_test_annotations, labelmaps=labelmaps))
    return splits


def _listed(error: DataError) -> tuple[str, DataError]:
    """A problem found while listing a split, with its kind."""
    if isinstance(error, MissingFileError):
        return MISSING, error
    return (UNKNOWN_TAG if isinstance(error, UnknownTagError) else BAD_ENTRY), error


def _reading_kind(image: Path) -> str:
    """A sample failed to read: its image is at fault, or else one of its masks."""
    try:
        read_rgb(image)
    except DataError:
        return UNREADABLE
    return BAD_MASK


def check_split(split: Split, progress: bool | None = None) -> SplitReport:
    """Read every sample of ``split``; ``progress`` None shows a progress bar on a terminal."""
    report = SplitReport(split.name, split.source)
    listing: list[DataError] = []
    try:
        dataset = split.open(on_error=listing.append)
    except DataError as error:
        report.problems += [*map(_listed, listing), (LISTING, error)]
        return report
    report.problems += map(_listed, listing)
    disable = None if progress is None else not progress
    for index in tqdm(range(len(dataset)), desc=split.name, unit="image", disable=disable):
        try:
            dataset[index]
        except DataError as error:
            report.problems.append((_reading_kind(dataset.images[index]), error))
        else:
            report.ok += 1
    return report


def format_reports(reports: Sequence[SplitReport]) -> str:
    """The table of counts per split, then the problems of each split by kind."""
    header = ["split", "source", "images", "ok", *KINDS]
    rows = [header]
    for r in reports:
        read = [str(r.ok + len(r.problems)), str(r.ok)] if not r.count(LISTING) else ["-", "-"]
        rows.append([r.name, r.source, *read, *(str(r.count(k)) for k in KINDS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for r in reports:
        if r.problems:
            lines += ["", f"{r.name} ({r.source}): {len(r.problems)} problem(s)"]
        for kind in KINDS:
            errors = [str(error).replace("\n", "\n    ") for k, error in r.problems if k == kind]
            lines += [f"  {kind}: {message}" for message in errors[:SHOWN]]
            if len(errors) > SHOWN:
                lines.append(f"  {kind}: ... and {len(errors) - SHOWN} more")
    total = sum(len(r.problems) for r in reports)
    lines += ["", f"{total} problem(s) found" if total else "no problems found"]
    return "\n".join(lines)
