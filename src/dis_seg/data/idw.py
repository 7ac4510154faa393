"""IDW ("Image Descriptions in the Wild"): web images with image-level tags, as sample dicts.

Layout under ``root``::

    images/<name>.jpg
    annotations.jsonl            one JSON object per line:
                                 {"image": "<name>.jpg", "tags": ["person", "horse"],
                                  "description": "a man riding a horse"}
    labelmaps/<stem>.png         optional: index labelmaps (IDW test split)
    hidden_labelmaps/<stem>.png  optional: ground truth of tag-only images, never trained on
    clean_tags.jsonl             optional: {"image": ..., "tags": [...]} noise-free tags

Each line needs ``tags``, ``description`` or both; explicit ``tags`` win, otherwise the tags are
the class names found in the description (:func:`dis_seg.data.tags.tags_from_description`).
With ``labelmaps`` every image is labelled (``has_labelmap`` true). ``hidden_labelmaps`` and
``clean_tags`` give the hidden ground truth of tag-only images, used only to measure pseudo
labels and tag cleaning; when given they must cover every image.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dis_seg.data.files import absence, read_text, report, require_paths
from dis_seg.data.images import read_labelmap, read_rgb
from dis_seg.data.samples import make_sample
from dis_seg.data.tags import (
    VOC_CLASSES,
    VOC_VOCABULARY,
    tags_from_description,
    tags_to_multi_hot,
)
from dis_seg.errors import DataError, MissingFileError

LAYOUT = """\
IDW/
  images/<name>.jpg
  annotations.jsonl  ({"image": "<name>.jpg", "tags": [...], "description": "..."} per line)
  labelmaps/<stem>.png, hidden_labelmaps/<stem>.png, clean_tags.jsonl  (optional)"""


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    """(``file:line`` location, object) per non-blank line; each object needs an ``image``."""
    records = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON ({error.msg}); expected one object") from None
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            raise DataError(f'{where}: expected an object with an "image" file name, got {line!r}')
        records.append((where, record))
    return records


def _listed_tags(where: str, record: dict) -> list[str]:
    tags = record.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DataError(f'{where}: "tags" must be a list of class names, got {tags!r}')
    return tags


def _tag_names(where: str, record: dict, vocabulary: Mapping[str, Sequence[str]]) -> list[str]:
    if "tags" in record:
        return _listed_tags(where, record)
    if isinstance(record.get("description"), str):
        return sorted(tags_from_description(record["description"], vocabulary))
    raise DataError(f'{where}: expected "tags" (a list of class names) or a "description" text')


class IDWTags(Dataset):
    """Tag-only images listed in ``annotations`` (labelled when ``labelmaps`` is given).

    Items are sample dicts (see :mod:`dis_seg.data.samples`), passed through ``transform``
    when given. Layout, JSON, tag names and file existence are checked here; file contents
    when the item is read. Folder and file arguments are relative to ``root``. With
    ``on_error``, a record whose files are missing or whose tags are bad is handed to it
    and left out instead.
    """

    def __init__(
        self,
        root: str | Path,
        annotations: str = "annotations.jsonl",
        images: str = "images",
        labelmaps: str | None = None,
        transform: Callable[[dict], dict] | None = None,
        class_names: Sequence[str] = VOC_CLASSES,
        vocabulary: Mapping[str, Sequence[str]] = VOC_VOCABULARY,
        hidden_labelmaps: str | None = None,
        clean_tags: str | None = None,
        on_error: Callable[[DataError], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.class_names = tuple(class_names)
        optional = [name for name in (labelmaps, hidden_labelmaps, clean_tags) if name]
        require_paths(self.root, [images, annotations, *optional], LAYOUT)
        records = read_jsonl(self.root / annotations)
        if not records:
            raise DataError(f"{self.root / annotations}: lists no images")
        masks = [folder for folder in (labelmaps, hidden_labelmaps) if folder]
        self.ids: list[str] = []
        self.tags: list[torch.Tensor] = []
        for where, record in records:
            try:
                tags = self._entry_tags(where, record, images, masks, vocabulary)
            except DataError as error:
                report(error, on_error)
                continue
            self.ids.append(record["image"])
            self.tags.append(tags)
        twice = [image_id for image_id, n in Counter(self.ids).items() if n > 1]
        if twice:
            raise DataError(f"{self.root / annotations}: images listed twice: {twice[:5]}")
        self.images = [self.root / images / i for i in self.ids]
        self.labelmaps = self._mask_paths(labelmaps)
        self.hidden_labelmaps = self._mask_paths(hidden_labelmaps)
        self.clean_tags = self._read_clean_tags(clean_tags)

    def _entry_tags(
        self,
        where: str,
        record: dict,
        images: str,
        masks: list[str],
        vocabulary: Mapping[str, Sequence[str]],
    ) -> torch.Tensor:
        """The C multi-hot tags of one record, once its image and labelmaps are found."""
        name = Path(record["image"])
        if name.is_absolute() or ".." in name.parts:
            raise DataError(
                f'{where}: "image" must be a path inside {self.root / images}, '
                f"got {record['image']!r}"
            )
        image = self.root / images / name
        if not image.is_file():
            raise MissingFileError(f"{where}: image {image} {absence(image)}")
        for path in (self._mask_path(folder, record["image"]) for folder in masks):
            if not path.is_file():
                raise MissingFileError(
                    f"{path}: labelmap of image {record['image']!r} {absence(path)}"
                )
        return tags_to_multi_hot(_tag_names(where, record, vocabulary), self.class_names, where)

    def _mask_path(self, folder: str, image_id: str) -> Path:
        return self.root / folder / f"{Path(image_id).stem}.png"

    def _mask_paths(self, folder: str | None) -> list[Path] | None:
        if folder is None:
            return None
        return [self._mask_path(folder, i) for i in self.ids]

    def _read_clean_tags(self, file: str | None) -> list[torch.Tensor] | None:
        if file is None:
            return None
        clean = {}
        for where, record in read_jsonl(self.root / file):
            names = _listed_tags(where, record)
            clean[record["image"]] = tags_to_multi_hot(names, self.class_names, where)
        missing = [i for i in self.ids if i not in clean]
        if missing:
            raise DataError(f"{self.root / file}: no clean tags for image(s) {missing[:5]}")
        return [clean[i] for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        image = read_rgb(self.images[index])
        num_classes, size = len(self.class_names), image.shape[:2]
        labelmap = hidden = None
        if self.labelmaps is not None:
            labelmap = read_labelmap(self.labelmaps[index], num_classes, size)
        if self.hidden_labelmaps is not None:
            hidden = read_labelmap(self.hidden_labelmaps[index], num_classes, size)
        clean_tags = self.clean_tags[index].clone() if self.clean_tags is not None else None
        sample = make_sample(
            self.ids[index],
            image,
            self.tags[index].clone(),
            labelmap=labelmap,
            hidden_labelmap=hidden,
            clean_tags=clean_tags,
        )
        return self.transform(sample) if self.transform else sample
