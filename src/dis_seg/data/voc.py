"""PASCAL VOC 2012 segmentation (with the SBD "aug" labelmaps) as a dataset of sample dicts.

Layout under ``root`` (the ``VOC2012`` folder)::

    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png        palette PNGs (VOC splits: train, val, trainval, ...)
    SegmentationClassAug/<id>.png     grayscale index PNGs (SBD splits: train_aug, ...)
    ImageSets/Segmentation/<split>.txt  one image id per line

A split whose name contains ``aug`` reads its masks from ``SegmentationClassAug``, any other
split from ``SegmentationClass``; ``mask_dir`` overrides the choice. Tags are derived from the
labelmap; 255 (object borders) stays ignore.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from torch.utils.data import Dataset

from dis_seg.data.files import absence, read_text, report, require_paths
from dis_seg.data.images import read_labelmap, read_rgb
from dis_seg.data.samples import make_sample
from dis_seg.data.tags import VOC_CLASSES, tags_from_labelmap
from dis_seg.errors import DataError, MissingFileError

LAYOUT = """\
VOC2012/
  JPEGImages/<id>.jpg
  SegmentationClass/<id>.png  (or SegmentationClassAug/<id>.png for *aug* splits)
  ImageSets/Segmentation/<split>.txt"""


def mask_dir_for(split: str) -> str:
    """The mask folder a split reads from: SBD ``*aug*`` splits use ``SegmentationClassAug``."""
    return "SegmentationClassAug" if "aug" in split else "SegmentationClass"


class VOCSegmentation(Dataset):
    """Images with labelmaps listed by ``ImageSets/Segmentation/<split>.txt``.

    Items are sample dicts (see :mod:`dis_seg.data.samples`), passed through ``transform``
    when given. Missing folders, list entries without image or mask, and empty splits raise
    :class:`DataError` here; unreadable files and bad mask contents when the item is read.
    With ``on_error``, entries without image or mask are handed to it
    (:class:`~dis_seg.data.files.MissingFileError`) and left out instead: ``ids`` are the
    readable entries, ``listed`` all ids of ``list_file``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        transform: Callable[[dict], dict] | None = None,
        class_names: Sequence[str] = VOC_CLASSES,
        mask_dir: str | None = None,
        on_error: Callable[[DataError], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.class_names = tuple(class_names)
        mask_dir = mask_dir or mask_dir_for(split)
        require_paths(self.root, ["JPEGImages", mask_dir, "ImageSets/Segmentation"], LAYOUT)
        self.list_file = list_file = self.root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not list_file.is_file():
            found = sorted(p.stem for p in list_file.parent.glob("*.txt"))
            raise DataError(f"{list_file}: split list not found; available splits: {found}")
        self.ids: list[str] = []
        for number, line in enumerate(read_text(list_file).splitlines(), start=1):
            if not line.strip():
                continue
            if len(line.split()) != 1:
                raise DataError(
                    f"{list_file}:{number}: expected one image id per line, got {line!r}"
                )
            self.ids.append(line.strip())
        if not self.ids:
            raise DataError(f"{list_file}: split {split!r} lists no images")
        self.listed, self.ids = self.ids, []
        self.images: list[Path] = []
        self.masks: list[Path] = []
        for number, image_id in enumerate(self.listed, start=1):
            image = self.root / "JPEGImages" / f"{image_id}.jpg"
            mask = self.root / mask_dir / f"{image_id}.png"
            absent = [path for path in (image, mask) if not path.is_file()]
            if absent:
                message = f"{list_file}:{number}: {absent[0]} {absence(absent[0])}"
                report(MissingFileError(message), on_error)
                continue
            self.ids.append(image_id)
            self.images.append(image)
            self.masks.append(mask)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        image = read_rgb(self.images[index])
        labelmap = read_labelmap(self.masks[index], len(self.class_names), image.shape[:2])
        tags = tags_from_labelmap(labelmap, len(self.class_names))
        sample = make_sample(self.ids[index], image, tags, labelmap=labelmap)
        return self.transform(sample) if self.transform else sample
